"""The search objective, shared by in-process and Ray execution.

Two halves, so a candidate over the cost cap is rejected before any training:
- `Proposer` (runs in the driver, inside an Optuna trial): the space proposes an arch, its cost is
  computed from the spec alone (exact multiply-adds, the latency table), and the trial is marked
  rejected when the cost is over its cap.
- `train_candidate` (runs wherever training runs): the evaluator trains the proxy, reporting every
  epoch through a hook the executor supplies (Optuna pruner or Ray Tune/ASHA), then the reward.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from mixsearch.search_space import ArchSpec, count_flops, count_params, dump_arch
from mixsearch.search_space.errors import MixsearchError

from .records import process_identity
from .reward import reward as mnas_reward
from .targets import format_flops

COST_METRICS = ("flops", "latency")


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

    def measure(self, arch: ArchSpec) -> dict[str, Any]:
        latency = float(self.table.predict(arch)) if self.table is not None else None
        return {"flops": int(count_flops(arch)), "num_params": int(count_params(arch)), "latency_ms": latency}

    def cost(self, measures: dict[str, Any]) -> float:
        return float(measures["latency_ms"] if self.metric == "latency" else measures["flops"])

    def rejection(self, measures: dict[str, Any]) -> str | None:
        if self.flops_cap is not None and measures["flops"] > self.flops_cap:
            return f"rejected: {format_flops(measures['flops'])} multiply-adds > cap {format_flops(self.flops_cap)}"
        if self.latency_cap is not None and measures["latency_ms"] > self.latency_cap:
            return f"rejected: {measures['latency_ms']:.2f} ms predicted > cap {self.latency_cap:.2f} ms"
        return None


class Proposer:
    """The define-by-run function: one candidate per Optuna trial, costed and maybe rejected.

    Returns the extra values a Ray trial needs (the arch YAML and its costs); in-process the same
    dict is read back. Nothing here trains, so it is cheap enough for Ray's searcher thread.
    """

    def __init__(self, space: Any, cost_model: CostModel):
        self.space = space
        self.cost_model = cost_model

    def __call__(self, trial: Any) -> dict[str, Any]:
        arch = self.space.suggest(trial)
        measures = self.cost_model.measure(arch)
        rejected = self.cost_model.rejection(measures)
        text = dump_arch(arch)
        attrs = {"arch": text, **measures, "started": time.time(),
                 "status": "rejected" if rejected else "running"}
        if rejected:
            attrs["failure"] = rejected
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return {"mixsearch_arch": text, "mixsearch_measures": measures, "mixsearch_number": trial.number,
                "mixsearch_rejected": rejected or ""}


@dataclass(frozen=True)
class Scoring:
    """How a trained candidate is scored: the proxy, the reward and the study's objective values."""

    proxy: Any                         # mixsearch.evaluator.ProxyConfig
    cost_model: CostModel = field(default_factory=CostModel)
    alpha: float = -0.07
    beta: float = -0.07
    objectives: tuple[str, ...] = ("reward",)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def directions(self) -> list[str]:
        return ["maximize" if name in ("reward", "accuracy") else "minimize" for name in self.objectives]

    def reward(self, accuracy: float, measures: dict[str, Any]) -> float:
        """MnasNet reward; with no target it is the accuracy itself."""
        target = self.cost_model.target
        if target is None:
            return float(accuracy)
        return mnas_reward(accuracy, self.cost_model.cost(measures), target, self.alpha, self.beta)

    def values(self, accuracy: float, reward: float, measures: dict[str, Any]) -> list[float]:
        table = {"reward": reward, "accuracy": accuracy, "flops": float(measures["flops"]),
                 "latency": measures["latency_ms"]}
        return [float(table[name]) for name in self.objectives]


EpochHook = Callable[[int, list, float], None]


def train_candidate(arch: ArchSpec, measures: dict[str, Any], scoring: Scoring, on_epoch: EpochHook,
                    curve: list | None = None) -> dict[str, Any]:
    """Train and score one candidate; returns the record fields of its outcome.

    on_epoch(epochs done, curve so far, reward so far) is called after every epoch; whatever it raises
    (optuna.TrialPruned, Ray stopping the trial) propagates, and `curve` (if given) keeps the
    epochs seen. A candidate that fails to train returns status 'failed' with its reason; a
    MixsearchError (e.g. a missing dataset) propagates, as it would fail every candidate.
    """
    from mixsearch.evaluator import evaluate

    curve = [] if curve is None else curve
    hook_errors: list[BaseException] = []

    def report(epoch: int, metrics: dict) -> None:
        curve.append({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))})
        accuracy = float(metrics.get("val_accuracy", float("nan")))
        try:  # the evaluator counts epochs from 0; hooks see completed epochs, from 1
            on_epoch(epoch + 1, curve, scoring.reward(accuracy, measures) if math.isfinite(accuracy) else 0.0)
        except BaseException as err:
            hook_errors.append(err)
            raise

    start = time.time()
    try:
        result = evaluate(arch, scoring.proxy, report=report)
    except MixsearchError:
        raise
    except Exception as err:  # noqa: BLE001 — an unexpected crash fails this candidate, not the search
        if any(err is hook_error for hook_error in hook_errors):
            raise
        return {"status": "failed", "failure": f"error: {type(err).__name__}: {err}", "curve": list(curve),
                "seconds": time.time() - start, **process_identity()}
    outcome: dict[str, Any] = {"curve": [dict(m) for m in result.curve] or list(curve),
                               "seconds": float(result.seconds), "val_loss": result.val_loss,
                               **process_identity()}
    accuracy = float(result.accuracy)
    if result.failure is not None or not math.isfinite(accuracy):
        reason = f"{result.failure.kind}: {result.failure.message}" if result.failure else "nan: accuracy is NaN"
        return {**outcome, "status": "failed", "failure": reason}
    reward = scoring.reward(accuracy, measures)
    return {**outcome, "status": "complete", "accuracy": accuracy, "reward": reward,
            "values": scoring.values(accuracy, reward, measures)}
