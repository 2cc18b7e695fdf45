"""Robust timing: entries measured round-robin in small groups, whole networks end to end, and a
fixed reference layer timed beside both to follow the machine's load.

Why round-robin: timing one module in a hot loop keeps its weights and input in cache, which a
network never does; such sums came out 10-25% below the end-to-end latency here. Cycling through
a group of ~20 entries (about one network's worth of layers) evicts each one's weights between its
runs, as a forward pass does, and spreads background load over all entries of the group instead of
biasing one. Measured on MixNet-S-like networks (eager, 1 thread): median |error| of the raw sum
fell from 15% (hot loop) to 3-4% (round-robin).

Why a reference: load from other processes slows every entry of a group alike (shared caches and
memory bandwidth, and the cores themselves under a wall clock). The reference layer runs in every
group, so each group's entries are scaled by (the table's reference time) / (reference in this
group); a table built through a change of load stays consistent. Beside a whole network the
reference is timed in its own loop right after the network, not interleaved with it: interleaved,
each of its runs follows a network that evicted its weights, and it ran 3-13% slower on a quiet
machine, more after bigger networks (ONNX Runtime), which read as load and biased every
calibrated prediction low. The calibration keeps the reference time measured beside its networks
(`calibration.reference_ms`), and `validate` compares against that, so the two are taken alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from mixsearch.search_space.builder import build_layer, build_model
from mixsearch.search_space.layers import BlockLayer
from mixsearch.search_space.spec import ArchSpec

from .runtimes import Runtime

# MixNet-S's fifth layer (56x56x24 -> 28x28x40, expand to 144, MixConv 3.5.7, SE, swish): every op
# kind of a table in one layer of about a millisecond.
REFERENCE_LAYER = BlockLayer(block_type="ir", in_chs=24, mid_chs=144, out_chs=40, in_size=56, kernels=(3, 5, 7),
                             stride=2, dilation=1, split="equal", exp_groups=1, proj_groups=1, se_chs=12, act="swish")


# A network whose reference layer ran this far from the expected time is timed again (measure_archs).
RETRY_LOAD = 0.10
RETRIES = 2


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


@dataclass(frozen=True)
class NetworkTiming:
    """A network's end-to-end latency and the reference layer's, timed right after it."""

    stats: Stats
    reference_ms: float

    def load(self, reference_ms: float | None) -> float:
        """How much slower the reference ran than `reference_ms` (a table's
        `network_reference_ms`; 1.0: same load)."""
        return self.reference_ms / reference_ms if reference_ms else 1.0


def summarize(samples_ms: Sequence[float]) -> Stats:
    q1, median, q3 = np.percentile(np.asarray(samples_ms, dtype=float), [25, 50, 75])
    return Stats(float(median), float(q3 - q1), len(samples_ms))


def null_entry():
    """The cheapest call through a runtime: one ReLU of one value (its per-call overhead)."""
    return torch.nn.ReLU(), (torch.ones(1, 1, 1, 1),)


def call_overhead_ms(runtime: Runtime, settings: Settings) -> float:
    """What one call of a prepared entry costs beyond its work (0 where no per-call cost is counted)."""
    if not runtime.per_call_overhead:
        return 0.0
    settings = settings.for_runtime(runtime)
    run = runtime.prepare(*null_entry())
    return summarize(runtime.time_ms(run, settings.warmup, 4 * settings.runs)).ms


def reference_entry(batch: int, generator: torch.Generator):
    module = build_layer(REFERENCE_LAYER).eval()
    return module, (torch.randn(batch, REFERENCE_LAYER.in_chs, REFERENCE_LAYER.in_size, REFERENCE_LAYER.in_size,
                                generator=generator),)


def measure_archs(archs: Sequence[ArchSpec], runtime: Runtime, batch: int, settings: Settings,
                  seed: int = 0, reference_ms: float | None = None, retries: int = RETRIES) -> list[NetworkTiming]:
    """End-to-end latency of each whole built network (the ground truth a table predicts), each
    followed by the reference layer in its own loop (module docstring). Networks are prepared a few
    at a time (runtime.prepare_many: XNNPACK lowers them in worker processes) and timed one by one.

    reference_ms: the reference's time at the load the caller expects; a network whose reference
    ran more than RETRY_LOAD off it is timed again (at most `retries` times) and the timing whose
    load was nearest 1 kept, so a burst of another job's work does not stand for the network."""
    settings = settings.for_runtime(runtime)
    generator = torch.Generator().manual_seed(seed)
    reference = runtime.prepare(*reference_entry(batch, generator))
    chunk = max(1, getattr(runtime, "jobs", 1))
    timings = []

    def timed(run) -> NetworkTiming:
        network = summarize(runtime.time_ms(run, settings.warmup, settings.runs))
        return NetworkTiming(network, summarize(runtime.time_ms(reference, settings.warmup, settings.runs)).ms)

    def off(timing: NetworkTiming) -> float:
        return abs(timing.load(reference_ms) - 1.0)

    for start in range(0, len(archs), chunk):
        made = []
        for offset, arch in enumerate(archs[start:start + chunk]):
            x = torch.randn(batch, arch.in_chans, arch.resolution, arch.resolution,
                            generator=torch.Generator().manual_seed(seed + start + offset))
            made.append((build_model(arch).eval(), (x,)))
        for run in runtime.prepare_many(made):
            best = timed(run)
            for _ in range(retries if reference_ms else 0):
                if off(best) <= RETRY_LOAD:
                    break
                best = min(best, timed(run), key=off)
            timings.append(best)
    return timings


def measure_arch(arch: ArchSpec, runtime: Runtime, batch: int, settings: Settings, seed: int = 0) -> Stats:
    """End-to-end latency of one whole built network."""
    return measure_archs([arch], runtime, batch, settings, seed)[0].stats
