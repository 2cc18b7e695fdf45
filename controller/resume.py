"""Resuming a search: trials a dead driver left RUNNING become failed ("interrupted") and their
parameters are queued again, so nothing finished is re-run and nothing unfinished is lost."""
from __future__ import annotations

import optuna
from optuna.trial import TrialState

from .records import FINISHED, mark_interrupted, stored_status

DRIVER_STOPPED = "interrupted: the driver stopped while it ran; its parameters were queued again"


def recover_interrupted(study: optuna.Study, storage: optuna.storages.BaseStorage) -> list[int]:
    """Mark RUNNING trials interrupted, re-queue their parameters; returns their numbers."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in running:
        mark_interrupted(study, storage, trial, DRIVER_STOPPED)
    return [trial.number for trial in running]


def count_finished(study: optuna.Study) -> int:
    """Trials that used up a place in the budget (complete, pruned or failed; not rejected/interrupted)."""
    return sum(stored_status(t) in FINISHED for t in study.get_trials(deepcopy=False))
