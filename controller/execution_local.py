"""In-process execution: Optuna ask -> propose (maybe reject) -> train -> tell, in this process.

Per-epoch rewards feed the study's pruner (single objective). A trial's record is written to the
study before it is told, so a killed driver leaves at most the trial it was training in state
RUNNING (recovered by --resume).
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import optuna

from .objective import Proposal, Scoring, propose_feasible, train_candidate
from .records import Identity, finish_trial, write_identity


def run_trial(study: optuna.Study, proposal: Proposal, scoring: Scoring, prune: bool) -> str:
    """Train one proposed candidate and tell the study; returns the record status."""
    trial = proposal.trial
    write_identity(trial, Identity.here())

    def on_epoch(epoch: int, reward: float, metrics: dict) -> str | None:
        if scoring.multi_objective:  # Optuna prunes single-objective studies only
            return None
        trial.report(reward, step=epoch)
        if prune and epoch < scoring.epochs and trial.should_prune():  # after the last, nothing to save
            return f"pruned after epoch {epoch}"
        return None

    return finish_trial(study, trial, train_candidate(proposal.arch, proposal.measures, scoring, on_epoch))


def run_local(study: optuna.Study, space: Any, scoring: Scoring, trials: int,
              deadline: float | None, prune: bool, on_trial: Callable[[str], None] = lambda status: None,
              clock: Callable[[], float] = time.time) -> None:
    """Run up to `trials` trainings. With a `deadline` (a `clock()` value), none starts when the
    median training so far would not end before it, so the search ends near its deadline."""
    durations: list[float] = []
    for _ in range(trials):
        expected = statistics.median(durations) if durations else 0.0
        if deadline is not None and clock() + expected >= deadline:
            return
        proposal = propose_feasible(study, space, scoring.cost_model)
        start = clock()
        on_trial(run_trial(study, proposal, scoring, prune))
        durations.append(clock() - start)
