"""Exact parameters and multiply-adds as pure functions of the spec; no model is built.

Convention (that of the MixNet/MnasNet papers and of fvcore's conv/linear handles): multiply-adds
of every convolution (SE's 1x1 convs included) and of the classifier. Not counted: BatchNorm
(folded into the convs at inference), activations, the SE gate and the pooling means. fvcore's
default also counts BatchNorm (2 per element at inference) and adaptive pooling; tests compare
with those handles switched off, where the two agree exactly.
"""
from __future__ import annotations

from .layers import BlockLayer, HeadLayer, Layer, StemLayer, resolve_layers
from .spec import ArchSpec


def _grouped_1x1(in_splits: tuple[int, ...], out_splits: tuple[int, ...]) -> int:
    return sum(i * o for i, o in zip(in_splits, out_splits))


def layer_params(layer: Layer) -> int:
    if isinstance(layer, StemLayer):
        return layer.in_chans * layer.out_chs * layer.kernel ** 2 + 2 * layer.out_chs
    if isinstance(layer, HeadLayer):
        return (layer.in_chs * layer.head_chs + 2 * layer.head_chs
                + layer.head_chs * layer.num_classes + layer.num_classes)
    params = 0
    if layer.has_expansion:
        params += _grouped_1x1(*layer.exp_splits) + 2 * layer.mid_chs
    params += sum(c * k * k for c, k in zip(layer.dw_splits, layer.kernels)) + 2 * layer.mid_chs
    if layer.se_chs:
        params += 2 * layer.mid_chs * layer.se_chs + layer.se_chs + layer.mid_chs
    params += _grouped_1x1(*layer.proj_splits) + 2 * layer.out_chs
    return params


def layer_flops(layer: Layer) -> int:
    """Multiply-adds of one layer (see the module docstring for what counts)."""
    if isinstance(layer, StemLayer):
        return layer.in_chans * layer.out_chs * layer.kernel ** 2 * layer.out_size ** 2
    if isinstance(layer, HeadLayer):
        return layer.in_chs * layer.head_chs * layer.in_size ** 2 + layer.head_chs * layer.num_classes
    in_area, out_area = layer.in_size ** 2, layer.out_size ** 2
    flops = 0
    if layer.has_expansion:
        flops += _grouped_1x1(*layer.exp_splits) * in_area
    flops += sum(c * k * k for c, k in zip(layer.dw_splits, layer.kernels)) * out_area
    if layer.se_chs:
        flops += 2 * layer.mid_chs * layer.se_chs
    flops += _grouped_1x1(*layer.proj_splits) * out_area
    return flops


def count_params(arch: ArchSpec) -> int:
    return sum(layer_params(layer) for layer in resolve_layers(arch))


def count_flops(arch: ArchSpec) -> int:
    return sum(layer_flops(layer) for layer in resolve_layers(arch))
