"""The run folder `runs/<name>/`: created (or reopened with --resume) only after the preflight
checks (writable, room on its disk), so a search never starts where it cannot save its results."""
from __future__ import annotations

import errno
import fcntl
import os
import re
import socket
from pathlib import Path
from typing import Any

import yaml

from mixsearch.search_space.arch_io import write_atomic
from mixsearch.search_space.errors import MixsearchError
from mixsearch.search_space.safe_io import InputFileError, parse_yaml, read_text

from .preflight import preflight
from .storage import STUDY_FILE

CONFIG_FILE = "config.yaml"
LOCK_FILE = "driver.lock"  # flock'ed by the run's driver; the kernel releases it when the driver dies


class RunFolderError(MixsearchError):
    """The run folder is missing, already used, unwritable or on a full disk."""


def check_name(name: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise RunFolderError(f"--name: got {name!r}; use letters, digits, '.', '_' or '-' (e.g. flops300m)")


def prepare_run_folder(runs_dir: str | os.PathLike, name: str, resume: bool, ray_address: str | None = None) -> Path:
    """The run folder, created for a new run or checked for a resumed one, after the preflight
    checks (writable, room on its disk, Ray address listening); raises before any search."""
    check_name(name)
    folder = Path(runs_dir) / name
    started = (folder / CONFIG_FILE).is_file() or (folder / STUDY_FILE).is_file()
    if resume and not started:
        raise RunFolderError(f"{folder}: no search to resume there; drop --resume to start run {name!r}")
    if not resume and started:
        raise RunFolderError(f"{folder}: a search named {name!r} already exists; add --resume to continue it "
                             f"or choose another --name")
    preflight(folder, ray_address)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"{folder}: cannot create the run folder ({err.strerror}); "
                             f"choose a writable --runs-dir") from None
    return folder


def save_config(folder: Path, config: dict[str, Any]) -> None:
    write_atomic(folder / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))


def load_config(folder: str | os.PathLike) -> dict[str, Any]:
    if not Path(folder).is_dir():
        raise RunFolderError(f"{folder}: not a run folder; give the folder of a search (runs/<name>)")
    path = Path(folder) / CONFIG_FILE
    try:
        data = parse_yaml(read_text(path, "a run config (config.yaml)"), str(path))
    except InputFileError as err:
        raise RunFolderError(f"{err}; give the folder of a search (runs/<name>), this one is damaged or "
                             "not a run folder") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path}: expected a mapping of search settings; the run folder is damaged")
    return data


class RunLock:
    """The run's driver lock (see `lock_run`); `release()` or process exit frees it."""

    def __init__(self, fd: int):
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = -1


def lock_run(folder: Path) -> RunLock:
    """One driver per run: an exclusive flock on the run folder's driver.lock, refused at once when
    another live driver holds it. The lock belongs to the open file, so a driver that dies (kill -9,
    crash, power off) holds nothing; there is no stale lock to remove."""
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise RunFolderError(f"{path}: cannot create the run's lock file ({err.strerror}); "
                             "choose a writable --runs-dir") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunFolderError(f"{path}: cannot lock the run ({err.strerror}); use a --runs-dir on a local "
                                 "disk") from None
        raise RunFolderError(f"{folder}: the run is in use by another driver ({holder}); wait for it to end or "
                             "stop it, then --resume (one driver per run)") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
    return RunLock(fd)


def driver_alive(folder: str | os.PathLike) -> bool:
    """Whether a live driver holds the run's lock. Only for choosing a message, so it never takes
    the lock (a reader must not make a starting driver fail): on Linux it looks the lock up in
    /proc/locks, elsewhere it asks whether the pid the lock file names still runs on this host."""
    path = Path(folder) / LOCK_FILE
    try:
        info = os.stat(path)
        holder = path.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as table:
            lines = table.read().splitlines()
    except OSError:
        lines = None
    if lines is not None:
        wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
        return any("FLOCK" in line.split() and wanted in line.split() for line in lines)
    if len(holder) != 4 or holder[0] != "pid" or holder[3] != socket.gethostname() or not holder[1].isdigit():
        return False
    try:
        os.kill(int(holder[1]), 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, owned by someone else
        return True
    return True
