"""Ray Tune execution: OptunaSearch over the same define-by-run `Proposer`, the same
`train_candidate` in each Ray trial, ASHA early stopping fed by the evaluator's per-epoch reports.

The study lives in the run folder's SQLite file (OptunaSearch is given that storage); the searcher
runs in the driver and writes each trial's record there. A trial reports three kinds of results:
  phase "start"  — before training: pid, hostname, Ray node id (so a live trial can be located);
  phase "epoch"  — after each epoch: the reward so far (ASHA's metric), the curve so far;
  phase "final"  — the outcome of train_candidate (complete or failed).
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
import warnings
from pathlib import Path
from typing import Any, Callable

from optuna.trial import TrialState
from ray import tune
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from mixsearch.search_space import loads_arch

from .execution_local import MAX_CONSECUTIVE_REJECTIONS, RejectionLimitError
from .interrupts import interrupts_call
from .objective import Proposer, Scoring, train_candidate
from .records import process_identity

RECORD_FIELDS = ("status", "accuracy", "val_loss", "curve", "reward", "seconds", "failure", "pid", "hostname",
                 "node_id")


def objective_metrics(scoring: Scoring) -> list[str]:
    return list(scoring.objectives)


def ray_trainable(config: dict[str, Any], scoring: Scoring) -> None:
    """One Ray trial: train the proposed candidate, reporting start, every epoch and the outcome."""
    identity = process_identity()
    arch = loads_arch(config["mixsearch_arch"])
    measures = config["mixsearch_measures"]
    final_epoch = scoring.proxy.epochs + 1
    placeholders = {name: 0.0 for name in objective_metrics(scoring)}

    def report(phase: str, epoch: int, reward: float, record: dict[str, Any], values: dict[str, float]) -> None:
        tune.report({**placeholders, **values, "phase": phase, "epoch": epoch, "reward": float(reward),
                     "record_json": json.dumps(record), **identity})

    report("start", 0, 0.0, identity, {})
    outcome = train_candidate(arch, measures, scoring,
                              lambda epoch, curve, reward: report("epoch", epoch, reward,
                                                                  {"curve": curve, **identity}, {}))
    values = outcome.pop("values", None)
    named = dict(zip(objective_metrics(scoring), values)) if values else {}
    report("final", final_epoch, outcome.get("reward") or 0.0, {**outcome, "values": values}, named)


class RecordingOptunaSearch(OptunaSearch):
    """OptunaSearch that rejects over-cap candidates in the driver (they never become Ray trials)
    and writes each trial's record into the study before telling it."""

    def __init__(self, proposer: Proposer, scoring: Scoring, storage, study_name: str, sampler,
                 early_stopped: set[str],
                 on_finish: Callable[[str], None] = lambda status: None):
        metrics = objective_metrics(scoring)
        modes = ["max" if d == "maximize" else "min" for d in scoring.directions]
        super().__init__(space=proposer, metric=metrics if len(metrics) > 1 else metrics[0],
                         mode=modes if len(modes) > 1 else modes[0], sampler=sampler, study_name=study_name,
                         storage=storage)
        self._scoring = scoring
        self._early_stopped = early_stopped  # filled by RecordingASHA in the same driver
        self._last_results: dict[str, dict[str, Any]] = {}
        self._on_finish = on_finish
        self.rejection_error: str | None = None

    def save(self, checkpoint_path: str) -> None:
        # Tune checkpoints searchers by pickling them; this one's state is the SQLite study itself
        # (resume goes through it, never Tuner.restore), and its callbacks do not pickle.
        with open(checkpoint_path, "wb"):
            pass

    def restore(self, checkpoint_path: str) -> None:
        raise NotImplementedError("resume a mixsearch run with `mixsearch run --name X --resume`")

    def suggest(self, trial_id: str) -> dict | None:
        reason = ""
        for _ in range(MAX_CONSECUTIVE_REJECTIONS):
            with warnings.catch_warnings():  # the first proposal imports the space's code: slow, not training
                warnings.filterwarnings("ignore", message="Define-by-run function")
                config = super().suggest(trial_id)
            reason = config.get("mixsearch_rejected") if config else ""
            if not reason:
                return config
            self._ot_study.tell(self._ot_trials.pop(trial_id), state=TrialState.PRUNED)
        self.rejection_error = (f"{MAX_CONSECUTIVE_REJECTIONS} candidates in a row were over the cost cap (last: "
                                f"{reason}); raise the target or the cap (--flops-cap)")
        return Searcher.FINISHED

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None or trial_id in self._completed_trials:
            return
        self._last_results[trial_id] = {k: result.get(k) for k in ("phase", "epoch", "reward", "record_json")}
        if result.get("phase") == "start":
            for key in ("pid", "hostname", "node_id"):
                ot_trial.set_user_attr(key, result.get(key))
        elif result.get("phase") == "epoch" and not self._scoring.multi_objective:
            ot_trial.report(float(result["reward"]), step=int(result["epoch"]))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None or trial_id in self._completed_trials:
            return
        self._completed_trials.add(trial_id)
        last = self._last_results.pop(trial_id, None) or {}
        if result and result.get("phase"):
            last = result
        record = json.loads(last.get("record_json") or "{}")
        record.pop("values", None)
        values = None
        if error:
            status = "failed"
            record["failure"] = ("error: the Ray trial died (worker killed or crashed); its logs are under the "
                                 "run folder's ray/ directory")
        elif last.get("phase") == "final":
            status = record.get("status", "failed")
            if status == "complete":
                values = [float(last[name]) for name in objective_metrics(self._scoring)]
        elif trial_id in self._early_stopped:
            status = "pruned"
            record["reward"] = last.get("reward")
            record["failure"] = f"stopped early by ASHA after epoch {last.get('epoch')}"
        else:  # stopped by the time budget or Ctrl-C, or never started: run it again on --resume
            status = "interrupted"
            record["failure"] = "interrupted: the search stopped while it ran; its parameters were queued again"
        record["status"] = status
        for key in RECORD_FIELDS:
            if key in record:
                ot_trial.set_user_attr(key, record[key])
        if status == "complete":
            self._ot_study.tell(ot_trial, values if len(values) > 1 else values[0])
        elif status == "pruned":
            self._ot_study.tell(ot_trial, state=TrialState.PRUNED)
        else:
            self._ot_study.tell(ot_trial, state=TrialState.FAIL)
            if status == "interrupted":
                self._ot_study.enqueue_trial(dict(ot_trial.params), user_attrs={"requeued_from": ot_trial.number},
                                             skip_if_exists=False)
        self._on_finish(status)


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


def run_ray(proposer: Proposer, scoring: Scoring, storage, study_name: str, sampler, run_dir: Path, trials: int,
            deadline: float | None, early_stopping: bool, cpus_per_trial: float, gpus_per_trial: float,
            concurrency: int | None, on_finish: Callable[[str], None] = lambda status: None) -> None:
    """Run `trials` Ray trials (fewer if the deadline passes) on the Ray that is already connected."""
    early_stopped: set[str] = set()
    searcher = RecordingOptunaSearch(proposer, scoring, storage, study_name, sampler, early_stopped, on_finish)
    scheduler = None
    if early_stopping and not scoring.multi_objective:
        # max_t past the last epoch: ASHA stops at max_t, which would swallow the final report.
        # First rung at epoch 2 (when there are 3+), keeping the better half: the in-process median rule.
        epochs = scoring.proxy.epochs
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
