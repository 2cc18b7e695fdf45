"""What a training leaves: model.pt rebuilt by one call (its test accuracy recomputed from the held
out images), model.onnx equal to torch under ONNX Runtime, checkpoints refused in one line when
corrupt or foreign, and a NaN loss that stops the run keeping the last good checkpoint."""
from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from mixsearch.evaluator import load_split
from mixsearch.evaluator.fulltrain import CheckpointError, TrainRecipe, TrainingStopped, load_trained, train_arch
from mixsearch.evaluator.fulltrain.checkpoint import CHECKPOINT_FORMAT, load_document

from .conftest import tiny_arch

RECIPE = TrainRecipe(dataset="digits", epochs=3, batch_size=32, val_size=64, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained") / "run"
    return folder, train_arch(tiny_arch(), RECIPE, folder)


def test_one_call_rebuilds_the_model_and_its_test_accuracy_is_recomputed(trained):
    folder, result = trained
    model = load_trained(folder / "model.pt")
    assert not model.training and model.arch.resolution == 8 and model.arch.stem_stride == 1
    assert model.arch.num_classes == 10 and model.recipe == RECIPE
    assert model.info["resolution"] == result["resolution"] == 8 and model.info["stem_stride"] == 1
    data = load_split("digits", 8, RECIPE.val_fraction, 1.0, 0, test_fraction=0.1, val_size=64, with_test=True)
    with torch.no_grad():
        predicted = model(data.test_x).argmax(1)
    assert result["test_images"] == len(data.test_y) > 100
    assert int((predicted == data.test_y).sum()) / len(data.test_y) == result["test_accuracy"]
    assert result["test_accuracy"] > 0.2  # ten classes: above chance after three epochs


def test_raw_images_are_read_as_in_training(trained):
    """model.pt carries how its inputs were read: raw uint8 images through `preprocess` equal the
    normalised test images the run scored, and the class names come along."""
    from mixsearch.evaluator.formats import digits
    from mixsearch.evaluator.fulltrain import preprocess
    from mixsearch.evaluator.sampling import stratified_sample

    folder, _ = trained
    model = load_trained(folder / "model.pt")
    data = load_split("digits", 8, RECIPE.val_fraction, 1.0, 0, test_fraction=0.1, val_size=64, with_test=True)
    source = digits()
    rows = stratified_sample(source.labels, test_fraction=0.1, val_fraction=RECIPE.val_fraction, val_size=64,
                             seed=0).test
    raw = np.concatenate(list(source.decode(rows, 8)))
    assert raw.dtype == np.uint8
    torch.testing.assert_close(preprocess(model, raw), data.test_x)
    assert model.info["input"]["class_names"] == list(data.class_names) and len(data.class_names) == 10
    with pytest.raises(CheckpointError, match="expected uint8"):
        preprocess(model, raw.astype(np.float32))
    model.info["input"] = {**model.info["input"], "std": ["x"] * len(model.info["input"]["std"])}
    with pytest.raises(CheckpointError, match="info.input mean/std are not equal-length lists"):
        preprocess(model, raw)


def test_onnx_holds_the_trained_weights(trained):
    folder, _ = trained
    model = load_trained(folder / "model.pt")
    x = torch.randn(5, model.arch.in_chans, 8, 8, generator=torch.Generator().manual_seed(0))
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"input": x.numpy()})
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        untrained = type(model)(model.arch).eval()(x).numpy()
    assert np.abs(untrained - want).max() > 1e-2  # the file holds trained weights, not fresh ones


def test_corrupt_and_foreign_files_are_refused_in_one_line(trained, tmp_path):
    folder, _ = trained
    cases = {}
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((folder / "checkpoint.pt").read_bytes()[:5000])
    cases[truncated] = "not a readable checkpoint"
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    cases[junk] = "not a readable checkpoint"
    pickled = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)  # a pickled object: weights_only refuses to run it
    cases[pickled] = "holds more than tensors"
    other = tmp_path / "other.pt"
    torch.save({"format": "someone-else", "state": {}}, other)
    cases[other] = "not a mixsearch checkpoint (format 'someone-else'"
    cases[folder / "model.pt"] = "format 'mixsearch-trained-model', expected 'mixsearch-train-checkpoint'"
    for path, words in cases.items():
        with pytest.raises(CheckpointError) as caught:
            load_document(path, CHECKPOINT_FORMAT, ("model",))
        assert words in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(CheckpointError, match="not a mixsearch trained model file"):
        load_trained(folder / "checkpoint.pt")


def test_a_checkpoint_of_another_architecture_is_refused(trained, tmp_path):
    folder, _ = trained
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes((folder / "checkpoint.pt").read_bytes())
    other = tiny_arch().replace(stem_chs=16, name="other")
    with pytest.raises(CheckpointError, match="belongs to another architecture than other"):
        train_arch(other, RECIPE, run, resume=True)


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    """lr 100 with a 3-epoch warm-up: epochs 0 and 1 stay finite, epoch 2 overflows (measured on digits)."""
    recipe = TrainRecipe(dataset="digits", epochs=4, batch_size=32, train_size=320, val_size=64, lr=100.0,
                         warmup_epochs=3.0, ema_decay=0.0, threads=1)
    with pytest.raises(TrainingStopped) as caught:
        train_arch(tiny_arch(), recipe, tmp_path / "run")
    message = str(caught.value)
    assert "training loss is nan at epoch 2" in message and "2 epoch(s) done" in message and "\n" not in message
    meta, document = load_document(tmp_path / "run" / "checkpoint.pt", CHECKPOINT_FORMAT, ("model",))
    assert meta["epochs_done"] == 2 and all(torch.isfinite(t).all() for t in document["model"].values()
                                            if t.is_floating_point())
    assert not (tmp_path / "run" / "model.pt").exists()
    assert (tmp_path / "run" / "stopped.txt").read_text().strip() == message
