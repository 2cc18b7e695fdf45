"""Resume: a training stopped after an epoch (Ctrl-C in the process, or SIGKILL of a real
`mixsearch train` process) and resumed ends bit-identical on the CPU to an uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import mixsearch
from mixsearch.evaluator.fulltrain import CheckpointError, TrainRecipe, load_trained, train_arch
from mixsearch.evaluator.fulltrain.checkpoint import CHECKPOINT_FORMAT, load_document
from mixsearch.search_space import save_arch

from .conftest import tiny_arch

RECIPE = TrainRecipe(dataset="digits", epochs=3, batch_size=32, train_size=320, val_size=64, drop_path=0.3,
                     augment="crop-flip-cutout", threads=1, warmup_epochs=0.5)
# The folder that holds the imported mixsearch package, so the subprocess imports the same one.
IMPORT_ROOT = Path(mixsearch.__path__[0]).parent


def states(folder: Path) -> dict[str, dict]:
    _, document = load_document(folder / "checkpoint.pt", CHECKPOINT_FORMAT, ("model", "optimizer", "ema"))
    return {"model": document["model"], "ema": document["ema"],
            "exported": load_trained(folder / "model.pt").state_dict()}


def assert_identical(a: dict, b: dict) -> None:
    for part in ("model", "ema", "exported"):
        assert a[part].keys() == b[part].keys()
        for name in a[part]:
            assert torch.equal(a[part][name], b[part][name]), f"{part}.{name} differs"


def test_a_run_stopped_after_two_epochs_resumes_to_the_same_bits(tmp_path):
    straight = train_arch(tiny_arch(), RECIPE, tmp_path / "straight")

    def stop_after_second(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_arch(tiny_arch(), RECIPE, tmp_path / "stopped", report=stop_after_second)
    meta, _ = load_document(tmp_path / "stopped" / "checkpoint.pt", CHECKPOINT_FORMAT, ())
    assert meta["epochs_done"] == 2 and not (tmp_path / "stopped" / "model.pt").exists()
    resumed = train_arch(tiny_arch(), RECIPE, tmp_path / "stopped", resume=True)
    assert_identical(states(tmp_path / "straight"), states(tmp_path / "stopped"))
    assert resumed["test_accuracy"] == straight["test_accuracy"]
    metrics = (tmp_path / "stopped" / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 4 and metrics[0].startswith("epoch,lr,train_loss")


def test_without_resume_a_used_folder_is_refused_and_resume_of_a_finished_run_returns_it(tmp_path):
    small = RECIPE.replace(epochs=1)
    first = train_arch(tiny_arch(), small, tmp_path / "run")
    with pytest.raises(CheckpointError, match="already holds a training; pass --resume"):
        train_arch(tiny_arch(), small, tmp_path / "run")
    stamp = (tmp_path / "run" / "model.pt").stat().st_mtime_ns
    assert train_arch(tiny_arch(), small, tmp_path / "run", resume=True) == first
    assert (tmp_path / "run" / "model.pt").stat().st_mtime_ns == stamp
    with pytest.raises(CheckpointError, match="was trained with lr 0.1, this run has 0.05"):
        train_arch(tiny_arch(), small.replace(lr=0.05), tmp_path / "run", resume=True)


def _train_command(arch_file: Path, out: Path, epochs: int, resume: bool) -> list[str]:
    command = [sys.executable, "-m", "mixsearch.cli", "train", str(arch_file), "--dataset", "digits", "--out", str(out),
               "--name", "run", "--epochs", str(epochs), "--batch-size", "32", "--train-size", "600", "--val-size", "64",
               "--threads", "1", "--no-progress", "--drop-path", "0.3", "--warmup-epochs", "0.5"]
    return command + (["--resume"] if resume else [])


def test_sigkill_after_the_first_checkpoint_then_resume_equals_the_straight_run(tmp_path):
    """4 epochs of 600 digits: each epoch takes far longer than the 5 ms poll, so the kill lands
    while the process trains; the test checks that it did (the checkpoint is not the last)."""
    arch_file = tmp_path / "tiny.yaml"
    save_arch(tiny_arch(), arch_file)
    epochs = 4
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(IMPORT_ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    checkpoint = tmp_path / "killed" / "run" / "checkpoint.pt"
    process = subprocess.Popen(_train_command(arch_file, tmp_path / "killed", epochs, False), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(24_000):  # at most 120 s
        if checkpoint.exists() or process.poll() is not None:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    meta, _ = load_document(checkpoint, CHECKPOINT_FORMAT, ())
    assert 1 <= meta["epochs_done"] < epochs
    done = subprocess.run(_train_command(arch_file, tmp_path / "killed", epochs, True), env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    recipe = TrainRecipe(dataset="digits", epochs=epochs, batch_size=32, train_size=600, val_size=64, drop_path=0.3,
                         warmup_epochs=0.5, threads=1)
    train_arch(tiny_arch(), recipe, tmp_path / "straight")
    assert_identical(states(tmp_path / "straight"), states(tmp_path / "killed" / "run"))
