"""The calibration is kept only when it lowers the held-out error."""
from __future__ import annotations

import pytest

from mixsearch.latency.calibrate import fit_calibration


def test_a_consistent_bias_is_corrected():
    raw = [10.0, 20.0, 30.0, 40.0, 25.0]
    fit = fit_calibration(raw, [1.2 * r for r in raw])
    assert fit["kind"] == "scale" and fit["scale"] == pytest.approx(1.2) and fit["offset_ms"] == 0
    assert fit["held_out_median_abs_error"]["scale"] == pytest.approx(0.0, abs=1e-9)
    assert fit["held_out_median_abs_error"]["none"] == pytest.approx(1 - 1 / 1.2, abs=1e-5)


def test_a_fixed_overhead_is_corrected():
    raw = [10.0, 20.0, 30.0, 40.0, 25.0, 15.0]
    fit = fit_calibration(raw, [0.8 * r + 3.0 for r in raw])
    assert fit["kind"] == "affine"
    assert (fit["scale"], fit["offset_ms"]) == (pytest.approx(0.8), pytest.approx(3.0))


def test_no_bias_means_no_calibration():
    raw = [10.0, 20.0, 30.0, 40.0, 25.0, 15.0]
    measured = [10.4, 19.2, 30.9, 38.8, 25.1, 14.6]  # errors of both signs around zero
    fit = fit_calibration(raw, measured)
    assert fit["kind"] == "none" and (fit["scale"], fit["offset_ms"]) == (1.0, 0.0)
