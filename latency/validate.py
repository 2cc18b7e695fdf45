"""Predicted vs measured end-to-end latency of archs of a space, per FLOPs band, with a scatter plot.

The archs are spread over the space's FLOPs range (search_space/spread.py), or uniform samples with
`spread=False`. The reference layer is timed beside every network: `load` says how much slower it
ran than when the table was built, so a validation under other load says so instead of blaming the
table.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mixsearch.search_space.cost import count_flops
from mixsearch.search_space.safe_io import write_atomic
from mixsearch.search_space.spread import sample_across_flops

from .errors import LatencyTableError
from .measure import Settings, measure_archs
from .runtimes import Runtime
from .table import LatencyTable


# Multiply-add bands the figures are reported in (the default space spans ~35M-770M at 224x224).
FLOPS_BANDS = (("< 100M", 0, 100e6), ("100-250M", 100e6, 250e6), ("> 250M", 250e6, float("inf")))
# A reference that ran this much slower or faster than at build time is worth a warning.
LOAD_TOLERANCE = 0.05


def error_summary(predicted_ms, measured_ms) -> dict[str, Any]:
    errors = np.abs(np.asarray(predicted_ms) / np.asarray(measured_ms) - 1.0)
    if not len(errors):
        return {"archs": 0}
    return {"archs": len(errors), "median_abs_error": float(np.median(errors)),
            "mean_abs_error": float(np.mean(errors)), "max_abs_error": float(np.max(errors)),
            "median_error": float(np.median(np.asarray(predicted_ms) / np.asarray(measured_ms) - 1.0)),
            "within_5pct": float(np.mean(errors <= 0.05)), "within_10pct": float(np.mean(errors <= 0.10)),
            "measured_ms_range": [float(min(measured_ms)), float(max(measured_ms))]}


@dataclass
class Validation:
    predicted_ms: list[float]
    measured_ms: list[float]
    names: list[str] = field(default_factory=list)
    flops: list[int] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)  # reference now / at build, per network

    @property
    def relative_errors(self) -> np.ndarray:
        return np.asarray(self.predicted_ms) / np.asarray(self.measured_ms) - 1.0

    @property
    def load(self) -> float:
        return float(np.median(self.loads)) if self.loads else 1.0

    def load_differs(self) -> bool:
        return abs(self.load - 1.0) > LOAD_TOLERANCE

    def bands(self, measured_ms=None) -> dict[str, dict[str, Any]]:
        measured = np.asarray(self.measured_ms if measured_ms is None else measured_ms)
        flops, predicted = np.asarray(self.flops, dtype=float), np.asarray(self.predicted_ms)
        return {name: error_summary(predicted[(flops >= lo) & (flops < hi)], measured[(flops >= lo) & (flops < hi)])
                for name, lo, hi in FLOPS_BANDS}

    def summary(self) -> dict[str, Any]:
        summary = {**error_summary(self.predicted_ms, self.measured_ms), "load": round(self.load, 4)}
        if self.flops:
            summary["bands"] = self.bands()
        if self.loads:  # what the errors would be at the calibration's load
            normalised = np.asarray(self.measured_ms) / np.asarray(self.loads)
            summary["at_build_load"] = {**error_summary(self.predicted_ms, normalised),
                                        "bands": self.bands(normalised) if self.flops else {}}
        return summary


def validate_table(table: LatencyTable, space, runtime: Runtime, count: int, seed: int,
                   settings: Settings = Settings(), progress: bool = True, spread: bool = True) -> Validation:
    """Measure `count` archs of the space (rng seed `seed`; spread over its FLOPs range unless
    spread=False) and predict each from the table."""
    from tqdm import tqdm

    if count < 1:
        raise LatencyTableError(f"--archs: got {count}, expected an integer >= 1")
    table.check_space(space)
    ours = {"runtime": runtime.name, "threads": runtime.threads, "clock": runtime.clock}
    for name, value in ours.items():
        if table.metadata.get(name, "wall") != value:
            raise LatencyTableError(f"{table.source}: metadata.{name} is {table.metadata.get(name, 'wall')!r} but "
                                    f"validation runs with {value!r}; pass --{name} {table.metadata.get(name, 'wall')}")
    rng = np.random.default_rng(seed)
    archs = sample_across_flops(space, count, rng) if spread else [space.sample(rng) for _ in range(count)]
    reference_ms = table.network_reference_ms
    result = Validation([], [])
    chunk = max(1, getattr(runtime, "jobs", 1))
    with tqdm(total=len(archs), desc="validate", unit="arch", disable=not progress) as bar:
        for start in range(0, len(archs), chunk):
            part = archs[start:start + chunk]
            for i, (arch, timing) in enumerate(zip(part, measure_archs(part, runtime, table.metadata["batch"],
                                                                       settings, seed=start,
                                                                       reference_ms=reference_ms)), start):
                result.predicted_ms.append(table.predict(arch))
                result.measured_ms.append(timing.stats.ms)
                result.loads.append(timing.load(reference_ms))
                result.flops.append(count_flops(arch))
                result.names.append(f"arch{i}")
            bar.update(len(part))
    return result


def describe(validation: Validation, table: LatencyTable) -> list[str]:
    """The lines `mixsearch latency validate` prints: overall, per FLOPs band, and the load."""
    summary = validation.summary()
    lines = [f"median |error| {summary['median_abs_error']:.1%}, within ±5%: {summary['within_5pct']:.0%}, "
             f"within ±10%: {summary['within_10pct']:.0%} over {summary['archs']} archs"]
    for name, band in summary.get("bands", {}).items():
        if band["archs"]:
            lines.append(f"  {name:>9} MAdds: {band['archs']:>3} archs, median |error| {band['median_abs_error']:.1%}, "
                         f"within ±10%: {band['within_10pct']:.0%}, median error {band['median_error']:+.1%}")
    reference = table.network_reference_ms
    if reference and validation.load_differs():
        at_build = summary["at_build_load"]
        lines.append(f"the machine's load differs from the build's: the reference layer ran {validation.load:.2f}x "
                     f"its {reference:.3f} ms when the table was calibrated; at that load the table would be within ±10% "
                     f"for {at_build['within_10pct']:.0%} (median |error| {at_build['median_abs_error']:.1%})")
    elif not reference:
        lines.append("the table records no reference layer (built by an older mixsearch): load not compared")
    return lines


def scatter_plot(validation: Validation, path: str | os.PathLike, title: str) -> None:
    """Predicted vs measured, the identity line and the ±10% band, written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured, predicted = np.asarray(validation.measured_ms), np.asarray(validation.predicted_ms)
    lo, hi = 0.9 * min(measured.min(), predicted.min()), 1.1 * max(measured.max(), predicted.max())
    line = np.array([lo, hi])
    summary = validation.summary()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.fill_between(line, 0.9 * line, 1.1 * line, color="tab:green", alpha=0.15, label="±10%")
    ax.plot(line, line, color="black", linewidth=0.8, label="predicted = measured")
    ax.scatter(measured, predicted, s=12, color="tab:blue")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="measured latency (ms)", ylabel="predicted latency (ms)",
           title=f"{title}\nmedian |err| {summary['median_abs_error']:.1%}, "
                 f"within ±10%: {summary['within_10pct']:.0%} (n={summary['archs']})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())


def runtime_of(table: LatencyTable, jobs: int | None = None) -> Runtime:
    """A runtime with the settings the table was measured with."""
    from .runtimes import make_runtime

    meta = table.metadata
    return make_runtime(meta["runtime"], meta["threads"], meta.get("clock", "wall"), jobs=jobs)


def predicted_and_measured(table: LatencyTable, archs, settings: Settings = Settings()
                           ) -> list[tuple[float, float, float]]:
    """(predicted, freshly measured, load) ms of each arch, measured with the table's runtime settings."""
    runtime = runtime_of(table)
    reference_ms = table.network_reference_ms
    try:
        timings = measure_archs(list(archs), runtime, table.metadata["batch"], settings, reference_ms=reference_ms)
    finally:
        runtime.close()
    return [(table.predict(arch), t.stats.ms, t.load(reference_ms)) for arch, t in zip(archs, timings)]
