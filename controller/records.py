"""The trial record: everything known about one candidate, kept as Optuna user attributes in the
run's study (each write is a committed transaction, so a killed driver loses nothing it wrote).

A record is written in three steps, each by one function here: `write_proposal` (the candidate and
what its spec costs, before training), `finish_trial` (the outcome, then the study is told) and
`mark_interrupted` (a trial a dead driver left running). `record_from_trial` is the one reader.

Status of a record:
  running     — proposed and being trained (or left behind by a driver that died; see --resume)
  complete    — trained; has accuracy, reward and objective values
  pruned      — stopped early by the pruner / ASHA; curve and reward so far are kept
  failed      — training failed (NaN, divergence, exception, worker killed); `failure` says why
  rejected    — over the cost cap, never trained (does not count toward the trial budget)
  interrupted — was running when the search stopped; its parameters were queued again for --resume
  queued      — enqueued (re-queued or pre-filtered), not yet started; load_trials leaves these out
"""
from __future__ import annotations

import dataclasses
import math
import os
import socket
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

FINISHED = ("complete", "pruned", "failed")  # statuses that used up a trial of the budget
INTERRUPTED_REASON = "interrupted: the search stopped while it ran; its parameters were queued again"
_TOLD_AS = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "rejected": TrialState.PRUNED,
            "failed": TrialState.FAIL, "interrupted": TrialState.FAIL}


@dataclass(frozen=True)
class Measures:
    """What a candidate costs, known from its spec before any training."""

    flops: int                        # multiply-adds at the space's resolution
    num_params: int
    latency_ms: float | None = None   # predicted by the latency table, if the search has one

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Identity:
    """Where a trial ran: pid, hostname and Ray node id (None in-process)."""

    pid: int | None = None
    hostname: str | None = None
    node_id: str | None = None

    @classmethod
    def here(cls) -> "Identity":
        node_id = None
        try:
            import ray
            if ray.is_initialized():
                node_id = ray.get_runtime_context().get_node_id()
        except Exception:  # noqa: BLE001 — Ray absent or not a Ray process: an in-process trial has no node
            node_id = None
        return cls(pid=os.getpid(), hostname=socket.gethostname(), node_id=node_id)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Outcome:
    """How a trial ended. `values` (what the study optimises) only for a complete trial."""

    status: str
    curve: tuple[dict[str, float], ...] = ()
    accuracy: float | None = None
    val_loss: float | None = None
    reward: float | None = None
    values: tuple[float, ...] | None = None
    seconds: float | None = None
    failure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["curve"] = [dict(epoch) for epoch in self.curve]
        data["values"] = None if self.values is None else list(self.values)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Outcome":
        values = data.get("values")
        return cls(**{**data, "curve": tuple(data.get("curve") or ()),
                      "values": None if values is None else tuple(values)})


def ended_status(outcome: Outcome | None, *, stopped_early: bool = False, died: bool = False) -> str:
    """The status of a trial that ended, for both executions: the outcome's own when training
    returned one; else pruned when the pruner / ASHA stopped it, failed when its process died, and
    interrupted when the search stopped it (time budget, Ctrl-C) — those are queued again."""
    if died:
        return "failed"
    if outcome is not None:
        return outcome.status
    return "pruned" if stopped_early else "interrupted"


@dataclass
class TrialRecord:
    number: int
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    arch: str = ""                       # the candidate as arch YAML (load with loads_arch)
    flops: int | None = None
    num_params: int | None = None
    latency_ms: float | None = None
    accuracy: float | None = None        # final proxy validation accuracy
    val_loss: float | None = None
    curve: list[dict[str, float]] = field(default_factory=list)
    reward: float | None = None
    values: list[float] | None = None    # what the Optuna study optimised
    seconds: float | None = None         # wall time of the evaluation
    failure: str | None = None
    pid: int | None = None
    hostname: str | None = None
    node_id: str | None = None           # Ray node id; None in-process
    started: float | None = None         # unix time
    rescore_accuracy: float | None = None  # two-stage search: the proxy-trained score (rescore.py)
    rescore_reward: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def scored(self) -> bool:
        """Complete with a finite reward: a candidate for best and Pareto."""
        return self.status == "complete" and self.reward is not None and math.isfinite(self.reward)

    @cached_property
    def spec(self):
        """The candidate as an ArchSpec, parsed once (None for a record without one)."""
        from mixsearch.search_space import loads_arch
        return loads_arch(self.arch) if self.arch else None


