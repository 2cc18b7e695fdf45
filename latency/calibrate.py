"""Fitted calibration of a table: predicted = scale * (sum of entries) + offset_ms.

Entries are timed apart from each other, so their sum misses what a whole forward pass adds or
saves (module-call overhead between ops, the skip adds, cache state). One multiplicative term
fitted on a few end-to-end measured networks of the space captures most of it; where a fixed
part remains, an affine fit takes it. Fits
are medians, so one disturbed measurement cannot drag them, and the kind (none, scale, affine) is
chosen by leave-one-out error on those networks; the table records the evidence either way.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mixsearch.search_space.layers import resolve_layers

from mixsearch.search_space.spread import sample_across_flops

from .measure import Settings, measure_archs
from .runtimes import Runtime
from .table import LatencyTable


def fit_scale(raw_ms, measured_ms) -> tuple[float, float]:
    """measured ~ scale * raw: the median ratio."""
    return float(np.median(np.asarray(measured_ms, dtype=float) / np.asarray(raw_ms, dtype=float))), 0.0


def fit_affine(raw_ms, measured_ms) -> tuple[float, float]:
    """measured ~ scale * raw + offset, Theil-Sen (median of pairwise slopes): robust to a few
    disturbed measurements, unlike least squares."""
    x, y = np.asarray(raw_ms, dtype=float), np.asarray(measured_ms, dtype=float)
    i, j = np.triu_indices(len(x), k=1)
    keep = x[i] != x[j]
    if not keep.any():
        return fit_scale(x, y)
    slope = float(np.median((y[j] - y[i])[keep] / (x[j] - x[i])[keep]))
    return slope, float(np.median(y - slope * x))


FITS = {"scale": fit_scale, "affine": fit_affine}


def calibrate_table(table: LatencyTable, space, runtime: Runtime, count: int, seed: int,
                    settings: Settings) -> dict[str, Any] | None:
    """Measure `count` archs of the space end to end and fit the table's calibration (None if 0).

    The archs are spread over the space's whole FLOPs range (uniform samples cluster mid-range, and
    a fit on those extrapolates to the small networks a constrained search lands on), from their
    own seed stream (seed, 1) so that `validate --seed seed` never scores on the fitted networks.
    Each measurement is scaled by the reference layer timed beside it to the median of those
    reference times, which the calibration keeps (`reference_ms`) as the load its predictions hold
    at: measured beside networks, as `validate` measures it (the build's reference, timed beside
    entries, runs in another cache state).
    """
    if count <= 0:
        return None
    archs = sample_across_flops(space, count, np.random.default_rng([seed, 1]))
    raw = [table.predict_layers_raw(resolve_layers(arch)) for arch in archs]
    timings = measure_archs(archs, runtime, table.metadata["batch"], settings, seed=0,
                            reference_ms=(table.metadata.get("reference") or {}).get("ms"))
    reference_ms = float(np.median([t.reference_ms for t in timings]))
    measured = [t.stats.ms / t.load(reference_ms) for t in timings]
    return {**fit_calibration(raw, measured, seed), "reference_ms": round(reference_ms, 5)}


def fit_calibration(raw: list[float], measured: list[float], seed: int = 0) -> dict[str, Any]:
    """The calibration (none, scale or affine) with the lowest leave-one-out median |error| over
    the calibration networks; none wins ties, so a term is kept only when it measurably helps."""
    x, y = np.asarray(raw, dtype=float), np.asarray(measured, dtype=float)
    held_out = {"none": float(np.median(np.abs(x / y - 1)))}
    minimum = {"scale": 2, "affine": 4}  # networks needed to fit on all but one
    for kind, fit in FITS.items():
        if len(x) < minimum[kind] + 1:
            continue
        errors = []
        for k in range(len(x)):
            scale, offset = fit(np.delete(x, k), np.delete(y, k))
            errors.append(abs((scale * x[k] + offset) / y[k] - 1))
        held_out[kind] = float(np.median(errors))
    kind = min(held_out, key=lambda name: (held_out[name], name != "none"))
    scale, offset = FITS[kind](x, y) if kind != "none" else (1.0, 0.0)
    return {"kind": kind, "scale": round(scale, 6), "offset_ms": round(offset, 6), "fitted_on": len(x),
            "seed": seed, "held_out_median_abs_error": {k: round(v, 5) for k, v in held_out.items()},
            "raw_ms": [round(v, 4) for v in raw], "measured_ms": [round(v, 4) for v in measured]}
