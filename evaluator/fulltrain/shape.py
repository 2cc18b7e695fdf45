"""The network actually trained and the data it trains on: resolution, stem stride, classes.

Resolution rule: the recipe's, else the data's own image size (array data sets: as stored; the
embedded cifar10-mini: 32; an ImageFolder: the first image's size), never above the arch's own
resolution. Stem stride rule (the proxy's, proxy_shape.SMALL_INPUT): below 64 px the stem keeps
full resolution (stride 1), else the arch's own; every block keeps its stride. At 32 px a MixNet-S
then ends on 2x2 maps instead of 1x1. Width: the arch's own times recipe.width_mult.
"""
from __future__ import annotations

from pathlib import Path

from mixsearch.search_space import ArchSpec

from ..datasets import SplitData, load_split, open_source, resolve_dataset
from ..embedded import EMBEDDED
from ..proxy_shape import ProxyShape
from .recipe import TrainRecipe

EMBEDDED_SIZE = 32  # the embedded sets are CIFAR images


def data_resolution(dataset: str) -> int:
    """The side of the data set's images as they are stored."""
    kind, path = resolve_dataset(dataset)
    if kind in EMBEDDED:
        return EMBEDDED_SIZE
    if kind == "imagefolder":
        return _first_image_size(Path(path))
    source = open_source(kind, path, dataset)
    return max(source.native_size or (EMBEDDED_SIZE,))


def _first_image_size(root: Path) -> int:
    from PIL import Image

    from ..formats import image_folder_listing  # the one listing of an ImageFolder, shared with its decoder

    files = image_folder_listing(root)[1]
    with Image.open(files[0]) as image:
        return max(image.size)


def training_resolution(arch: ArchSpec, recipe: TrainRecipe) -> int:
    if recipe.resolution is not None:
        return recipe.resolution
    return max(8, min(arch.resolution, data_resolution(recipe.dataset)))


def load_data(recipe: TrainRecipe, resolution: int) -> SplitData:
    return load_split(recipe.dataset, resolution, recipe.val_fraction, 1.0, recipe.split_seed,
                      test_fraction=recipe.test_fraction, val_size=recipe.val_size, train_size=recipe.train_size,
                      with_test=recipe.test_fraction > 0)


def trained_arch(arch: ArchSpec, recipe: TrainRecipe, data: SplitData, resolution: int) -> ArchSpec:
    """`arch` with the input, classes, width and stem stride it is trained at."""
    shape = ProxyShape(resolution=resolution, num_classes=data.num_classes, in_chans=data.channels,
                       width_mult=recipe.width_mult, stem_stride=recipe.stem_stride)
    return shape.apply(arch)
