"""The search objective, shared by in-process and Ray execution.

Two halves, so a candidate over the cost cap is rejected before any training:
- `propose_feasible` (runs in the driver): Optuna asks, the space proposes an arch, its cost is
  computed from the spec alone (exact multiply-adds, the latency table), and a candidate over its
  cap is told rejected untrained; the first one under the caps is the trial's `Proposal`.
- `train_candidate` (runs wherever training runs): the evaluator trains the proxy, reporting every
  epoch through a hook the executor supplies (Optuna's pruner, or Ray Tune for ASHA), then scores it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import optuna

from mixsearch.search_space import ArchSpec, count_flops, count_params, dump_arch
from mixsearch.search_space.errors import MixsearchError, UsageError

from .records import Measures, Outcome, write_proposal
from .reward import reward as mnas_reward
from .scorers import CandidateScorer
from .targets import format_flops



def cost_metric(target_latency_ms: float | None, objectives) -> str:
    """The cost a search trades accuracy against: latency when it has a latency target or
    objective, else multiply-adds."""
    return "latency" if target_latency_ms is not None or "latency" in objectives else "flops"
MAX_CONSECUTIVE_REJECTIONS = 200


class RejectionLimitError(UsageError):
    """Too many candidates in a row were over the cost cap."""


@dataclass(frozen=True)
class CostModel:
    """What is known of a candidate before training, and the caps that reject it.

    metric: the cost in the reward and in a Pareto search ("latency" when a latency target or
    objective is given, else "flops"). target: T of the reward in the metric's units (None: no
    reward target). flops_cap / latency_cap: candidates above are rejected untrained.
    """

    metric: str = "flops"
    target: float | None = None
    flops_cap: int | None = None
    latency_cap: float | None = None
    table: Any = None  # mixsearch.latency.LatencyTable or None

    def measure(self, arch: ArchSpec) -> Measures:
        latency = float(self.table.predict(arch)) if self.table is not None else None
        return Measures(flops=int(count_flops(arch)), num_params=int(count_params(arch)), latency_ms=latency)

    def cost(self, measures: Measures) -> float:
        return float(measures.latency_ms if self.metric == "latency" else measures.flops)

    def rejection(self, measures: Measures) -> str | None:
        if self.flops_cap is not None and measures.flops > self.flops_cap:
            return f"rejected: {format_flops(measures.flops)} multiply-adds > cap {format_flops(self.flops_cap)}"
        if self.latency_cap is not None and measures.latency_ms > self.latency_cap:
            return f"rejected: {measures.latency_ms:.2f} ms predicted > cap {self.latency_cap:.2f} ms"
        return None


@dataclass(frozen=True)
class Proposal:
    """A candidate under the caps, proposed by an Optuna trial."""

    trial: optuna.Trial
    arch: ArchSpec
    measures: Measures


def propose_feasible(study: optuna.Study, space: Any, cost_model: CostModel,
                     limit: int = MAX_CONSECUTIVE_REJECTIONS) -> Proposal:
    """Ask until a candidate is under the caps; each over-cap one is recorded rejected and told
    PRUNED untrained (it does not use the trial budget). Nothing here trains: cheap enough for
    Ray's searcher, which calls it in the driver."""
    reason = ""
    for _ in range(limit):
        trial = study.ask()
        arch = space.suggest(trial)
        measures = cost_model.measure(arch)
        reason = cost_model.rejection(measures)
        write_proposal(trial, dump_arch(arch), measures, reason)
        if not reason:
            return Proposal(trial, arch, measures)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    raise RejectionLimitError(
        f"{limit} candidates in a row were over the cost cap (last: {reason}); raise the target or the cap "
        f"(--flops-cap), or use a space with smaller networks")


@dataclass(frozen=True)
class Scoring:
    """How a trained candidate is scored: the proxy, the reward and the study's objective values."""

    proxy: Any                         # mixsearch.evaluator.ProxyConfig: the task (and the training, for "proxy")
    cost_model: CostModel = field(default_factory=CostModel)
    alpha: float = -0.07
    beta: float = -0.07
    objectives: tuple[str, ...] = ("reward",)
    scorer: CandidateScorer = field(default_factory=CandidateScorer)
    space: Any = None                  # the search space (a supernet scorer checks it is the supernet's)

    @property
    def epochs(self) -> int:
        """Reports per candidate: the proxy's epochs, or 1 for a supernet score."""
        return self.scorer.epochs(self.proxy)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def directions(self) -> list[str]:
        return ["maximize" if name in ("reward", "accuracy") else "minimize" for name in self.objectives]

    def reward(self, accuracy: float, measures: Measures) -> float:
        """MnasNet reward; with no target it is the accuracy itself."""
        target = self.cost_model.target
        if target is None:
            return float(accuracy)
        return mnas_reward(accuracy, self.cost_model.cost(measures), target, self.alpha, self.beta)

    def values(self, accuracy: float, reward: float, measures: Measures) -> tuple[float, ...]:
        table = {"reward": reward, "accuracy": accuracy, "flops": float(measures.flops),
                 "latency": measures.latency_ms}
        return tuple(float(table[name]) for name in self.objectives)


# on_epoch(epochs done, reward so far, the epoch's metrics) -> a reason to stop early (the
# pruner's), or None to go on.
EpochHook = Callable[[int, float, dict], "str | None"]


class _StopEarly(Exception):
    """Raised through the evaluator's report to end a training the pruner stopped."""


def train_candidate(arch: ArchSpec, measures: Measures, scoring: Scoring, on_epoch: EpochHook) -> Outcome:
    """Train and score one candidate.

    After every epoch on_epoch(epochs done, reward so far, the epoch's metrics) may return a reason to stop: the outcome
    is then `pruned`, with the curve and the reward so far. A candidate that fails to train is
    `failed` with its reason; a MixsearchError (e.g. a missing dataset) propagates, as it would fail
    every candidate. Whatever on_epoch raises (Ray stopping the trial) propagates too.
    """
    curve: list[dict[str, float]] = []
    stop: list[str] = []

    def report(epoch: int, metrics: dict) -> None:
        curve.append({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))})
        accuracy = float(metrics.get("val_accuracy", float("nan")))
        reward = scoring.reward(accuracy, measures) if math.isfinite(accuracy) else 0.0
        reason = on_epoch(epoch + 1, reward, curve[-1])  # the evaluator counts epochs from 0; hooks see epochs done
        if reason:
            stop[:] = [reason, reward]
            raise _StopEarly(reason)

    start = time.time()
    try:
        result = scoring.scorer(arch, scoring.proxy, scoring.space, report=report)
    except _StopEarly:
        return Outcome("pruned", curve=tuple(curve), reward=stop[1], failure=stop[0], seconds=time.time() - start)
    except MixsearchError:
        raise
    except Exception as err:  # noqa: BLE001 — an unexpected crash fails this candidate, not the search
        return Outcome("failed", curve=tuple(curve), failure=f"error: {type(err).__name__}: {err}",
                       seconds=time.time() - start)
    trained = {"curve": tuple(result.curve), "seconds": float(result.seconds), "val_loss": result.val_loss}
    accuracy = float(result.accuracy)
    if result.failure is not None or not math.isfinite(accuracy):
        reason = f"{result.failure.kind}: {result.failure.message}" if result.failure else "nan: accuracy is NaN"
        return Outcome("failed", failure=reason, **trained)
    reward = scoring.reward(accuracy, measures)
    return Outcome("complete", accuracy=accuracy, reward=reward, values=scoring.values(accuracy, reward, measures),
                   **trained)
