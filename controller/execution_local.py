"""In-process execution: Optuna ask -> propose (maybe reject) -> train -> tell, in this process.

Per-epoch rewards feed the study's pruner (single objective). A trial's fields are written to the
SQLite study as user attributes before it is told, so a killed driver leaves at most the trial it
was training in state RUNNING (recovered by --resume).
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from mixsearch.search_space import loads_arch

from .objective import Proposer, Scoring, train_candidate
from .records import process_identity
from .targets import TargetError

MAX_CONSECUTIVE_REJECTIONS = 200


class RejectionLimitError(TargetError):
    """Too many candidates in a row were over the cost cap."""


def propose_feasible(study: optuna.Study, proposer: Proposer, limit: int = MAX_CONSECUTIVE_REJECTIONS
                     ) -> tuple[optuna.Trial, dict[str, Any]]:
    """Ask until a candidate is under the caps; over-cap ones are told PRUNED untrained."""
    for _ in range(limit):
        trial = study.ask()
        proposal = proposer(trial)
        if not proposal["mixsearch_rejected"]:
            return trial, proposal
        study.tell(trial, state=TrialState.PRUNED)
    raise RejectionLimitError(
        f"{limit} candidates in a row were over the cost cap (last: {proposal['mixsearch_rejected']}); "
        f"raise the target or the cap (--flops-cap), or use a space with smaller networks")


def run_trial(study: optuna.Study, trial: optuna.Trial, proposal: dict[str, Any], scoring: Scoring,
              prune: bool) -> str:
    """Train one proposed candidate and tell the study; returns the record status."""
    for key, value in process_identity().items():
        trial.set_user_attr(key, value)
    arch = loads_arch(proposal["mixsearch_arch"])
    curve: list = []

    def on_epoch(epoch: int, curve_so_far: list, reward: float) -> None:
        if scoring.multi_objective:  # Optuna prunes single-objective studies only
            return
        trial.report(reward, step=epoch)
        if prune and epoch < scoring.proxy.epochs and trial.should_prune():  # after the last, nothing to save
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")

    start = time.time()
    try:
        outcome = train_candidate(arch, proposal["mixsearch_measures"], scoring, on_epoch, curve=curve)
    except optuna.TrialPruned as err:
        _set_attrs(trial, {"status": "pruned", "curve": curve, "failure": str(err), "seconds": time.time() - start,
                           "reward": _last_intermediate(trial), **process_identity()})
        study.tell(trial, state=TrialState.PRUNED)
        return "pruned"
    values = outcome.pop("values", None)
    _set_attrs(trial, outcome)
    if outcome["status"] == "complete":
        study.tell(trial, values)
    else:
        study.tell(trial, state=TrialState.FAIL)
    return outcome["status"]


def _last_intermediate(trial: optuna.Trial) -> float | None:
    frozen = trial.study._storage.get_trial(trial._trial_id)
    return frozen.intermediate_values[frozen.last_step] if frozen.last_step is not None else None


def _set_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def run_local(study: optuna.Study, proposer: Proposer, scoring: Scoring, trials: int, deadline: float | None,
              prune: bool, on_trial: Callable[[str], None] = lambda status: None,
              clock: Callable[[], float] = time.time) -> None:
    """Run up to `trials` trainings. With a `deadline` (a `clock()` value), none starts when the
    median training so far would not end before it, so the search ends near its deadline."""
    durations: list[float] = []
    for _ in range(trials):
        expected = statistics.median(durations) if durations else 0.0
        if deadline is not None and clock() + expected >= deadline:
            return
        trial, proposal = propose_feasible(study, proposer)
        start = clock()
        on_trial(run_trial(study, trial, proposal, scoring, prune))
        durations.append(clock() - start)
