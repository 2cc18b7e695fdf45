"""Hostile or broken data files: no code runs, labels and pixel ranges are checked when the data is
loaded, unreadable images are named, odd image modes and sizes are converted."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from mixsearch.evaluator import DatasetError, load_split
from mixsearch.evaluator import datasets

from .conftest import class_images, write_cifar10


@pytest.fixture(autouse=True)
def fresh():
    datasets._split.cache_clear()
    yield
    datasets._split.cache_clear()


class OpensAFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("member", ["data_batch_1", "batches.meta"])
def test_a_cifar_pickle_never_runs_code(tmp_path, member):
    x, y = class_images(np.random.default_rng(0), size=32)
    write_cifar10(tmp_path / "cifar-10-batches-py", x, y)
    marker = tmp_path / "pwned"
    with open(tmp_path / "cifar-10-batches-py" / member, "wb") as f:
        pickle.dump({b"data": OpensAFile(str(marker)), b"labels": [0], b"label_names": OpensAFile(str(marker))}, f)
    with pytest.raises(DatasetError, match=f"{member}: refused to load io.open"):
        load_split(str(tmp_path), 8)
    assert not marker.exists()


def test_cifar_labels_and_strings_are_checked(tmp_path):
    x, y = class_images(np.random.default_rng(0), size=32)
    bad = y.copy()
    bad[3] = -1
    write_cifar10(tmp_path / "neg", x, bad)
    with pytest.raises(DatasetError, match="labels range from -1"):
        load_split(str(tmp_path / "neg"), 8)
    write_cifar10(tmp_path / "strings", x, y)
    with open(tmp_path / "strings" / "data_batch_1", "wb") as f:
        pickle.dump({b"data": ["a"] * 3, b"labels": ["x", "y", "z"]}, f)
    with pytest.raises(DatasetError, match="expected a uint8 array"):
        load_split(str(tmp_path / "strings"), 8)


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((4, 8, 8), np.uint8), np.array([0, 7, 0, 7]), r"skip \[1, 2, 3, 4, 5\]"),
    (np.zeros((2, 8, 8), np.uint8), np.array([0, 10 ** 9]), "labels range from 0 to 1000000000"),
    (np.zeros((2, 8, 8), np.uint8), np.array([-1, 0]), "labels range from -1"),
    (np.full((2, 8, 8), 300, np.uint16), np.array([0, 1]), "integer pixels range from 300 to 300"),
    (np.full((2, 8, 8), 1.5, np.float32), np.array([0, 1]), "float pixels range"),
])
def test_npz_labels_and_pixels_are_checked_before_any_allocation(tmp_path, x, y, message):
    path = tmp_path / "bad.npz"
    np.savez(path, x=x, y=y)
    with pytest.raises(DatasetError, match=message) as info:
        load_split(str(path), 8)
    assert str(path) in str(info.value)


def test_image_modes_and_sizes_are_converted(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, (mode, size) in enumerate([("L", (9, 9)), ("RGBA", (20, 12)), ("P", (5, 30)), ("RGB", (8, 8))]):
        (tmp_path / f"c{label}").mkdir()
        for i in range(3):
            image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
            image.save(tmp_path / f"c{label}" / f"{i}.png")
    data = load_split(str(tmp_path), 8, val_fraction=0.34)
    assert data.train_x.shape[1:] == (3, 8, 8) and data.num_classes == 4


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_bytes(b""), "cannot read image"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20), "cannot read image"),
    (lambda p: os.mkfifo(p), "not a regular file"),
])
def test_unreadable_images_are_named(image_folder, write, message):
    bad = image_folder / "class_1" / "bad.png"
    write(bad)
    with pytest.raises(DatasetError, match=f"bad.png.*{message}"):
        load_split(str(image_folder), 8, use_cache=False, val_fraction=0.9)  # bad.png lands in a sample


def test_a_decompression_bomb_is_refused_before_decoding(image_folder):
    from PIL import Image

    Image.new("1", (9000, 9000)).save(image_folder / "class_0" / "huge.png")  # a few KB, 81M pixels
    with pytest.raises(DatasetError, match="huge.png: image of 9000x9000 pixels"):
        load_split(str(image_folder), 8)


def test_one_class_is_refused(tmp_path):
    np.savez(tmp_path / "one.npz", x=np.zeros((4, 8, 8), np.uint8), y=np.zeros(4, int))
    with pytest.raises(DatasetError, match="1 class"):
        load_split(str(tmp_path / "one.npz"), 8)


def test_the_embedded_default_is_real_cifar10():
    data = load_split("cifar10-mini", 16, val_fraction=0.4, test_fraction=0.1, val_size=2000, train_size="100/class",
                      with_test=True)
    assert data.class_names[:3] == ("airplane", "automobile", "bird") and data.num_classes == 10
    assert len(data.test_y) == 1200 and len(data.val_y) == 2000 and len(data.train_y) == 1000
    assert data.train_x.shape[1:] == (3, 16, 16)
    from mixsearch.evaluator.embedded import DATA_DIR
    assert (DATA_DIR / "cifar10_mini.npz").stat().st_size <= 15_000_000
