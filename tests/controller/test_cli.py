"""`mixsearch run / show / export` through the real CLI entry point."""
import numpy as np
import onnxruntime
import pytest
import torch
import yaml

from mixsearch.cli.app import run_cli
from mixsearch.controller.export import export_onnx
from mixsearch.controller.records import status_counts
from mixsearch.controller.trials import load_trials
from mixsearch.search_space import load_arch


@pytest.fixture
def proxy_file(tmp_path, tiny_proxy):
    path = tmp_path / "proxy.yaml"
    fields = ("epochs", "data_fraction", "resolution", "width_mult", "threads", "repeats")
    path.write_text(yaml.safe_dump({k: v for k, v in tiny_proxy.to_dict().items() if k in fields}))
    return path


def test_run_show_export(tmp_path, proxy_file, capsys):
    runs = tmp_path / "runs"
    code = run_cli(["run", "--name", "cli", "--runs-dir", str(runs), "--target-flops", "0.3G", "--trials", "2",
                    "--proxy", str(proxy_file), "--no-progress", "--sampler", "random"])
    out = capsys.readouterr().out
    assert code == 0 and f"best architecture written to {runs / 'cli' / 'best.yaml'}" in out
    assert "Pareto front" in out
    assert run_cli(["show", str(runs / "cli")]) == 0
    shown = capsys.readouterr().out
    records = load_trials(runs / "cli")
    counts = status_counts(records)
    assert sum(counts.get(s, 0) for s in ("complete", "pruned", "failed")) == 2  # the budget, all trained
    assert "  trials: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) in shown.splitlines()
    best = max((r for r in records if r.status == "complete"), key=lambda r: r.reward)
    assert shown in out  # show prints the summary the run printed
    assert f"  {best.number:>5} {best.accuracy:>8.4f} {best.reward:>8.4f}" in shown
    onnx_path = tmp_path / "best.onnx"
    assert run_cli(["export", str(runs / "cli" / "best.yaml"), "--onnx", str(onnx_path), "--resolution", "64"]) == 0
    assert onnx_path.stat().st_size > 0


def test_onnx_export_matches_torch(tmp_path):
    arch = load_arch("mixnet_s").replace(resolution=64, num_classes=10)
    model = export_onnx(arch, tmp_path / "m.onnx")
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    assert logits.shape == (3, 10)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("argv, needle", [
    (["--target-flops", "300X"], "--target-flops: cannot read '300X'"),
    (["--target-flops", "1M"], "the smallest needs"),
    (["--time-budget", "soon"], "--time-budget"),
    (["--objectives", "accuracy,params"], "--objectives"),
    (["--target-latency", "15ms", "--latency-table", "no-such-table.json"], "no-such-table.json: file not found"),
    (["--sampler", "cmaes"], "--sampler"),
    (["--name", "bad/name"], "--name"),
    (["--resume", "--name", "nothing-here"], "no search to resume"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, proxy_file, capsys, argv, needle):
    code = run_cli(["run", "--runs-dir", str(tmp_path / "runs"), "--proxy", str(proxy_file), "--no-progress",
                    "--trials", "1", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("mixsearch: error: ") and needle in err[-1]
    assert not any(p.is_file() for p in (tmp_path / "runs").rglob("*"))  # nothing half-written
