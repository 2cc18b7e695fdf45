"""Ray Tune execution: a Tune `Searcher` on the run's Optuna study (ask/tell, the same
`propose_feasible` as in-process), the same `train_candidate` in each Ray trial, ASHA early stopping
fed by the evaluator's per-epoch reports.

The searcher runs in the driver: it proposes (over-cap candidates never become Ray trials), and
writes each trial's record into the study before telling it. A trial reports three kinds of results:
  phase "start"  — before training: pid, hostname, Ray node id (so a live trial can be located);
  phase "epoch"  — after each epoch: the reward so far (ASHA's metric) and the epoch's metrics;
  phase "final"  — the outcome of train_candidate (complete, failed).
Failures (an exception, NaN, a killed worker) are not retried: the trial is recorded as failed with
its reason and counts toward the budget (FailureConfig(max_failures=0)). Trials stopped by ASHA are
"pruned" (they count); trials cut off by the time budget or Ctrl-C, or never started, are recorded
"interrupted" and their parameters queued for --resume.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import Searcher

from .interrupts import interrupts_call
from .objective import RejectionLimitError, Scoring, propose_feasible, train_candidate
from .records import INTERRUPTED_REASON, Identity, Outcome, ended_status, finish_trial, write_identity

DIED_REASON = "error: the Ray trial died (worker killed or crashed); its logs are under the run folder's ray/ directory"


def _nested(result: dict[str, Any], key: str) -> dict[str, Any]:
    """Tune hands a searcher each result with its nested dicts flattened ("outcome/status"); one back."""
    prefix = key + "/"
    return {name[len(prefix):]: value for name, value in result.items() if name.startswith(prefix)}


def ray_trainable(config: dict[str, Any], scoring: Scoring) -> None:
    """One Ray trial: train the proposed candidate (an ArchSpec and its Measures, pickled by Ray
    at this boundary), reporting its start, every epoch and its outcome."""
    identity = Identity.here()
    tune.report({"phase": "start", "epoch": 0, "reward": 0.0, **identity.to_dict()})

    def on_epoch(epoch: int, reward: float, metrics: dict[str, float]) -> None:
        tune.report({"phase": "epoch", "epoch": epoch, "reward": float(reward), "metrics": metrics})

    outcome = train_candidate(config["arch"], config["measures"], scoring, on_epoch)
    tune.report({"phase": "final", "epoch": scoring.epochs + 1, "reward": float(outcome.reward or 0.0),
                 "outcome": outcome.to_dict()})


class StudySearcher(Searcher):
    """Tune's searcher on the run's study: each suggestion is an Optuna ask (over-cap candidates
    are rejected here, in the driver); each trial's record is written and the study told when
    Tune ends the trial."""

    def __init__(self, study: optuna.Study, space: Any, scoring: Scoring, early_stopped: set[str],
                 on_finish: Callable[[str], None] = lambda status: None):
        super().__init__()  # no metric or mode: the study knows its directions, ASHA has its own
        self.study, self.space, self.scoring = study, space, scoring
        self.early_stopped = early_stopped  # filled by RecordingASHA in the same driver
        self.on_finish = on_finish
        self.live: dict[str, optuna.Trial] = {}
        self.curves: dict[str, list[dict[str, float]]] = {}
        self.last: dict[str, dict[str, Any]] = {}
        self.rejection_error: str | None = None

    def suggest(self, trial_id: str) -> dict | None:
        try:
            proposal = propose_feasible(self.study, self.space, self.scoring.cost_model)
        except RejectionLimitError as err:
            self.rejection_error = str(err)
            return Searcher.FINISHED
        self.live[trial_id], self.curves[trial_id] = proposal.trial, []
        return {"arch": proposal.arch, "measures": proposal.measures}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        trial = self.live.get(trial_id)
        if trial is None:
            return
        self.last[trial_id] = result
        if result.get("phase") == "start":
            write_identity(trial, Identity(result.get("pid"), result.get("hostname"), result.get("node_id")))
        elif result.get("phase") == "epoch":
            self._add_epoch(trial_id, trial, result)

    def _add_epoch(self, trial_id: str, trial: optuna.Trial, result: dict) -> None:
        self.curves[trial_id].append(_nested(result, "metrics"))
        if not self.scoring.multi_objective:
            trial.report(float(result["reward"]), step=int(result["epoch"]))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        trial = self.live.pop(trial_id, None)
        if trial is None:
            return
        last = result if result and result.get("phase") else self.last.get(trial_id, {})
        self.last.pop(trial_id, None)
        if last.get("phase") == "epoch" and int(last["epoch"]) > len(self.curves[trial_id]):
            self._add_epoch(trial_id, trial, last)  # the epoch ASHA stopped it at reaches only this call
        final = Outcome.from_dict(_nested(last, "outcome")) if last.get("phase") == "final" else None
        status = ended_status(final, stopped_early=trial_id in self.early_stopped, died=error)
        curve = tuple(self.curves.pop(trial_id))
        if final is not None and not error:
            outcome = final
        elif status == "pruned":
            outcome = Outcome(status, curve=curve, reward=last.get("reward"),
                              failure=f"stopped early by ASHA after epoch {last.get('epoch')}")
        else:
            outcome = Outcome(status, curve=curve, failure=DIED_REASON if error else INTERRUPTED_REASON)
        self.on_finish(finish_trial(self.study, trial, outcome))

    def save(self, checkpoint_path: str) -> None:
        # Tune checkpoints its searcher; this one's state is the study itself (resume goes through
        # it, never Tuner.restore), so the checkpoint only says where the study is.
        with open(checkpoint_path, "w", encoding="utf-8") as out:
            json.dump({"study": self.study.study_name}, out)

    def restore(self, checkpoint_path: str) -> None:
        raise NotImplementedError("resume a mixsearch run with `mixsearch run --name X --resume`")


class InterruptStopper(tune.Stopper):
    """Stops the whole Tune run once `interrupt()` was called (by the SIGINT handler). Tune then
    stops every trial through the searcher, which records them "interrupted" and queues them again."""

    def __init__(self) -> None:
        self.interrupted = False

    def interrupt(self) -> None:
        self.interrupted = True

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self.interrupted

    def stop_all(self) -> bool:
        return self.interrupted


class RecordingASHA(ASHAScheduler):
    """ASHA that notes which trials it stopped, so the searcher can tell an early stop (pruned,
    counts toward the budget) from a stop by the time budget or Ctrl-C (interrupted, re-queued)."""

    def __init__(self, early_stopped: set[str], last_epoch: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.early_stopped = early_stopped
        self.last_epoch = last_epoch

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        if result.get("phase") == "start" or result.get("epoch", 0) >= self.last_epoch:
            return TrialScheduler.CONTINUE  # nothing to save by stopping: let it report its outcome
        if decision == TrialScheduler.STOP:
            self.early_stopped.add(trial.trial_id)
        return decision


def run_ray(study: optuna.Study, space: Any, scoring: Scoring, run_dir: Path, trials: int, deadline: float | None,
            early_stopping: bool, cpus_per_trial: float, gpus_per_trial: float, concurrency: int | None,
            on_finish: Callable[[str], None] = lambda status: None) -> None:
    """Run `trials` Ray trials (fewer if the deadline passes) on the Ray that is already connected."""
    early_stopped: set[str] = set()
    searcher = StudySearcher(study, space, scoring, early_stopped, on_finish)
    scheduler = None
    if early_stopping and not scoring.multi_objective and scoring.epochs > 1:
        # max_t past the last epoch: ASHA stops at max_t, which would swallow the final report.
        # First rung at epoch 2 (when there are 3+), keeping the better half: the in-process median rule.
        epochs = scoring.epochs
        scheduler = RecordingASHA(early_stopped, epochs, metric="reward", mode="max", time_attr="epoch",
                                  max_t=epochs + 1, grace_period=2 if epochs >= 3 else 1, reduction_factor=2)
    proxy = scoring.proxy
    if proxy.threads is None:  # a trial uses the cores it was given, not every core of its node
        proxy = proxy.replace(threads=max(1, int(cpus_per_trial)))
    trainable = tune.with_parameters(ray_trainable, scoring=dataclasses.replace(scoring, proxy=proxy))
    trainable = tune.with_resources(trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial})
    budget_s = None if deadline is None else max(1.0, deadline - time.time())
    # The classic reporter honours verbose=0; the newer one prints tables regardless. Our own
    # progress bar and summary report the search.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Tune's own SIGINT handler ends the run as if it had finished (the driver then exited 0 and its
    # live trials stayed "running"); ours stops the trials through the searcher and tells the caller.
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    stopper = InterruptStopper()
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=trials,
                                    max_concurrent_trials=concurrency, time_budget_s=budget_s,
                                    reuse_actors=True),  # a worker keeps torch and the data loaded
        run_config=tune.RunConfig(name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}",
                                  storage_path=str((run_dir / "ray").resolve()),
                                  failure_config=tune.FailureConfig(max_failures=0), verbose=0,
                                  stop=stopper),
    )
    with interrupts_call(stopper.interrupt, "mixsearch: stopping the Ray trials; they are recorded as "
                                            "interrupted and queued again for --resume"):
        tuner.fit()
    if stopper.interrupted:
        raise KeyboardInterrupt
    if searcher.rejection_error:
        raise RejectionLimitError(searcher.rejection_error)
