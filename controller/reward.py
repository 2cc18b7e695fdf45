"""The MnasNet reward: ACC x (COST / T) ** w, w = alpha if COST <= T else beta.

COST is the predicted latency when a latency target is given, otherwise the multiply-adds.
Soft (alpha = beta = -0.07): doubling the cost is worth about 5% relative accuracy, on both sides of
the target. Hard (alpha = 0, beta = -1): no bonus under the target, ACC * T / COST over it.
"""
from __future__ import annotations

import math

from mixsearch.search_space.errors import UsageError

REWARD_PRESETS: dict[str, tuple[float, float]] = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}


def reward_exponents(kind: str, alpha: float | None = None, beta: float | None = None) -> tuple[float, float]:
    """(alpha, beta) of a preset, each overridable."""
    if kind not in REWARD_PRESETS:
        raise UsageError(f"--reward: got {kind!r}, allowed: {', '.join(REWARD_PRESETS)}")
    preset_alpha, preset_beta = REWARD_PRESETS[kind]
    return (preset_alpha if alpha is None else float(alpha), preset_beta if beta is None else float(beta))


def reward(accuracy: float, cost: float, target: float, alpha: float = -0.07, beta: float = -0.07) -> float:
    """MnasNet's multi-objective reward of one candidate (higher is better)."""
    if not target > 0 or not cost > 0:
        raise ValueError(f"reward needs a positive cost and target, got cost={cost!r}, target={target!r}")
    if not math.isfinite(accuracy):
        return float("nan")
    exponent = alpha if cost <= target else beta
    return float(accuracy) * (float(cost) / float(target)) ** exponent
