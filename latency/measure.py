"""Robust timing: entries measured round-robin in small groups, whole networks end to end.

Why round-robin: timing one module in a hot loop keeps its weights and input in cache, which a
network never does; such sums came out 10-25% below the end-to-end latency here. Cycling through
a group of ~20 entries (about one network's worth of layers) evicts each one's weights between its
runs, as a forward pass does, and spreads background load over all entries of the group instead of
biasing one. Measured on MixNet-S-like networks (eager, 1 thread): median |error| of the raw sum
fell from 15% (hot loop) to 3-4% (round-robin).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from mixsearch.search_space.builder import build_model
from mixsearch.search_space.spec import ArchSpec

from .runtimes import Runtime


@dataclass(frozen=True)
class Settings:
    """How each entry or network is timed: untimed warm-up rounds, timed rounds, and the size of
    the round-robin groups (None: the runtime's default_warmup / default_runs / default_group)."""

    warmup: int | None = None
    runs: int | None = None
    group: int | None = None

    def for_runtime(self, runtime: Runtime) -> "Settings":
        return Settings(runtime.default_warmup if self.warmup is None else self.warmup,
                        runtime.default_runs if self.runs is None else self.runs,
                        self.group or runtime.default_group)

    def to_dict(self) -> dict:
        return {"warmup": self.warmup, "runs": self.runs, "group": self.group}


@dataclass(frozen=True)
class Stats:
    ms: float  # median
    iqr_ms: float  # interquartile range
    runs: int

    def to_dict(self) -> dict:
        return {"ms": round(self.ms, 5), "iqr_ms": round(self.iqr_ms, 5), "runs": self.runs}


def summarize(samples_ms: Sequence[float]) -> Stats:
    q1, median, q3 = np.percentile(np.asarray(samples_ms, dtype=float), [25, 50, 75])
    return Stats(float(median), float(q3 - q1), len(samples_ms))


def time_round_robin(runtime: Runtime, runs: Sequence[Callable[[], object]], settings: Settings) -> list[Stats]:
    """Stats of each callable, timed in rounds that call every one of them once."""
    settings = settings.for_runtime(runtime)
    if runtime.name == "cuda":  # CUDA events need their own synchronised loop per callable
        return [summarize(runtime.time_ms(run, settings.warmup, settings.runs)) for run in runs]
    samples: list[list[float]] = [[] for _ in runs]
    for round_index in range(settings.warmup + settings.runs):
        for run, timings in zip(runs, samples):
            start = runtime.now_ns()
            run()
            if round_index >= settings.warmup:
                timings.append((runtime.now_ns() - start) / 1e6)
    return [summarize(timings) for timings in samples]


def measure_arch(arch: ArchSpec, runtime: Runtime, batch: int, settings: Settings, seed: int = 0) -> Stats:
    """End-to-end latency of the whole built network (the ground truth the table predicts)."""
    settings = settings.for_runtime(runtime)
    generator = torch.Generator().manual_seed(seed)
    model = build_model(arch)
    x = torch.randn(batch, arch.in_chans, arch.resolution, arch.resolution, generator=generator)
    run = runtime.prepare(model, (x,))
    return summarize(runtime.time_ms(run, settings.warmup, settings.runs))
