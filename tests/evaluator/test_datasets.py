"""Every dataset format against the arrays it was generated from; every bad input -> DatasetError."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from mixsearch.evaluator import DatasetError, load_split, resolve_dataset
from mixsearch.evaluator import formats
from mixsearch.evaluator.sampling import stratified_sample

from .conftest import CLASSES, PER_CLASS, SIZE, class_images, write_cifar10


def test_digits_is_bundled_and_splits_like_the_issue():
    data = load_split("digits", 16)
    assert data.num_classes == 10 and data.channels == 1
    assert tuple(data.train_x.shape[1:]) == (1, 16, 16)
    assert len(data.train_y) + len(data.val_y) == 1797
    assert abs(len(data.val_y) - 360) <= 5  # stratified 20%, as the issue's 1437 / 360
    assert torch.isfinite(data.train_x).all()


def decoded(source, size=SIZE):
    """Every image of a listed source, its labels and class names."""
    images = np.concatenate(list(source.decode(np.arange(len(source.labels)), size)))
    return images, source.labels, source.class_names


def test_npz_round_trips_pixels(npz_file):
    images, labels, names = decoded(formats.npz(npz_file, "n"))
    x, y = class_images(np.random.default_rng(0))
    np.testing.assert_array_equal(images, x.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(labels, y)
    assert names == ("0", "1", "2")


@pytest.mark.parametrize("layout", ["nhw", "nchw", "float"])
def test_npz_layouts(tmp_path, layout):
    x, y = class_images(np.random.default_rng(0))
    gray = x[..., 0]
    arrays = {"nhw": gray, "nchw": x.transpose(0, 3, 1, 2), "float": gray.astype(np.float32) / 255.0}[layout]
    np.savez(tmp_path / "d.npz", x=arrays, y=y)
    images, _, _ = decoded(formats.npz(tmp_path / "d.npz", "d"))
    channels = 3 if layout == "nchw" else 1
    assert images.shape == (len(y), channels, SIZE, SIZE) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[:, 0], gray)


def test_image_folder_reads_classes_and_pixels(image_folder):
    images, labels, names = decoded(formats.image_folder(image_folder, "f"))
    x, y = class_images(np.random.default_rng(1))
    assert names == tuple(f"class_{k}" for k in range(CLASSES))
    # files are read sorted by name; compare as multisets per class
    for k in range(CLASSES):
        got = np.sort(images[labels == k].reshape(PER_CLASS, -1), axis=0)
        want = np.sort(x[y == k].transpose(0, 3, 1, 2).reshape(PER_CLASS, -1), axis=0)
        np.testing.assert_array_equal(got, want)


def test_cifar_reads_training_batches_only(cifar_folder):
    images, labels, names = decoded(formats.cifar(cifar_folder, "c"))
    x, y = class_images(np.random.default_rng(2), size=32)
    np.testing.assert_array_equal(images, x.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(labels, y)
    assert names == ("name0", "name1", "name2")


def test_cifar100_layout(tmp_path):
    x, y = class_images(np.random.default_rng(3), size=32)
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    with open(root / "train", "wb") as f:
        pickle.dump({b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1), b"fine_labels": list(y),
                     b"coarse_labels": [0] * len(y)}, f)
    with open(root / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [b"a", b"b", b"c"]}, f)
    assert resolve_dataset(str(tmp_path)) == ("cifar", str(tmp_path))  # the parent folder is found too
    data = load_split(str(tmp_path), 16)
    assert data.class_names == ("a", "b", "c") and data.train_x.shape[1:] == (3, 16, 16)


def test_format_detection(npz_file, image_folder, cifar_folder):
    assert resolve_dataset(str(npz_file)) == ("npz", str(npz_file))
    assert resolve_dataset(str(image_folder)) == ("imagefolder", str(image_folder))
    assert resolve_dataset(str(cifar_folder)) == ("cifar", str(cifar_folder))
    assert resolve_dataset(f"npz:{npz_file}") == ("npz", str(npz_file))
    assert resolve_dataset("digits") == ("digits", "")


@pytest.mark.parametrize("fixture", ["npz_file", "image_folder", "cifar_folder"])
def test_split_is_stratified_seeded_and_normalised(request, fixture):
    name = str(request.getfixturevalue(fixture))
    a = load_split(name, SIZE, val_fraction=0.25, split_seed=3)
    b = load_split(name, SIZE, val_fraction=0.25, split_seed=3)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.val_y, b.val_y)
    assert torch.bincount(a.val_y).tolist() == [PER_CLASS // 4] * CLASSES
    assert a.train_x.shape[-1] == SIZE
    assert abs(float(a.train_x.mean())) < 1e-4  # normalised by training statistics
    c = load_split(name, SIZE, val_fraction=0.25, split_seed=4)
    assert not torch.equal(a.val_x, c.val_x)


def test_split_indices_are_disjoint_and_fraction_applies():
    labels = np.repeat(np.arange(4), 50)
    sample = stratified_sample(labels, val_fraction=0.2, data_fraction=0.5, seed=0)
    train, val = sample.train, sample.val
    assert not set(train) & set(val) and len(sample.test) == 0
    assert len(val) == 40 and len(train) == 80
    assert np.bincount(labels[train]).tolist() == [20] * 4


def test_missing_and_unknown(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_split(str(tmp_path / "nope"), 8)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_split(str(tmp_path / "notes.txt"), 8)
    with pytest.raises(DatasetError, match="npz"):
        load_split("npz:" + str(tmp_path / "missing.npz"), 8)


def test_empty_folders(tmp_path):
    with pytest.raises(DatasetError, match="no class sub-folders"):
        load_split(str(tmp_path), 8)
    (tmp_path / "cat").mkdir()
    with pytest.raises(DatasetError, match=r"cat: class folder has no images"):
        load_split(str(tmp_path), 8)


def test_corrupt_image(image_folder):
    bad = image_folder / "class_0" / "broken.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(DatasetError, match="broken.png: cannot read image"):
        load_split(str(image_folder), SIZE)


def test_corrupt_cifar(tmp_path):
    x, y = class_images(np.random.default_rng(0), size=32)
    write_cifar10(tmp_path / "c", x, y)
    (tmp_path / "c" / "data_batch_2").write_bytes(b"\x80\x04garbage")
    with pytest.raises(DatasetError, match="data_batch_2: corrupt CIFAR batch"):
        load_split(str(tmp_path / "c"), 8)
    with open(tmp_path / "c" / "data_batch_2", "wb") as f:
        pickle.dump({b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]}, f)
    with pytest.raises(DatasetError, match=r"data_batch_2: b'data' is \(3, 100\) uint8"):
        load_split(str(tmp_path / "c"), 8)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 8, 8))}, "has arrays"),
    ({"x": np.zeros((4, 8)), "y": np.zeros(4, int)}, "x has shape"),
    ({"x": np.zeros((4, 8, 8)), "y": np.zeros(3, int)}, "y has shape"),
    ({"x": np.zeros((4, 8, 8)), "y": np.zeros(4)}, "dtype float64"),
    ({"x": np.full((4, 8, 8), np.nan), "y": np.arange(4)}, "NaN"),
    ({"x": np.zeros((0, 8, 8)), "y": np.zeros(0, int)}, "empty"),
    ({"x": np.zeros((4, 8, 8)), "y": np.zeros(4, int)}, "1 class"),
])
def test_bad_npz(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=message) as info:
        load_split(str(path), 8)
    assert str(path) in str(info.value)


def test_corrupt_npz(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match="bad.npz: cannot read"):
        load_split(str(path), 8)


def test_edited_dataset_is_read_again(tmp_path):
    x, y = class_images(np.random.default_rng(0), size=32)
    write_cifar10(tmp_path / "c", x, y)
    first = load_split(str(tmp_path / "c"), 8)
    assert load_split(str(tmp_path / "c"), 8) is first  # cached
    with open(tmp_path / "c" / "data_batch_2", "wb") as f:  # same names, new content
        pickle.dump({b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]}, f)
    with pytest.raises(DatasetError, match="data_batch_2"):
        load_split(str(tmp_path / "c"), 8)
