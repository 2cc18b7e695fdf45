"""Tables built and validated end to end on this CPU (eager and ONNX Runtime), resume and extend."""
from __future__ import annotations

import math

import pytest

from mixsearch.latency import (LatencyTableError, build_table, load_table, make_runtime, scatter_plot,
                               validate_table)
from mixsearch.search_space.space import loads_space


def _check_validation(table, space, runtime, settings, tmp_path):
    validation = validate_table(table, space, runtime, count=3, seed=5, settings=settings, progress=False)
    summary = validation.summary()
    assert summary["archs"] == 3 and 0 <= summary["within_10pct"] <= 1
    assert all(math.isfinite(x) and x > 0 for x in validation.predicted_ms + validation.measured_ms)
    # predictions and measurements are of the same networks: same order of magnitude (no timing goal)
    assert all(0.1 < p / m < 10 for p, m in zip(validation.predicted_ms, validation.measured_ms))
    plot = tmp_path / "scatter.png"
    scatter_plot(validation, plot, "test")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eager_table_end_to_end(eager_table_path, tiny_space, tmp_path, fast_settings):
    table = load_table(eager_table_path)
    assert not table.missing(tiny_space.possible_layers())
    assert table.calibration["kind"] in ("scale", "none") and table.calibration["fitted_on"] == 2
    _check_validation(table, tiny_space, make_runtime("eager", 1, "cpu"), fast_settings, tmp_path)


def test_onnxruntime_table_end_to_end(tiny_space, tmp_path, fast_settings):
    runtime = make_runtime("onnxruntime", 1, "cpu")
    table = build_table(tiny_space, runtime, tmp_path / "ort.json", settings=fast_settings,
                        calibration_archs=1, progress=False)
    assert table.metadata["runtime"] == "onnxruntime" and "onnxruntime" in table.metadata["runtime_version"]
    assert not table.missing(tiny_space.possible_layers())
    _check_validation(load_table(tmp_path / "ort.json"), tiny_space, runtime, fast_settings, tmp_path)


def test_resume_measures_only_what_is_missing(tiny_space, tmp_path, fast_settings):
    out = tmp_path / "half.json"
    runtime = make_runtime("eager", 1, "cpu")
    half = build_table(tiny_space, runtime, out, settings=fast_settings, calibration_archs=1, limit=10,
                       save_every_s=0.0, progress=False)
    on_disk = load_table(out)
    assert len(on_disk.entries) == 10 and on_disk.calibration is None  # saved, resumable, not calibrated
    assert on_disk.missing(tiny_space.possible_layers())
    full = build_table(tiny_space, runtime, out, settings=fast_settings, calibration_archs=1, progress=False)
    assert not full.missing(tiny_space.possible_layers()) and full.calibration is not None
    assert {s: full.entries[s] for s in half.entries} == half.entries  # kept, not re-measured
    assert full.metadata["created"] == half.metadata["created"]


def test_extend_to_a_grown_space(eager_table_path, tiny_space, tiny_space_text, tmp_path, fast_settings):
    out = tmp_path / "grown.json"
    out.write_bytes(eager_table_path.read_bytes())
    old = load_table(out)
    grown = loads_space(tiny_space_text.replace("width: [24]", "width: [24, 32]"), "grown.yaml")
    table = build_table(grown, make_runtime("eager", 1, "cpu"), out, settings=fast_settings, calibration_archs=1,
                        progress=False)
    new = set(table.entries) - set(old.entries)
    assert new == set(old.missing(grown.possible_layers())) and new
    assert {s: table.entries[s] for s in old.entries} == old.entries
    load_table(out).check_space(grown)
    with pytest.raises(LatencyTableError, match="fingerprint"):
        load_table(out).check_space(tiny_space)


def test_resume_refuses_other_settings(eager_table_path, tiny_space, tmp_path, fast_settings):
    out = tmp_path / "copy.json"
    out.write_bytes(eager_table_path.read_bytes())
    with pytest.raises(LatencyTableError, match=r"metadata.batch is 1 but this build uses 2"):
        build_table(tiny_space, make_runtime("eager", 1, "cpu"), out, batch=2, settings=fast_settings, progress=False)
    with pytest.raises(LatencyTableError, match=r"metadata.runtime is 'eager' but this build uses 'onnxruntime'"):
        build_table(tiny_space, make_runtime("onnxruntime", 1, "cpu"), out, settings=fast_settings, progress=False)
    # entries counted another way (an older XNNPACK table, before its edge transposes were left out)
    recount = make_runtime("eager", 1, "cpu")
    recount.entry_timing = "counted otherwise"
    with pytest.raises(LatencyTableError, match=r"metadata.entry_timing is None but this build uses 'counted"):
        build_table(tiny_space, recount, out, settings=fast_settings, progress=False)


def test_runtime_arguments_are_checked():
    with pytest.raises(LatencyTableError, match="--threads"):
        make_runtime("eager", 0)
    with pytest.raises(LatencyTableError, match="--runtime"):
        make_runtime("tflite", 1)
    with pytest.raises(LatencyTableError, match="--clock cpu: needs --threads 1"):
        make_runtime("eager", 2, "cpu")


def test_cuda_runtime_is_guarded():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the guard does not apply")
    with pytest.raises(LatencyTableError, match="no CUDA device"):
        make_runtime("cuda", 1)


def test_entries_are_scaled_to_the_median_reference_not_the_first_groups():
    """A first group whose reference ran slow (cold, or a burst of load) must not scale every other
    group: each entry is scaled by the table's reference (median over the groups) / its group's."""
    from mixsearch.latency.build import measure_entries, scaled_to_reference
    from mixsearch.latency.entries import entries_of
    from mixsearch.latency.measure import Settings, Stats
    from mixsearch.latency.runtimes import EagerRuntime

    timed = {"a": (Stats(2.0, 0.2, 5), 4.0), "b": (Stats(1.0, 0.1, 5), 2.0)}
    scaled = scaled_to_reference(timed, reference_ms=2.0, overhead_ms=0.25)
    assert scaled["a"] == {"ms": 0.75, "iqr_ms": 0.1, "runs": 5, "load": 2.0}  # 2.0 / 2 - 0.25
    assert scaled["b"] == {"ms": 0.75, "iqr_ms": 0.1, "runs": 5, "load": 1.0}

    class Scripted(EagerRuntime):
        """Times every entry at 1 ms; the reference at 3 ms in the first group, 1 ms after."""

        def time_entry_groups(self, groups, warmup, runs, reference):
            for index, made in enumerate(groups):
                yield [[1.0] * runs for _ in made] + [[3.0 if index == 0 else 1.0] * runs]

    space = loads_space("""
stages:
- {stride: 2, depth: [1], width: [16, 24], kernels: [[3], [3, 5]], exp_ratio: [1, 3]}
""")
    entries = list(entries_of(space.possible_layers(), "op").values())
    results, reference = measure_entries(entries, Scripted(1), 1, Settings(warmup=1, runs=3, group=4), 0,
                                         progress=False)
    assert reference == 1.0 and len(entries) > 8
    first = {entry.signature for entry in entries[:4]}
    assert all(r["ms"] == pytest.approx(1 / 3 if s in first else 1.0, abs=1e-4) for s, r in results.items())
