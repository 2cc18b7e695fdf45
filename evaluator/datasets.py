"""Datasets by name: the bundled default or a user path, resized, normalised and split.

A dataset is named by a string: `digits` (bundled with scikit-learn), a path whose format is
detected (a `.npz` file, a CIFAR python folder, an ImageFolder directory), or an explicit
`imagefolder:PATH`, `cifar:PATH`, `npz:PATH`. The train/validation split is stratified and fixed
by `split_seed`, so every candidate of a search sees exactly the same images.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import formats
from .errors import DatasetError

BUNDLED = ("digits",)
KINDS = ("imagefolder", "cifar", "npz")
EXPECTED = ("expected 'digits', an .npz file (x, y), a CIFAR python folder (cifar-10-batches-py, "
            "cifar-100-python) or an ImageFolder directory (one sub-folder per class); "
            "or prefix the path with imagefolder:, cifar: or npz:")


@dataclass(frozen=True, eq=False)
class SplitData:
    """Normalised (N, C, H, W) float tensors of one split, cached and shared by all candidates:
    read them, never write to them."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])


def resolve_dataset(name: str) -> tuple[str, str]:
    """(kind, path) of a dataset name; kind is 'digits' or one of KINDS."""
    if not isinstance(name, str) or not name:
        raise DatasetError(f"dataset {name!r}: {EXPECTED}")
    if name in BUNDLED:
        return name, ""
    kind, sep, rest = name.partition(":")
    if sep and kind in KINDS:
        if not rest:
            raise DatasetError(f"dataset {name!r}: empty path after '{kind}:'; {EXPECTED}")
        return kind, rest
    path = Path(name)
    if not path.exists():
        raise DatasetError(f"{name}: no such file or directory; {EXPECTED}")
    if path.is_file() and path.suffix == ".npz":
        return "npz", name
    if path.is_dir():
        return ("cifar" if formats.cifar_root(path) else "imagefolder"), name
    raise DatasetError(f"{name}: unknown dataset format; {EXPECTED}")


def _stamp(path: str) -> int:
    """A fingerprint of names, sizes and modification times (two levels deep: ImageFolder files),
    so an edited dataset is read again instead of served from the cache."""
    root = Path(path)
    if not path or not root.exists():
        return 0  # the reader reports what is missing
    entries = [root, *(root.iterdir() if root.is_dir() else ())]
    entries += [f for d in entries[1:] if d.is_dir() for f in d.iterdir()]
    return hash(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in entries))


@functools.lru_cache(maxsize=2)
def _read(kind: str, path: str, stamp: int, resolution: int) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    del stamp  # part of the cache key only
    if kind == "digits":
        images, labels, names = formats.read_digits()
    elif kind == "imagefolder":
        images, labels, names = formats.read_image_folder(Path(path), resolution)
    elif kind == "cifar":
        images, labels, names = formats.read_cifar(Path(path))
    else:
        images, labels, names = formats.read_npz(Path(path))
    where = path or kind
    if len(images) == 0:
        raise DatasetError(f"{where}: dataset is empty; {EXPECTED}")
    if len(names) < 2 or len(np.unique(labels)) < 2:
        raise DatasetError(f"{where}: found {len(np.unique(labels))} class(es); expected at least 2 classes")
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.shape[-2:] != (resolution, resolution):
        # Bilinear with antialiasing: a plain upsample of tiny digits, a clean downsample of large images.
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                          antialias=bool(x.shape[-1] > resolution))
    return x.contiguous(), torch.from_numpy(labels), names


def stratified_split(labels: np.ndarray, val_fraction: float, data_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class: a seeded shuffle, the first share to validation, then a share of the rest to train."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(len(members) * val_fraction)) if len(members) > 1 else 0
        rest = members[n_val:]
        n_train = max(1, int(round(len(rest) * data_fraction))) if len(rest) else 0
        val.append(members[:n_val])
        train.append(rest[:n_train])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def load_split(dataset: str, resolution: int, val_fraction: float = 0.2, data_fraction: float = 1.0,
               split_seed: int = 0) -> SplitData:
    """The dataset at `resolution`, split, normalised by the training split's per-channel statistics.

    Cached (keyed by the file's modification time): a search evaluates many candidates on one split."""
    kind, path = resolve_dataset(dataset)
    return _split(dataset, kind, path, _stamp(path), resolution, val_fraction, data_fraction, split_seed)


@functools.lru_cache(maxsize=2)
def _split(dataset: str, kind: str, path: str, stamp: int, resolution: int, val_fraction: float,
           data_fraction: float, split_seed: int) -> SplitData:
    x, y, names = _read(kind, path, stamp, resolution)
    train_idx, val_idx = stratified_split(y.numpy(), val_fraction, data_fraction, split_seed)
    where = path or kind
    if len(train_idx) < 2 or len(val_idx) < 1:
        raise DatasetError(f"{where}: {len(y)} images give {len(train_idx)} training and {len(val_idx)} "
                           "validation images; expected at least 2 and 1 (add images or change val_fraction)")
    train_x, val_x = x[train_idx], x[val_idx]
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
    return SplitData(name=dataset, train_x=(train_x - mean) / std, train_y=y[train_idx],
                     val_x=(val_x - mean) / std, val_y=y[val_idx], class_names=names)
