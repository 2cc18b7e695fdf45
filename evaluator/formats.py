"""Readers for the image formats users bring, and the bundled datasets.

Every format becomes a `Source`: the labels and class names of all its images (cheap to list) and
a way to decode the pixels of any rows as uint8 (N, C, H, W). Array formats (CIFAR batches, .npz,
digits) hold their pixels at their native size; image files (an ImageFolder, the embedded JPEG
subset) are decoded straight to the requested size with Pillow, one image at a time, so memory is
bounded by the rows asked for. Anything unreadable becomes a DatasetError naming the file and what
was expected; nothing is downloaded and no file can run code (CIFAR pickles: safe_pickle.py).
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from mixsearch.search_space.safe_io import InputFileError, read_bytes

from . import safe_pickle
from .errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
CIFAR10_DIR, CIFAR100_DIR = "cifar-10-batches-py", "cifar-100-python"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
MAX_IMAGE_BYTES = 64 << 20      # one image file
MAX_IMAGE_PIXELS = 1 << 26      # a decoded image (8192 x 8192); Pillow's own bomb check is larger
MAX_ARRAY_FILE_BYTES = 8 << 30  # a CIFAR batch or an .npz, read whole
MAX_CLASSES = 100_000           # search_space/spec.py: INT_RANGES["num_classes"]


@dataclass(frozen=True, eq=False)
class Source:
    """One dataset, listed: labels int64 (N,) in 0..K-1, class names, and how to decode rows.

    `native_size` is (H, W) of array formats (pixels decoded as stored) and None for image files
    (decoded to the size asked for)."""

    name: str
    kind: str
    labels: np.ndarray
    class_names: tuple[str, ...]
    channels: int
    native_size: tuple[int, int] | None
    decode_rows: Callable[[np.ndarray, int], Iterator[np.ndarray]] = field(repr=False)

    def decode(self, rows: np.ndarray, size: int, chunk: int = 1024) -> Iterator[np.ndarray]:
        """uint8 (n, C, h, w) chunks of `rows` in order: at `size` for image files, native for arrays."""
        rows = np.asarray(rows, dtype=np.int64)
        for start in range(0, len(rows), chunk):
            yield from self.decode_rows(rows[start:start + chunk], size)


def _digest(parts: Sequence[object]) -> str:
    return hashlib.sha256(repr(tuple(parts)).encode()).hexdigest()


def _file_stamp(path: Path) -> tuple[str, int, int]:
    try:
        info = path.stat()
    except OSError as err:
        raise DatasetError(f"{path}: cannot read it ({err.strerror}); expected a readable dataset file") from None
    return path.name, info.st_size, info.st_mtime_ns


def check_labels(labels: np.ndarray, where: str, names: int | None = None) -> int:
    """The class count K of integer labels that must be exactly 0..K-1 (every class present)."""
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{where}: labels have shape {labels.shape} and dtype {labels.dtype}; "
                           "expected one integer label per image")
    if len(labels) == 0:
        raise DatasetError(f"{where}: dataset is empty; expected images with labels 0..K-1")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= (names if names is not None else MAX_CLASSES):
        limit = f"{names} class names" if names is not None else f"at most {MAX_CLASSES:,} classes"
        raise DatasetError(f"{where}: labels range from {low} to {high}; expected 0..K-1 with {limit}")
    present = np.unique(labels)
    if len(present) != high + 1:
        missing = sorted(set(range(high + 1)) - set(present.tolist()))[:5]
        raise DatasetError(f"{where}: labels {present[:8].tolist()}{' ...' if len(present) > 8 else ''} skip "
                           f"{missing}; expected every label 0..{high} to have images (renumber the labels)")
    return high + 1


def identify(kind: str, path: Path) -> str:
    """What makes a decoded copy of the dataset valid: its kind, path and every file's name, size and
    modification time (an ImageFolder is listed; the other formats are one or a few files)."""
    if kind == "imagefolder":
        return _digest(["imagefolder", str(path.resolve()), *image_folder_listing(path)[3]])
    if kind == "cifar":
        root = cifar_root(path) or path
        files = [f for f in (*(root / n for n in CIFAR10_TRAIN), root / "train", root / "batches.meta", root / "meta")
                 if f.is_file()]
        return _digest(["cifar", str(root.resolve()), *(_file_stamp(f) for f in files)])
    return _digest([kind, str(path.resolve()), _file_stamp(path)])


# ---- image files -------------------------------------------------------------------------------
def decode_image(data: bytes, where: str, size: int) -> np.ndarray:
    """uint8 (3, size, size) of one encoded image: any mode converted to RGB, resized bilinearly
    (Pillow's bilinear filters over the whole footprint when shrinking, so it antialiases)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise DatasetError(f"{where}: image of {width}x{height} pixels; expected at most "
                                   f"{MAX_IMAGE_PIXELS:,} pixels (shrink or remove it)")
            if image.format == "JPEG":
                image.draft("RGB", (size, size))  # decode at a reduced scale when much larger
            rgb = image.convert("RGB").resize((size, size), Image.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)
    except DatasetError:
        raise
    except Exception as err:  # Pillow raises many types (incl. DecompressionBombError) for bad files
        raise DatasetError(f"{where}: cannot read image ({type(err).__name__}: {err}); "
                           "expected a readable image file (remove or replace it)") from None


