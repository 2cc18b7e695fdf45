"""Resuming a search: trials a dead driver left RUNNING become failed ("interrupted") and their
parameters are queued again, so nothing finished is re-run and nothing unfinished is lost."""
from __future__ import annotations

import optuna
from optuna.trial import TrialState

from .records import FINISHED, record_from_trial


def recover_interrupted(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials interrupted, re-queue their parameters; returns their numbers."""
    numbers = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage = study._storage
        storage.set_trial_user_attr(trial._trial_id, "status", "interrupted")
        storage.set_trial_user_attr(trial._trial_id, "failure", "interrupted: the driver stopped while it ran; "
                                                                "its parameters were queued again")
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(dict(trial.params), user_attrs={"requeued_from": trial.number},
                            skip_if_exists=False)
        numbers.append(trial.number)
    return numbers


def count_finished(study: optuna.Study) -> int:
    """Trials that used up a place in the budget (complete, pruned or failed; not rejected/interrupted)."""
    return sum(record_from_trial(t).status in FINISHED for t in study.get_trials(deepcopy=False))
