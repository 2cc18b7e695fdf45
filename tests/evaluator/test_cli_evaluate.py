"""`mixsearch eval`: prints accuracy, params, FLOPs and time; user errors exit 2 with one line."""
from __future__ import annotations

from mixsearch.cli.app import run_cli
from mixsearch.search_space import count_params, save_arch


def test_eval_prints_score_and_cost(arch, npz_file, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    save_arch(arch, path)
    code = run_cli(["eval", str(path), "--dataset", str(npz_file), "--epochs", "2", "--resolution", "12",
                    "--batch-size", "8", "--threads", "1", "--zero-cost", "--repeats", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 epoch(s) x 2 seed(s)" in out
    assert f"params {count_params(arch):,}" in out
    assert "FLOPs" in out and "epoch 1:" in out and "zero-cost: synflow" in out
    assert "accuracy: " in out and " s" in out.splitlines()[-1]


def test_eval_bad_dataset_is_a_user_error(arch, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    save_arch(arch, path)
    code = run_cli(["eval", str(path), "--dataset", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("mixsearch: error: ") and "missing: no such file" in err


def test_eval_failed_candidate_exits_1(arch, npz_file, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    save_arch(arch, path)
    code = run_cli(["eval", str(path), "--dataset", str(npz_file), "--resolution", "12", "--batch-size", "8",
                    "--threads", "1", "--time-limit", "0"])
    assert code == 1 and "failed (timeout)" in capsys.readouterr().out


def test_eval_bad_setting_names_the_field(arch, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    save_arch(arch, path)
    code = run_cli(["eval", str(path), "--repeats", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("mixsearch: error: proxy.repeats: got 0")
