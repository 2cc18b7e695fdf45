"""Tables on demand: measured once into the per-machine cache, reused, and rebuilt when stale."""
from __future__ import annotations

import json

import pytest

from mixsearch.latency import load_table
from mixsearch.latency.cache import cache_path, table_on_demand
from mixsearch.latency.runtimes import make_runtime


@pytest.fixture
def on_demand(tiny_space, tmp_path, fast_settings):
    logs: list[str] = []

    def get():
        return table_on_demand(tiny_space, "tiny.yaml", "eager", folder=tmp_path, settings=fast_settings,
                               calibration_archs=2, progress=False, log=logs.append)
    return get, logs


def test_built_once_then_reused(on_demand, tiny_space, tmp_path):
    get, logs = on_demand
    first = get()
    assert len(logs) == 1 and "measuring it once" in logs[0]
    path = cache_path(tiny_space, make_runtime("eager", 1, "cpu"), 1, "op", tmp_path)
    assert path.is_file() and not first.missing(tiny_space.possible_layers()) and first.calibration
    second = get()
    assert len(logs) == 1  # nothing measured: a re-measured table would differ in its timings
    assert second.entries == first.entries and second.calibration == first.calibration
    assert second.metadata["clock"] == "cpu"  # one thread: the CPU clock by default


@pytest.mark.parametrize("tamper, why", [
    (lambda doc: doc["metadata"].update(device="another machine"), "metadata.device"),
    (lambda doc: doc["metadata"].update(runtime_version="torch 0.1"), "metadata.runtime_version"),
    (lambda doc: doc["metadata"]["space"].update(fingerprint="0" * 64), "another space"),
    (lambda doc: doc.update(schema_version=99), "unreadable"),
    (lambda doc: doc["calibration"].pop("reference_ms"), "predates calibration.reference_ms"),
    (lambda doc: doc["metadata"].update(entry_timing="counted otherwise"), "metadata.entry_timing"),
])
def test_stale_or_foreign_tables_are_rebuilt(on_demand, tiny_space, tmp_path, tamper, why):
    get, logs = on_demand
    table = get()
    path = cache_path(tiny_space, make_runtime("eager", 1, "cpu"), 1, "op", tmp_path)
    doc = json.loads(path.read_text())
    tamper(doc)
    for entry in doc["entries"].values():
        entry["ms"] = 999.0
    path.write_text(json.dumps(doc))
    rebuilt = get()
    assert why in logs[1] and "rebuilding" in logs[1]
    assert set(rebuilt.entries) == set(table.entries)
    assert all(entry["ms"] != 999.0 for entry in rebuilt.entries.values())  # measured again, not trusted
    assert load_table(path).metadata["device"] == table.metadata["device"]


def test_an_interrupted_build_resumes(tiny_space, tmp_path, fast_settings):
    from mixsearch.latency import build_table

    runtime = make_runtime("eager", 1, "cpu")
    path = cache_path(tiny_space, runtime, 1, "op", tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    half = build_table(tiny_space, runtime, path, space_source="tiny.yaml", settings=fast_settings, limit=5,
                       save_every_s=0.0, progress=False)
    logs: list[str] = []
    table = table_on_demand(tiny_space, "tiny.yaml", "eager", folder=tmp_path, settings=fast_settings,
                            calibration_archs=1, progress=False, log=logs.append)
    assert not any("rebuilding" in line for line in logs)
    assert {s: table.entries[s] for s in half.entries} == half.entries  # kept, not re-measured
    assert not table.missing(tiny_space.possible_layers())


def test_an_unusable_cache_folder_is_one_clear_error(tiny_space, tmp_path, monkeypatch):
    from mixsearch.latency import LatencyTableError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MIXSEARCH_CACHE", str(blocker))
    with pytest.raises(LatencyTableError, match="MIXSEARCH_CACHE"):
        table_on_demand(tiny_space, "tiny.yaml", "eager", progress=False, log=lambda line: None)
