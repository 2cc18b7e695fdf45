"""`mixsearch latency build|predict|validate` through the real CLI entry point."""
from __future__ import annotations

import json

from mixsearch.cli.app import run_cli
from mixsearch.search_space import save_arch


def test_build_predict_validate(tiny_space, tiny_space_text, tmp_path, capsys):
    space_file = tmp_path / "tiny.yaml"
    space_file.write_text(tiny_space_text)
    table = tmp_path / "table.json"
    fast = ["--warmup", "1", "--runs", "3"]
    assert run_cli(["latency", "build", "--space", str(space_file), "--out", str(table), "--calibrate", "1",
                    "--quiet", *fast]) == 0
    assert "complete" in capsys.readouterr().out

    import numpy as np

    arch_file = tmp_path / "arch.yaml"
    save_arch(tiny_space.sample(np.random.default_rng(3)), arch_file)
    assert run_cli(["latency", "predict", "--table", str(table), "--space", str(space_file), str(arch_file)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{arch_file}: ") and line.endswith(" ms")

    report = tmp_path / "validation.json"
    assert run_cli(["latency", "validate", "--table", str(table), "--archs", "2", "--quiet", "--out", str(report),
                    *fast]) == 0
    assert "within ±10%" in capsys.readouterr().out
    assert (tmp_path / "table.json.validation.png").exists()
    assert json.loads(report.read_text())["summary"]["archs"] == 2


def test_errors_exit_2_with_one_line(tmp_path, capsys):
    assert run_cli(["latency", "predict", "--table", str(tmp_path / "none.json"), "mixnet_s"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mixsearch: error: ") and "not found" in err and err.count("\n") == 1
    assert run_cli(["latency", "build", "--runtime", "cuda", "--device", "cpu", "--out", str(tmp_path / "t.json")]) == 2
    assert "does not run on --device cpu" in capsys.readouterr().err


def test_a_missing_xnnpack_runtime_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "executorch", None)  # what Python does when it is not installed
    assert run_cli(["latency", "build", "--runtime", "xnnpack", "--out", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mixsearch: error: --runtime xnnpack: executorch is not installed")
    assert "pip install 'mixsearch[xnnpack]'" in err and err.count("\n") == 1
    assert not (tmp_path / "t.json").exists()
