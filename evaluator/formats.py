"""Readers for the image formats users bring, plus the bundled default.

Every reader returns `(images, labels, class_names)`: images float32 of shape (N, C, H, W) in
[0, 1], labels int64 in [0, num_classes). Anything unreadable becomes a DatasetError naming the
file and what was expected; nothing is downloaded.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np

from .errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
CIFAR10_DIR, CIFAR100_DIR = "cifar-10-batches-py", "cifar-100-python"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))

Arrays = tuple[np.ndarray, np.ndarray, tuple[str, ...]]


def read_digits() -> Arrays:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, values 0..16)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images.astype(np.float32) / 16.0)[:, None]
    return images, digits.target.astype(np.int64), tuple(str(i) for i in range(10))


def read_image_folder(root: Path, resolution: int) -> Arrays:
    """One sub-folder per class (sorted names are the class indices); images resized with Pillow."""
    from PIL import Image, UnidentifiedImageError

    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory; expected an ImageFolder (one sub-folder of images per class)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{root}: no class sub-folders; "
                           "expected an ImageFolder (one sub-folder of images per class)")
    images, labels = [], []
    for index, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetError(f"{root / name}: class folder has no images; expected files ending in "
                               f"{', '.join(IMAGE_SUFFIXES)}")
        for file in files:
            try:
                with Image.open(file) as image:
                    rgb = image.convert("RGB").resize((resolution, resolution), Image.BILINEAR)
            except (UnidentifiedImageError, OSError, ValueError) as err:
                raise DatasetError(f"{file}: cannot read image ({err}); expected a readable image file") from None
            images.append(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0)
            labels.append(index)
    return np.stack(images), np.asarray(labels, dtype=np.int64), tuple(classes)


def _unpickle(file: Path) -> dict:
    if not file.is_file():
        raise DatasetError(f"{file}: missing; expected a CIFAR python-pickle batch file")
    try:
        with file.open("rb") as f:
            # The CIFAR python format is a pickle; like torchvision we only load folders the user names.
            return pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as err:
        raise DatasetError(f"{file}: corrupt CIFAR batch ({type(err).__name__}: {err}); expected a python pickle "
                           "of a dict with b'data' and labels") from None


def cifar_root(path: Path) -> Path | None:
    """The batches folder itself or a folder that contains one; None when it is not CIFAR."""
    for candidate in (path, path / CIFAR10_DIR, path / CIFAR100_DIR):
        cifar100 = (candidate / "train").is_file() and (candidate / "meta").is_file()
        if (candidate / "data_batch_1").is_file() or cifar100:
            return candidate
    return None


def read_cifar(path: Path) -> Arrays:
    """Training batches of CIFAR-10 (`data_batch_1..5`) or CIFAR-100 (`train`, fine labels).

    The test batch is left out on purpose: the validation split is carved from the training
    images (as MnasNet held out part of ImageNet train), and the test set stays untouched."""
    root = cifar_root(path)
    if root is None:
        raise DatasetError(f"{path}: not a CIFAR folder; expected {CIFAR10_DIR}/ (data_batch_1..5) or "
                           f"{CIFAR100_DIR}/ (train, meta)")
    if (root / "data_batch_1").is_file():
        files = [root / n for n in CIFAR10_TRAIN if (root / n).is_file()]
        label_key, meta_file, names_key = b"labels", root / "batches.meta", b"label_names"
    else:
        files = [root / "train"]
        label_key, meta_file, names_key = b"fine_labels", root / "meta", b"fine_label_names"
    data, labels = [], []
    for file in files:
        batch = _unpickle(file)
        if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
            raise DatasetError(f"{file}: expected a dict with b'data' and {label_key!r}")
        array = np.asarray(batch[b"data"], dtype=np.uint8)
        if array.ndim != 2 or array.shape[1] != 3072 or len(batch[label_key]) != len(array):
            raise DatasetError(f"{file}: b'data' has shape {array.shape} for {len(batch[label_key])} labels; "
                               "expected (N, 3072) uint8 rows (3x32x32) with one label each")
        data.append(array)
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    images = np.concatenate(data).reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    y = np.concatenate(labels)
    num_classes = int(y.max()) + 1 if len(y) else 0
    names: tuple[str, ...] = tuple(str(i) for i in range(num_classes))
    if meta_file.is_file():
        meta = _unpickle(meta_file)
        if isinstance(meta, dict) and len(meta.get(names_key, ())) >= num_classes:
            names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[names_key])
    return images, y, names


def read_npz(file: Path) -> Arrays:
    """`x`: (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3, uint8 0..255 or float 0..1;
    `y`: N integer labels >= 0."""
    expected = "expected an .npz with x (N,H,W[,C]) images and y (N,) integer labels"
    if not file.is_file():
        raise DatasetError(f"{file}: no such file; {expected}")
    try:
        with np.load(file, allow_pickle=False) as archive:
            if "x" not in archive or "y" not in archive:
                raise DatasetError(f"{file}: has arrays {sorted(archive.files)}; {expected}")
            x, y = archive["x"], archive["y"]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise DatasetError(f"{file}: cannot read ({type(err).__name__}: {err}); {expected}") from None
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[3] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DatasetError(f"{file}: x has shape {x.shape}; {expected}")
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
        raise DatasetError(f"{file}: y has shape {y.shape} dtype {y.dtype} for {len(x)} images; {expected}")
    if np.issubdtype(x.dtype, np.integer):
        images = x.astype(np.float32) / 255.0
    else:
        images = x.astype(np.float32)
        if not np.isfinite(images).all():
            raise DatasetError(f"{file}: x contains NaN or inf; {expected}")
    num_classes = int(y.max()) + 1 if len(y) else 0
    return images, y.astype(np.int64), tuple(str(i) for i in range(num_classes))
