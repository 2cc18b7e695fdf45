"""The calibration is kept only when it lowers the held-out error."""
from __future__ import annotations

import pytest

from mixsearch.latency.calibrate import fit_calibration

from .conftest import ScriptedRuntime


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


def test_calibration_networks_are_normalised_to_their_own_median_reference(eager_table_path, tiny_space,
                                                                          fast_settings):
    """The reference beside networks runs in another cache state than beside the build's entries:
    the calibration keeps its own (median) reference time, and validation's load is relative to it."""
    from mixsearch.latency import load_table, validate_table
    from mixsearch.latency.calibrate import calibrate_table

    table = load_table(eager_table_path)
    table.metadata["reference"]["ms"] = 1.9  # beside the build's entries
    calibration = calibrate_table(table, tiny_space, ScriptedRuntime([1.8, 2.0, 2.05]), 3, 0, fast_settings)
    assert calibration["reference_ms"] == 2.0
    assert calibration["measured_ms"] == [10.0, 10.0, 10.0]  # 5 ms x load, brought to load 2.0
    table.set_calibration(calibration)
    assert table.network_reference_ms == 2.0
    # twice the load all along: each network timed 1 + RETRIES times, the load reported
    validation = validate_table(table, tiny_space, ScriptedRuntime([4.0] * 6), 2, 0, fast_settings, progress=False)
    assert validation.loads == [2.0, 2.0] and validation.measured_ms == [20.0, 20.0]
    expected = sorted(p / 10.0 - 1 for p in validation.predicted_ms)  # measured at the calibration's load: 10 ms
    assert validation.summary()["at_build_load"]["median_error"] == pytest.approx(sum(expected) / 2)
