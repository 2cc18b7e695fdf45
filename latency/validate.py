"""Predicted vs measured end-to-end latency of random archs of a space, with a scatter plot."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mixsearch.search_space.safe_io import write_atomic

from .errors import LatencyTableError
from .measure import Settings, measure_arch
from .runtimes import Runtime
from .table import LatencyTable


@dataclass
class Validation:
    predicted_ms: list[float]
    measured_ms: list[float]
    names: list[str] = field(default_factory=list)

    @property
    def relative_errors(self) -> np.ndarray:
        return np.asarray(self.predicted_ms) / np.asarray(self.measured_ms) - 1.0

    def summary(self) -> dict[str, Any]:
        errors = np.abs(self.relative_errors)
        return {"archs": len(errors), "median_abs_error": float(np.median(errors)),
                "mean_abs_error": float(np.mean(errors)), "max_abs_error": float(np.max(errors)),
                "within_5pct": float(np.mean(errors <= 0.05)), "within_10pct": float(np.mean(errors <= 0.10)),
                "measured_ms_range": [float(min(self.measured_ms)), float(max(self.measured_ms))]}


def validate_table(table: LatencyTable, space, runtime: Runtime, count: int, seed: int,
                   settings: Settings = Settings(), progress: bool = True) -> Validation:
    """Measure `count` random archs of the space (rng seed `seed`) and predict each from the table."""
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
    result = Validation([], [])
    for i in tqdm(range(count), desc="validate", unit="arch", disable=not progress):
        arch = space.sample(rng)
        result.predicted_ms.append(table.predict(arch))
        result.measured_ms.append(measure_arch(arch, runtime, table.metadata["batch"], settings, seed=i).ms)
        result.names.append(f"arch{i}")
    return result


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
