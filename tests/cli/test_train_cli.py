"""`mixsearch train`: a trained model and its files; refusals of a used folder, a corrupt or
foreign checkpoint and a bad recipe in one line with exit 2; a NaN stop with exit 1."""
from __future__ import annotations

import json

import pytest

from mixsearch.cli.app import run_cli
from mixsearch.search_space import ArchSpec, BlockSpec, save_arch

ARCH = ArchSpec(blocks=(BlockSpec(out_chs=8, block_type="ds"), BlockSpec(out_chs=16, exp_ratio=3, kernels=(3, 5),
                                                                         stride=2, se_ratio=0.25)),
                name="tiny", resolution=32, stem_chs=8, head_chs=32)
FAST = ["--dataset", "digits", "--epochs", "2", "--batch-size", "32", "--train-size", "300", "--val-size", "64",
        "--threads", "1", "--no-progress"]


@pytest.fixture
def arch_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    save_arch(ARCH, path)
    return path


def train(arch_file, out, *extra):
    return run_cli(["train", str(arch_file), "--out", str(out), *FAST, *extra])


def test_train_writes_the_model_and_its_records(arch_file, tmp_path, capsys):
    assert train(arch_file, tmp_path / "train") == 0
    out = capsys.readouterr().out
    folder = tmp_path / "train" / "tiny"
    assert "trained at 8 px, stem stride 1" in out and "test accuracy (held out, EMA weights):" in out
    for name in ("model.pt", "model.onnx", "checkpoint.pt", "metrics.csv", "curves.png", "result.json"):
        assert (folder / name).is_file(), name
    assert (folder / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((folder / "metrics.csv").read_text().splitlines()) == 3
    result = json.loads((folder / "result.json").read_text())
    assert result["resolution"] == 8 and result["stem_stride"] == 1 and result["train_images"] == 300
    assert f"{100 * result['test_accuracy']:.2f}%" in out

    assert train(arch_file, tmp_path / "train") == 2
    err = capsys.readouterr().err.strip()
    assert "already holds a training; pass --resume" in err and "\n" not in err
    assert train(arch_file, tmp_path / "train", "--resume") == 0  # finished: reported again, not retrained
    assert json.loads((folder / "result.json").read_text()) == result
    assert train(arch_file, tmp_path / "train", "--resume", "--lr", "0.05") == 2
    assert "was trained with lr 0.1, this run has 0.05" in capsys.readouterr().err


def test_a_corrupt_checkpoint_is_refused_in_one_line(arch_file, tmp_path, capsys):
    folder = tmp_path / "train" / "tiny"
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"\x80\x02garbage" * 10)
    assert train(arch_file, tmp_path / "train", "--resume") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint.pt: not a readable checkpoint" in err


def test_a_recipe_file_sets_fields_and_unknown_keys_are_refused(arch_file, tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("epochs: 1\noptimizer: rmsprop\nlr: 0.01\n")
    command = ["train", str(arch_file), "--out", str(tmp_path / "t"), "--recipe", str(recipe), "--dataset", "digits",
               "--train-size", "200", "--val-size", "64", "--batch-size", "32", "--threads", "1", "--no-progress"]
    assert run_cli(command) == 0
    assert "1 epochs, batch 32, rmsprop lr 0.01" in capsys.readouterr().out
    recipe.write_text("epoch: 1\n")
    assert run_cli([*command[:3], str(tmp_path / "u"), *command[4:]]) == 2
    assert "recipe.epoch: unknown key" in capsys.readouterr().err


def test_a_nan_loss_exits_1_naming_the_kept_checkpoint(arch_file, tmp_path, capsys):
    code = run_cli(["train", str(arch_file), "--out", str(tmp_path / "t"), "--dataset", "digits", "--epochs", "3",
                    "--batch-size", "32", "--train-size", "300", "--val-size", "64", "--threads", "1", "--no-progress",
                    "--lr", "100", "--warmup-epochs", "0", "--ema-decay", "0"])
    out = capsys.readouterr().out
    assert code == 1 and "stopped:" in out and "lower --lr" in out
