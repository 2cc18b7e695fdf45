"""The run folder `runs/<name>/`: created (or reopened with --resume) only after the preflight
checks (writable, room on its disk), so a search never starts where it cannot save its results."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from mixsearch.search_space.arch_io import write_atomic
from mixsearch.search_space.errors import MixsearchError
from mixsearch.search_space.safe_io import InputFileError, parse_yaml, read_text

from .preflight import preflight
from .records import STUDY_FILE

CONFIG_FILE = "config.yaml"


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
