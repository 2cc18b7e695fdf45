"""Zero-cost pre-filter: score many random candidates at initialisation, queue only the best.

The queued trials run first (Optuna's enqueue_trial); the sampler takes over after them.
Candidates are ranked by their mean rank over the evaluator's zero-cost proxies.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .objective import CostModel


class RecordingTrial:
    """Answers a space's define-by-run `suggest_categorical` calls at random and records them."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.params: dict[str, Any] = {}

    def suggest_categorical(self, name: str, choices):
        value = choices[int(self.rng.integers(len(choices)))]
        self.params[name] = value
        return value


def prefilter_candidates(space: Any, cost_model: CostModel, proxy: Any, count: int, keep: int,
                         seed: int) -> list[dict[str, Any]]:
    """Parameters of the `keep` best of `count` random under-cap candidates, best first."""
    from mixsearch.evaluator import ZERO_COST_PROXIES, zero_cost_scores

    rng = np.random.default_rng(seed)
    candidates: list[tuple[dict[str, Any], dict[str, float]]] = []
    for _ in range(count * 20):  # bounded: over-cap draws are skipped
        if len(candidates) == count:
            break
        trial = RecordingTrial(rng)
        arch = space.suggest(trial)
        if cost_model.rejection(cost_model.measure(arch)) is None:
            candidates.append((trial.params, zero_cost_scores(arch, proxy, names=ZERO_COST_PROXIES)))
    if not candidates:
        return []
    ranks = np.zeros(len(candidates))
    for name in ZERO_COST_PROXIES:
        scores = np.array([s[name] if math.isfinite(s[name]) else -np.inf for _, s in candidates])
        ranks += np.argsort(np.argsort(-scores, kind="stable"), kind="stable")
    order = np.argsort(ranks, kind="stable")[:keep]
    return [candidates[i][0] for i in order]