# The user attributes a record is stored as; `values` are the study's own, `number`/`params` the trial's.
RECORD_KEYS = tuple(f.name for f in dataclasses.fields(TrialRecord)
                    if f.name not in ("number", "params", "values", "rescore_accuracy", "rescore_reward"))


def status_counts(records: list[TrialRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts


def write_proposal(trial: optuna.Trial, arch_text: str, measures: Measures, rejection: str | None) -> None:
    """The candidate and its costs, before training: a killed driver leaves it `running`."""
    attrs = {"arch": arch_text, **measures.to_dict(), "started": time.time(),
             "status": "rejected" if rejection else "running"}
    if rejection:
        attrs["failure"] = rejection
    _set_attrs(trial, attrs)


def write_identity(trial: optuna.Trial, identity: Identity) -> None:
    """Where the trial runs, as soon as it starts (a live trial can be located)."""
    _set_attrs(trial, identity.to_dict())


def finish_trial(study: optuna.Study, trial: optuna.Trial, outcome: Outcome) -> str:
    """Write the outcome into the record, then tell the study; an interrupted trial's parameters
    are queued again for --resume. Returns the status."""
    _set_attrs(trial, {k: v for k, v in outcome.to_dict().items() if k != "values" and v is not None})
    if outcome.status == "complete":
        study.tell(trial, list(outcome.values) if len(outcome.values) > 1 else outcome.values[0])
    else:
        study.tell(trial, state=_TOLD_AS[outcome.status])
        if outcome.status == "interrupted":
            study.enqueue_trial(dict(trial.params), user_attrs={"requeued_from": trial.number}, skip_if_exists=False)
    return outcome.status


def mark_interrupted(study: optuna.Study, storage: optuna.storages.BaseStorage, trial: FrozenTrial,
                     reason: str) -> None:
    """A trial left RUNNING by a driver that died: recorded interrupted, its parameters queued again."""
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
    storage.set_trial_user_attr(trial_id, "status", "interrupted")
    storage.set_trial_user_attr(trial_id, "failure", reason)
    study.tell(trial.number, state=TrialState.FAIL)
    study.enqueue_trial(dict(trial.params), user_attrs={"requeued_from": trial.number}, skip_if_exists=False)


def _set_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def stored_status(trial: FrozenTrial) -> str:
    """The status of a stored trial: its record's, or the study state's where the record has none
    (a queued or running trial, or one whose process died before writing its outcome)."""
    status = trial.user_attrs.get("status")
    if trial.state == TrialState.WAITING:
        return "queued"
    if trial.state == TrialState.RUNNING:
        return "running"
    if trial.state == TrialState.FAIL and status not in ("failed", "interrupted"):
        return "failed"
    if status is None:
        return {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(trial.state, "failed")
    return status


def record_from_trial(trial: FrozenTrial, rescored: dict[str, Any] | None = None) -> TrialRecord:
    """The trial's record; `rescored`: its second score in a two-stage search, if it has one."""
    attrs = trial.user_attrs
    values = list(trial.values) if trial.values is not None and trial.state == TrialState.COMPLETE else None
    known = {k: attrs[k] for k in RECORD_KEYS if k in attrs and k != "status"}
    second = {"rescore_accuracy": rescored.get("accuracy"), "rescore_reward": rescored.get("reward")} if rescored else {}
    return TrialRecord(number=trial.number, status=stored_status(trial), params=dict(trial.params), values=values,
                       **known, **second)