def _read_image_file(path: Path) -> bytes:
    try:
        return read_bytes(path, "an image file", MAX_IMAGE_BYTES)
    except InputFileError as err:
        raise DatasetError(str(err)) from None


def image_folder_listing(root: Path) -> tuple[list[str], list[Path], list[int], list[object]]:
    """Class names (sorted sub-folders), image files (sorted by name within a class), their labels,
    and every file's (class, name, size, mtime)."""
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory; expected an ImageFolder (one sub-folder of images per class)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{root}: no class sub-folders; expected an ImageFolder (one sub-folder of images per class)")
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"{root}: {len(classes):,} class folders; expected at most {MAX_CLASSES:,}")
    files: list[Path] = []
    labels: list[int] = []
    stamps: list[object] = []
    for index, class_name in enumerate(classes):
        folder = root / class_name
        with os.scandir(folder) as entries:
            members = sorted((e for e in entries if Path(e.name).suffix.lower() in IMAGE_SUFFIXES),
                             key=lambda e: e.name)
        if not members:
            raise DatasetError(f"{folder}: class folder has no images; expected files ending in "
                               f"{', '.join(IMAGE_SUFFIXES)}")
        for entry in members:
            try:
                info = entry.stat()
            except OSError as err:
                raise DatasetError(f"{entry.path}: cannot read it ({err.strerror}); remove or fix the file") from None
            stamps.append((class_name, entry.name, info.st_size, info.st_mtime_ns))
            files.append(Path(entry.path))
        labels += [index] * len(members)
    return classes, files, labels, stamps


def image_folder(root: Path, name: str) -> Source:
    """One sub-folder per class (sorted names are the class indices); image files by suffix."""
    classes, files, labels, _ = image_folder_listing(root)

    def decode_rows(rows: np.ndarray, size: int) -> Iterator[np.ndarray]:
        yield np.stack([decode_image(_read_image_file(files[i]), str(files[i]), size) for i in rows]) \
            if len(rows) else np.empty((0, 3, size, size), np.uint8)

    return Source(name=name, kind="imagefolder", labels=np.asarray(labels, dtype=np.int64),
                  class_names=tuple(classes), channels=3, native_size=None, decode_rows=decode_rows)


def encoded_images(blob: np.ndarray, offsets: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...],
                   name: str, where: str) -> Source:
    """Images kept encoded (JPEG/PNG bytes of image i at blob[offsets[i]:offsets[i+1]]), decoded on demand."""
    def decode_rows(rows: np.ndarray, size: int) -> Iterator[np.ndarray]:
        yield np.stack([decode_image(blob[offsets[i]:offsets[i + 1]].tobytes(), f"{where} image {i}", size)
                        for i in rows]) if len(rows) else np.empty((0, 3, size, size), np.uint8)

    return Source(name=name, kind="encoded", labels=labels, class_names=class_names, channels=3,
                  native_size=None, decode_rows=decode_rows)


# ---- arrays ------------------------------------------------------------------------------------
def array_source(images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], name: str,
                 kind: str) -> Source:
    """Pixels already decoded: uint8 (N, C, H, W)."""
    def decode_rows(rows: np.ndarray, size: int) -> Iterator[np.ndarray]:
        yield images[rows]

    return Source(name=name, kind=kind, labels=labels, class_names=class_names, channels=int(images.shape[1]),
                  native_size=(int(images.shape[2]), int(images.shape[3])),
                  decode_rows=decode_rows)


