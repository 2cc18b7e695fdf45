"""Reading a run folder's trial records (safe while its driver runs)."""
from __future__ import annotations

import os
from pathlib import Path

import optuna
from optuna.trial import TrialState

from .records import TrialRecord, record_from_trial
from .rescore import RESCORED_ATTR
from .run_folder import CONFIG_FILE, RunFolderError, driver_alive, load_config
from .storage import STUDY_FILE, open_storage, study_name
from .study_check import check_study_storage


def load_trials(run_dir: str | os.PathLike) -> list[TrialRecord]:
    """Every trial of the run at `run_dir` (queued ones excepted), in order. A study that is
    missing, emptied or damaged is refused (naming what the folder still holds), never created afresh."""
    has_config = (Path(run_dir) / CONFIG_FILE).is_file()
    url = load_config(run_dir).get("storage") if has_config else None
    if url is not None and not isinstance(url, str):
        raise RunFolderError(f"{Path(run_dir) / CONFIG_FILE}: storage: got {url!r}; expected a database URL")
    if not has_config and not (Path(run_dir) / STUDY_FILE).is_file():
        raise RunFolderError(f"{run_dir}: no {STUDY_FILE}; give the folder of a search (runs/<name>)")
    name = study_name(Path(run_dir).name, url)
    check_study_storage(run_dir, url, name, must_hold_study=True, starting=driver_alive(run_dir))
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(run_dir, url))
    except KeyError:  # the storage exists but the search has not created its study yet
        raise RunFolderError(f"{run_dir}: its study holds no search yet; wait for the run to start") from None
    rescored = study.user_attrs.get(RESCORED_ATTR) or {}
    return [record_from_trial(t, rescored.get(str(t.number))) for t in study.get_trials(deepcopy=False)
            if t.state != TrialState.WAITING]
