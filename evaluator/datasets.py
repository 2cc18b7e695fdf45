"""Datasets by name: a bundled one or a user path, sampled, resized and normalised.

A dataset is named by a string: `cifar10-mini` (the default: 12,000 real CIFAR-10 images shipped
in the package, embedded.py), `digits` (bundled with scikit-learn; small and fast, for tests), a
path whose format is detected (a `.npz` file, a CIFAR python folder, an ImageFolder directory), or
an explicit `imagefolder:PATH`, `cifar:PATH`, `npz:PATH`.

Loading decodes the dataset once per machine into the data cache (data_cache.py) and copies out
only the sampled rows (sampling.py: stratified, seeded, disjoint test / validation / training
samples of bounded size), so every candidate of a search, in any process, sees exactly the same
images, and memory follows the sample. `use_cache=False` decodes only the sampled rows instead.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data_cache, formats
from .embedded import DATA_DIR, EMBEDDED, open_embedded
from .errors import DatasetError
from .sampling import Sample, stratified_sample

DEFAULT_DATASET = "cifar10-mini"
BUNDLED = (*EMBEDDED, "digits")
KINDS = ("imagefolder", "cifar", "npz")
EXPECTED = ("expected 'cifar10-mini', 'digits', an .npz file (x, y), a CIFAR python folder (cifar-10-batches-py, "
            "cifar-100-python) or an ImageFolder directory (one sub-folder per class); "
            "or prefix the path with imagefolder:, cifar: or npz:")


@dataclass(frozen=True, eq=False)
class SplitData:
    """Normalised (N, C, H, W) float tensors of the samples, cached and shared by all candidates:
    read them, never write to them. test_x / test_y are None unless asked for (final figures)."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    class_names: tuple[str, ...]
    test_x: torch.Tensor | None = None
    test_y: torch.Tensor | None = None
    # The training sample's per-channel statistics the images were normalised by (pixels / 255):
    # what a trained model needs to read new images.
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])


@dataclass(frozen=True)
class SampleSpec:
    """How much of a dataset a proxy uses (sampling.py says how each is cut)."""

    test_fraction: float = 0.0
    val_fraction: float = 0.2
    data_fraction: float = 1.0
    val_size: int | str | None = None
    train_size: int | str | None = None
    split_seed: int = 0


def resolve_dataset(name: str) -> tuple[str, str]:
    """(kind, path) of a dataset name; kind is a bundled name or one of KINDS."""
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


def open_source(kind: str, path: str, name: str) -> formats.Source:
    """The listed (not yet decoded) dataset."""
    if kind == "digits":
        return formats.digits()
    if kind in EMBEDDED:
        return open_embedded(kind)
    if kind == "imagefolder":
        return formats.image_folder(Path(path), name)
    if kind == "cifar":
        return formats.cifar(Path(path), name)
    return formats.npz(Path(path), name)


def _identity(kind: str, path: str) -> str:
    if kind == "digits":
        return "digits"
    if kind in EMBEDDED:
        return formats.identify(kind, DATA_DIR / EMBEDDED[kind])
    return formats.identify(kind, Path(path))


def load_split(dataset: str, resolution: int, val_fraction: float = 0.2, data_fraction: float = 1.0,
               split_seed: int = 0, *, test_fraction: float = 0.0, val_size: int | str | None = None,
               train_size: int | str | None = None, use_cache: bool = True, with_test: bool = False) -> SplitData:
    """The dataset's samples at `resolution`, normalised by the training sample's per-channel statistics.

    Kept in memory per process (a search evaluates many candidates on one split); an edited dataset
    has another identity and is read again."""
    kind, path = resolve_dataset(dataset)
    spec = SampleSpec(test_fraction, val_fraction, data_fraction, val_size, train_size, split_seed)
    return _split(dataset, kind, path, _identity(kind, path), resolution, spec, use_cache, with_test)


@functools.lru_cache(maxsize=2)
def _split(dataset: str, kind: str, path: str, identity: str, resolution: int, spec: SampleSpec, use_cache: bool,
           with_test: bool) -> SplitData:
    where = path or kind
    image_files = kind not in ("cifar", "npz", "digits")  # decoded at the resolution; arrays as stored
    if use_cache and kind != "digits":  # digits are in memory already
        found = data_cache.cached(identity, resolution if image_files else None,
                                  lambda: open_source(kind, path, dataset))
        labels, names = found.labels, found.class_names
        rows = lambda index: found.images[index]  # noqa: E731 - a copy of just these rows
    else:
        source = open_source(kind, path, dataset)
        labels, names = source.labels, source.class_names
        rows = lambda index: _concat(source.decode(index, resolution), source, resolution)  # noqa: E731
    if len(names) < 2 or len(np.unique(labels)) < 2:
        raise DatasetError(f"{where}: found {len(np.unique(labels))} class(es); expected at least 2 classes")
    sample = _sample(labels, spec, where)
    train_x = to_pixels(rows(sample.train), resolution)
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)

    def normalised(index: np.ndarray) -> torch.Tensor:
        return (to_pixels(rows(index), resolution) - mean) / std

    as_labels = lambda index: torch.from_numpy(np.asarray(labels[index], dtype=np.int64))  # noqa: E731
    test = (normalised(sample.test), as_labels(sample.test)) if with_test else (None, None)
    return SplitData(name=dataset, train_x=(train_x - mean) / std, train_y=as_labels(sample.train),
                     val_x=normalised(sample.val), val_y=as_labels(sample.val), class_names=tuple(names),
                     test_x=test[0], test_y=test[1], mean=tuple(mean.flatten().tolist()),
                     std=tuple(std.flatten().tolist()))


def _sample(labels: np.ndarray, spec: SampleSpec, where: str) -> Sample:
    sample = stratified_sample(labels, test_fraction=spec.test_fraction, val_fraction=spec.val_fraction,
                               data_fraction=spec.data_fraction, val_size=spec.val_size,
                               train_size=spec.train_size, seed=spec.split_seed)
    if len(sample.train) < 2 or len(sample.val) < 1:
        raise DatasetError(f"{where}: {len(labels)} images give {len(sample.train)} training and {len(sample.val)} "
                           "validation images; expected at least 2 and 1 (add images, or change val_fraction / "
                           "val_size / train_size)")
    return sample


def _concat(chunks, source: formats.Source, resolution: int) -> np.ndarray:
    parts = list(chunks)
    return np.concatenate(parts) if parts else np.empty((0, source.channels, resolution, resolution), np.uint8)


def to_pixels(images: np.ndarray, resolution: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [0, 1] at resolution x resolution (bilinear; antialiased
    when shrinking, so a large image is not aliased to noise)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    if x.shape[-2:] != (resolution, resolution) and len(x):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                          antialias=bool(max(x.shape[-2:]) > resolution))
    return x.contiguous()
