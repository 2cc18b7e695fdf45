"""Tiny archs and tiny generated datasets in every format, so the evaluator tests run in seconds."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from mixsearch.evaluator import ProxyConfig
from mixsearch.search_space import ArchSpec, BlockSpec

CLASSES = 3
PER_CLASS = 12
SIZE = 12


def tiny_arch() -> ArchSpec:
    """Stem, a ds block, an ir block with mixed kernels, SE and swish, a grouped ir block: every module kind."""
    return ArchSpec(blocks=(
        BlockSpec(out_chs=8, block_type="ds", stride=1),
        BlockSpec(out_chs=16, exp_ratio=3, kernels=(3, 5), stride=2, se_ratio=0.25, act="swish"),
        BlockSpec(out_chs=16, exp_ratio=2, kernels=(3,), exp_groups=2, proj_groups=2)),
        name="tiny", resolution=32, num_classes=1000, stem_chs=8, head_chs=32)


def class_images(rng: np.random.Generator, classes: int = CLASSES, per_class: int = PER_CLASS,
                 size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, size, size, 3): class k is a bright bar at row band k, plus noise — learnable."""
    x = rng.integers(0, 60, size=(classes * per_class, size, size, 3), dtype=np.uint8)
    y = np.repeat(np.arange(classes), per_class)
    band = size // classes
    for i, label in enumerate(y):
        x[i, label * band:(label + 1) * band] = 220
    return x, y.astype(np.int64)


@pytest.fixture
def arch() -> ArchSpec:
    return tiny_arch()


@pytest.fixture
def npz_file(tmp_path):
    x, y = class_images(np.random.default_rng(0))
    path = tmp_path / "tiny.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture
def image_folder(tmp_path):
    from PIL import Image

    x, y = class_images(np.random.default_rng(1))
    root = tmp_path / "folder"
    for i, (image, label) in enumerate(zip(x, y)):
        (root / f"class_{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / f"class_{label}" / f"{i}.png")
    return root


def write_cifar10(root, x: np.ndarray, y: np.ndarray, batches: int = 2) -> None:
    """The python-pickle layout of cifar-10-batches-py: rows of 3072 bytes, channel-major."""
    root.mkdir(parents=True)
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), -1)
    for b, part in enumerate(np.array_split(np.arange(len(x)), batches)):
        with open(root / f"data_batch_{b + 1}", "wb") as f:
            pickle.dump({b"data": rows[part], b"labels": [int(v) for v in y[part]]}, f)
    with open(root / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"name{i}".encode() for i in range(int(y.max()) + 1)]}, f)
    with open(root / "test_batch", "wb") as f:  # must be ignored: validation comes from the training batches
        pickle.dump({b"data": rows[:2], b"labels": [0, 1]}, f)


@pytest.fixture
def cifar_folder(tmp_path):
    x, y = class_images(np.random.default_rng(2), size=32)
    write_cifar10(tmp_path / "cifar-10-batches-py", x, y)
    return tmp_path / "cifar-10-batches-py"


@pytest.fixture
def fast_config(npz_file) -> ProxyConfig:
    return ProxyConfig(dataset=str(npz_file), resolution=SIZE, epochs=2, batch_size=8, width_mult=1.0, val_fraction=0.2,
                       threads=1, bn_batches=2, repeats=1, time_limit_s=60.0)
