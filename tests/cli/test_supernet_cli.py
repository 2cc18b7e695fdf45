"""`mixsearch supernet train|score`: trains and writes a supernet (resumable), scores archs with it;
bad input exits 2 with one line."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from mixsearch.cli.app import run_cli
from mixsearch.evaluator.supernet import load_supernet
from mixsearch.search_space import loads_space, save_arch

SPACE = """
name: tiny
resolution: 32
num_classes: 1000
stem_chs: 8
head_chs: 16
stages:
- {block_type: ds, stride: 1, depth: [1], width: [8], kernels: [[3]], exp_ratio: [1]}
- {stride: 2, depth: [1, 2], width: [8, 12], kernels: [[3], [3, 5]], exp_ratio: [1, 2], se_ratio: [0, 0.25]}
"""


@pytest.fixture
def task(tmp_path):
    """A space file, a tiny learnable npz (class k: a bright band k) and proxy settings for it."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 60, size=(48, 8, 8, 3), dtype=np.uint8)
    y = np.repeat(np.arange(3), 16)
    for i, label in enumerate(y):
        x[i, label * 2:(label + 1) * 2] = 220
    np.savez(tmp_path / "tiny.npz", x=x, y=y)
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "proxy.yaml").write_text(yaml.safe_dump({"resolution": 8, "batch_size": 8, "width_mult": 1.0,
                                                         "val_fraction": 0.25, "bn_batches": 2}))
    return tmp_path


def common(task) -> list[str]:
    return ["--space", str(task / "space.yaml"), "--dataset", str(task / "tiny.npz"), "--proxy",
            str(task / "proxy.yaml"), "--threads", "1"]


def test_train_writes_a_supernet_that_scores_archs(task, capsys):
    out = task / "s.pt"
    assert run_cli(["supernet", "train", *common(task), "--epochs", "2", "--random-archs", "1", "--out", str(out),
                    "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "epoch 1/2: loss largest" in printed and "epoch 2/2" in printed and f"wrote {out}" in printed
    space = loads_space(SPACE)
    supernet, extra = load_supernet(out, space=space)
    assert extra["recipe"]["epochs"] == 2 and extra["recipe"]["random_archs"] == 1
    assert extra["proxy"]["resolution"] == 8 and "tiny.npz" in extra["data"]
    save_arch(supernet.largest.replace(name="big"), task / "big.yaml")
    assert run_cli(["supernet", "score", str(task / "big.yaml"), "--supernet", str(out), *common(task)]) == 0
    assert capsys.readouterr().out.startswith(f"{task / 'big.yaml'}: accuracy ")
    # An arch outside the space is the candidate's failure: reported, exit 1.
    assert run_cli(["supernet", "score", "mixnet_s", "--supernet", str(out), *common(task)]) == 1
    assert "mixnet_s: failed (error): the architecture 'mixnet_s' is not in the supernet's space" in \
        capsys.readouterr().out


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("mixsearch: error: ") and err.count("\n") == 1, err
    return err


def test_bad_input_is_one_line_and_exit_2(task, capsys):
    out = str(task / "s.pt")
    assert run_cli(["supernet", "train", *common(task), "--epochs", "0", "--out", out]) == 2
    assert "supernet recipe epochs: got 0" in one_error_line(capsys)
    assert run_cli(["supernet", "train", *common(task), "--out", out, "--resume"]) == 2
    assert "s.pt.ckpt: no checkpoint to resume from" in one_error_line(capsys)
    assert run_cli(["supernet", "score", "mixnet_s", "--supernet", str(task / "none.pt"), *common(task)]) == 2
    assert "none.pt: no such supernet file" in one_error_line(capsys)
    assert run_cli(["supernet", "score", "mixnet_s", "--supernet", out, "--space", "nope.yaml"]) == 2
    one_error_line(capsys)
    (task / "bad.yaml").write_text("epochs: [1")
    assert run_cli(["supernet", "train", "--proxy", str(task / "bad.yaml"), "--out", out]) == 2
    assert "bad.yaml" in one_error_line(capsys)
    (task / "unknown.yaml").write_text("epoch: 3\n")
    assert run_cli(["supernet", "train", "--proxy", str(task / "unknown.yaml"), "--out", out]) == 2
    assert "proxy.epoch: unknown key" in one_error_line(capsys)


def test_a_supernet_of_another_space_is_refused_by_score(task, capsys):
    out = task / "s.pt"
    assert run_cli(["supernet", "train", *common(task), "--epochs", "1", "--random-archs", "0", "--out", str(out),
                    "--no-progress"]) == 0
    capsys.readouterr()
    assert run_cli(["supernet", "score", "mixnet_s", "--supernet", str(out), "--dataset", str(task / "tiny.npz"),
                    "--proxy", str(task / "proxy.yaml")]) == 2
    assert "the supernet is of space 'tiny'" in one_error_line(capsys)