def digits() -> Source:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, values 0..16)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.round(data.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return array_source(images, data.target.astype(np.int64), tuple(str(i) for i in range(10)), "digits", "digits")


def _unpickle(file: Path) -> object:
    try:
        data = read_bytes(file, "a CIFAR python-pickle batch file", MAX_ARRAY_FILE_BYTES)
    except InputFileError as err:
        raise DatasetError(str(err)) from None
    try:
        return safe_pickle.loads(data)
    except safe_pickle.UnsafePickleError as err:
        raise DatasetError(f"{file}: {err}; expected a CIFAR batch (a dict of data and labels)") from None
    except Exception as err:  # a truncated or garbled pickle raises many types
        raise DatasetError(f"{file}: corrupt CIFAR batch ({type(err).__name__}: {err}); expected a python pickle "
                           "of a dict with b'data' and labels") from None


def cifar_root(path: Path) -> Path | None:
    """The batches folder itself or a folder that contains one; None when it is not CIFAR."""
    for candidate in (path, path / CIFAR10_DIR, path / CIFAR100_DIR):
        cifar100 = (candidate / "train").is_file() and (candidate / "meta").is_file()
        if (candidate / "data_batch_1").is_file() or cifar100:
            return candidate
    return None


def cifar(path: Path, name: str) -> Source:
    """Training batches of CIFAR-10 (`data_batch_1..5`) or CIFAR-100 (`train`, fine labels).

    The test batch is left out on purpose: validation and test samples are carved from the training
    images (as MnasNet held out part of ImageNet train)."""
    root = cifar_root(path)
    if root is None:
        raise DatasetError(f"{path}: not a CIFAR folder; expected {CIFAR10_DIR}/ (data_batch_1..5) or "
                           f"{CIFAR100_DIR}/ (train, meta)")
    if (root / "data_batch_1").is_file():
        files = [root / n for n in CIFAR10_TRAIN if (root / n).is_file()]
        label_key, meta_file, names_key, classes = b"labels", root / "batches.meta", b"label_names", 10
    else:
        files = [root / "train"]
        label_key, meta_file, names_key, classes = b"fine_labels", root / "meta", b"fine_label_names", 100
    data, labels = [], []
    for file in files:
        batch = _unpickle(file)
        if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
            raise DatasetError(f"{file}: expected a dict with b'data' and {label_key!r}")
        array, batch_labels = batch[b"data"], batch[label_key]
        if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != 3072:
            shape = getattr(array, "shape", type(array).__name__)
            raise DatasetError(f"{file}: b'data' is {shape} {getattr(array, 'dtype', '')}; expected a uint8 "
                               "array of (N, 3072) rows (3x32x32)")
        if not isinstance(batch_labels, (list, np.ndarray)) or len(batch_labels) != len(array) or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in batch_labels):
            raise DatasetError(f"{file}: {label_key!r} must be {len(array)} integer labels, one per row")
        data.append(array)
        labels.append(np.asarray(batch_labels, dtype=np.int64))
    y = np.concatenate(labels)
    count = check_labels(y, str(root), names=classes)
    names: tuple[str, ...] = tuple(str(i) for i in range(count))
    if meta_file.is_file():
        meta = _unpickle(meta_file)
        listed = meta.get(names_key) if isinstance(meta, dict) else None
        if isinstance(listed, list) and len(listed) >= count and all(isinstance(n, (bytes, str)) for n in listed):
            names = tuple(n.decode(errors="replace") if isinstance(n, bytes) else n for n in listed[:count])
    images = np.concatenate(data).reshape(-1, 3, 32, 32)
    return array_source(images, y, names, name, "cifar")


def npz(file: Path, name: str) -> Source:
    """`x`: (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3, uint8 0..255, integers 0..255
    or floats 0..1; `y`: N integer labels 0..K-1, every class present."""
    expected = "expected an .npz with x (N,H,W[,C]) images and y (N,) integer labels 0..K-1"
    try:
        raw = read_bytes(file, "an .npz dataset", MAX_ARRAY_FILE_BYTES, hint=expected)
    except InputFileError as err:
        raise DatasetError(str(err)) from None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            if "x" not in archive or "y" not in archive:
                raise DatasetError(f"{file}: has arrays {sorted(archive.files)}; {expected}")
            x, y = archive["x"], archive["y"]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise DatasetError(f"{file}: cannot read ({type(err).__name__}: {err}); {expected}") from None
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[3] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3) or min(x.shape[2:]) < 1:
        raise DatasetError(f"{file}: x has shape {x.shape}; {expected}")
    if y.ndim != 1 or len(y) != len(x):
        raise DatasetError(f"{file}: y has shape {y.shape} for {len(x)} images; {expected}")
    count = check_labels(y, str(file))
    images = _to_uint8(x, file, expected)
    return array_source(images, y.astype(np.int64), tuple(str(i) for i in range(count)), name, "npz")


def _to_uint8(x: np.ndarray, file: Path, expected: str) -> np.ndarray:
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        if x.size and (int(x.min()) < 0 or int(x.max()) > 255):
            raise DatasetError(f"{file}: integer pixels range from {int(x.min())} to {int(x.max())}; "
                               f"expected 0..255 (scale 16-bit images down to 8 bits); {expected}")
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise DatasetError(f"{file}: x contains NaN or inf; {expected}")
        if x.size and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
            raise DatasetError(f"{file}: float pixels range from {float(x.min()):g} to {float(x.max()):g}; "
                               f"expected 0..1; {expected}")
        return np.round(x * 255.0).astype(np.uint8)
    raise DatasetError(f"{file}: x has dtype {x.dtype}; {expected}")

