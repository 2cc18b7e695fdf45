"""The table file and the predictor, on a real (measured) table of the tiny space."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mixsearch.latency import LatencyTableError, entry_signatures, load_table, loads_table
from mixsearch.search_space import load_preset, resolve_layers
from mixsearch.search_space.space import loads_space
from mixsearch.search_space.errors import MixsearchError


def test_round_trip(eager_table_path):
    table = load_table(eager_table_path)
    again = loads_table(table.dumps(), "again")
    assert again.to_document() == table.to_document()
    assert json.loads(eager_table_path.read_text()) == table.to_document()
    meta = table.metadata
    assert (meta["runtime"], meta["threads"], meta["batch"], meta["resolution"], meta["granularity"]) == (
        "eager", 1, 1, 32, "op")
    assert meta["space"]["name"] == "tiny" and meta["device"] and meta["runtime_version"].startswith("torch")
    assert all(entry["ms"] > 0 and entry["iqr_ms"] >= 0 and entry["runs"] == 3 for entry in table.entries.values())


def test_predict_is_the_calibrated_sum_of_entries(eager_table_path, tiny_space):
    doc = json.loads(eager_table_path.read_text())
    scale, offset = doc["calibration"]["scale"], doc["calibration"]["offset_ms"]
    table = load_table(eager_table_path)
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = tiny_space.sample(rng)
        expected = sum(doc["entries"][s]["ms"] for layer in resolve_layers(arch) for s in entry_signatures(layer, "op"))
        # twice: the first call fills the per-block caches, the second is served from them
        assert table.predict(arch) == pytest.approx(scale * expected + offset, rel=1e-12)
        assert table.predict(arch) == pytest.approx(scale * expected + offset, rel=1e-12)


def test_missing_entry_names_it_and_the_command(eager_table_path):
    table = load_table(eager_table_path)
    with pytest.raises(LatencyTableError) as info:
        table.predict(load_preset("mixnet_s"))
    message = str(info.value)
    assert isinstance(info.value, MixsearchError) and "\n" not in message
    assert "'stem-i224x3-o112x16-k3-s2-relu'" in message
    assert (f"mixsearch latency build --space tiny.yaml --runtime eager --threads 1 --clock cpu --batch 1 "
            f"--granularity op --out {eager_table_path}") in message


def test_check_space(eager_table_path, tiny_space, tiny_space_text):
    table = load_table(eager_table_path)
    table.check_space(tiny_space)
    other = loads_space(tiny_space_text.replace("width: [24]", "width: [24, 32]"), "other.yaml")
    with pytest.raises(LatencyTableError, match="fingerprint"):
        table.check_space(other)
    bigger = loads_space(tiny_space_text.replace("resolution: 32", "resolution: 64"), "big.yaml")
    with pytest.raises(LatencyTableError, match="resolution is 32 but space 'tiny' uses 64"):
        table.check_space(bigger)


@pytest.mark.parametrize("change, match", [
    (lambda d: d.update(schema_version=99), "schema_version: got 99"),
    (lambda d: d.update(kind="arch"), "kind: got 'arch'"),
    (lambda d: d["metadata"].pop("threads"), "metadata.threads: required"),
    (lambda d: d["entries"].update({"stem-x": {"ms": -1}}), r"entries\['stem-x'\].ms"),
    (lambda d: d["calibration"].update(scale="big"), "calibration.scale"),
    (lambda d: d["calibration"].update(reference_ms=0), "calibration.reference_ms: expected a finite number > 0"),
    (lambda d: d.update(extra=1), "extra: unknown key"),
])
def test_malformed_tables_are_refused(eager_table_path, change, match):
    doc = json.loads(eager_table_path.read_text())
    change(doc)
    with pytest.raises(LatencyTableError, match=match):
        loads_table(json.dumps(doc), "bad.json")


def test_load_errors(tmp_path):
    with pytest.raises(LatencyTableError, match="not found; build one"):
        load_table(tmp_path / "none.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(LatencyTableError, match="not valid JSON"):
        load_table(tmp_path / "broken.json")
