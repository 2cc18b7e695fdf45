"""Checks run before a search touches anything: the run folder can be created and written, its disk
has room, and the Ray cluster (if any) is listening. Each failure is a one-line MixsearchError
naming the path or address, what was found and the fix. Nothing is left behind by a check.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from mixsearch.search_space.errors import MixsearchError

# A run folder holds a SQLite study, a few YAML/CSV/PNG files and Ray's per-trial logs.
DEFAULT_MIN_FREE_BYTES = 256 * 2**20


class PreflightError(MixsearchError):
    """The machine is not ready for the search (folder, disk, cluster)."""


def _existing_ancestor(path: Path) -> Path:
    """The deepest existing path on the way to `path` (path itself when it exists)."""
    current = path
    for _ in range(len(path.parts) + 1):  # bounded by the path's depth
        if current.exists() or current == current.parent:
            return current
        current = current.parent
    return current


def _format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def check_run_folder(run_dir: str | os.PathLike) -> Path:
    """Raise PreflightError unless `run_dir` exists as a writable folder or can be created.

    Probes by creating and removing a file in the run folder or, if it does not exist yet, in its
    deepest existing ancestor; creates nothing that stays. Returns that probed folder.
    """
    run_dir = Path(run_dir).absolute()
    anchor = _existing_ancestor(run_dir)
    if not anchor.is_dir():
        raise PreflightError(
            f"run folder {run_dir}: {anchor} is a file, not a folder; pass a --runs-dir whose parents are "
            "folders, or move that file"
        )
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise PreflightError(
            f"run folder {run_dir}: {anchor} is not writable by this user; choose another --runs-dir or "
            f"grant write access (chmod u+w {anchor})"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".mixsearch-probe-", dir=anchor)
        try:
            os.write(fd, b"probe")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as err:
        raise PreflightError(
            f"run folder {run_dir}: cannot write in {anchor} ({err.strerror or err}); choose another "
            "--runs-dir or free/remount that disk"
        ) from None
    return anchor


def check_free_space(run_dir: str | os.PathLike, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES) -> int:
    """Raise PreflightError if the disk holding `run_dir` has less than `min_free_bytes` free.

    Returns the free bytes found."""
    run_dir = Path(run_dir).absolute()
    anchor = _existing_ancestor(run_dir)
    free = shutil.disk_usage(anchor if anchor.is_dir() else anchor.parent).free
    if free < min_free_bytes:
        raise PreflightError(
            f"run folder {run_dir}: only {_format_bytes(free)} free on its disk, a search needs at least "
            f"{_format_bytes(min_free_bytes)}; free some space or choose a --runs-dir on another disk"
        )
    return free


def check_ray_address(address: str | None) -> None:
    """Raise PreflightError-style (RayClusterError) unless a Ray head answers at HOST:PORT; None passes."""
    if address is None:
        return
    from .ray_cluster import check_ray_head

    check_ray_head(address)


def preflight(run_dir: str | os.PathLike, ray_address: str | None = None,
              min_free_bytes: int = DEFAULT_MIN_FREE_BYTES) -> None:
    """Every check, cheapest first. Call before the run folder is created."""
    check_run_folder(run_dir)
    check_free_space(run_dir, min_free_bytes)
    check_ray_address(ray_address)
