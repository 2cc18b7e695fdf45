"""Architectures spread evenly over a space's range of multiply-adds.

`SearchSpace.sample` draws every choice uniformly, so its networks cluster around the middle of the
space's FLOPs range; the small networks a latency-constrained search ends up with are rare in such a
sample. Here a pool is drawn with each draw's choices tilted towards their first or last values (a
tilt per draw, uniform in [-TILT, TILT]: the small and large ends of a dimension's choices), and
from it the archs nearest to evenly spaced FLOPs targets are kept.
"""
from __future__ import annotations

import numpy as np

from .cost import count_flops
from .spec import ArchSpec

TILT = 4.0
POOL_PER_ARCH = 20
MIN_POOL = 2000


def tilted_sample(space, rng: np.random.Generator, tilt: float) -> ArchSpec:
    """Each choice with probability ~ exp(tilt * position / last position): 0 is uniform."""
    sizes = np.asarray(space.choice_sizes)
    uniform = rng.random(len(sizes))
    vector = np.zeros(len(sizes), dtype=int)
    for size in np.unique(sizes):
        weights = np.exp(tilt * np.arange(size) / max(1, size - 1))
        cdf = np.cumsum(weights) / weights.sum()
        where = sizes == size
        vector[where] = np.minimum(np.searchsorted(cdf, uniform[where], side="right"), size - 1)
    return space.decode([int(i) for i in vector])


def sample_across_flops(space, count: int, rng: np.random.Generator) -> list[ArchSpec]:
    """`count` distinct archs whose multiply-adds are spread evenly on a log scale over what a tilted
    pool reaches (as many networks from 40M to 100M as from 100M to 250M), in increasing FLOPs."""
    if count < 1:
        return []
    pool = {}
    for _ in range(max(MIN_POOL, POOL_PER_ARCH * count)):
        arch = tilted_sample(space, rng, float(rng.uniform(-TILT, TILT)))
        pool.setdefault(arch, count_flops(arch))
    archs = list(pool)
    flops = np.array([pool[a] for a in archs], dtype=float)
    targets = np.geomspace(flops.min(), flops.max(), count) if count > 1 else [np.median(flops)]
    free = np.ones(len(archs), dtype=bool)
    chosen = []
    for target in targets:
        if not free.any():
            break
        distance = np.where(free, np.abs(flops - target), np.inf)
        index = int(np.argmin(distance))
        free[index] = False
        chosen.append(index)
    return [archs[i] for i in sorted(chosen, key=lambda i: flops[i])]
