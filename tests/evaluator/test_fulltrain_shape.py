"""The resolution and stem-stride rule of final training, recorded in the outputs."""
from __future__ import annotations

from mixsearch.evaluator import load_split
from mixsearch.evaluator.fulltrain import TrainRecipe
from mixsearch.evaluator.fulltrain.shape import data_resolution, trained_arch, training_resolution
from mixsearch.search_space import load_preset

from .conftest import SIZE


def test_the_data_decides_the_resolution_never_above_the_arch(npz_file, image_folder, cifar_folder):
    assert data_resolution("digits") == 8 and data_resolution("cifar10-mini") == 32
    assert data_resolution(str(npz_file)) == SIZE and data_resolution(str(image_folder)) == SIZE
    assert data_resolution(str(cifar_folder)) == 32
    mixnet = load_preset("mixnet_s")
    assert training_resolution(mixnet, TrainRecipe(dataset="cifar10-mini")) == 32
    assert training_resolution(mixnet.replace(resolution=24), TrainRecipe(dataset="cifar10-mini")) == 24
    assert training_resolution(mixnet, TrainRecipe(dataset="digits", resolution=96)) == 96


def test_small_inputs_keep_a_stride_one_stem_and_width_scales_the_arch(npz_file):
    data = load_split(str(npz_file), SIZE, 0.2)
    mixnet = load_preset("mixnet_s")
    small = trained_arch(mixnet, TrainRecipe(), data, 32)
    assert (small.resolution, small.stem_stride, small.num_classes, small.width_mult) == (32, 1, 3, 1.0)
    assert small.blocks == mixnet.blocks
    large = trained_arch(mixnet, TrainRecipe(width_mult=0.5), data, 64)
    assert (large.stem_stride, large.width_mult) == (2, 0.5)
    assert trained_arch(mixnet, TrainRecipe(stem_stride=2), data, 32).stem_stride == 2
