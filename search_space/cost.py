"""Exact parameters and multiply-adds as pure functions of the spec; no model is built.

Convention (that of the MixNet/MnasNet papers and of fvcore's conv/linear handles): multiply-adds
of every convolution (SE's 1x1 convs included) and of the classifier. Not counted: BatchNorm
(folded into the convs at inference), activations, the SE gate and the pooling means. fvcore's
default also counts BatchNorm (2 per element at inference) and adaptive pooling; tests compare
with those handles switched off, where the two agree exactly. Note: in fvcore 0.1.5
`set_op_handle("aten::batch_norm", None)` does NOT switch the default handle off (the handle is
looked up before the ignore list); replace it with a handle returning 0 instead.
"""
from __future__ import annotations

from functools import lru_cache

from .layers import HeadLayer, Layer, StemLayer, block_layers, walk_rows
from .spec import ArchSpec, BlockSpec


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


@lru_cache(maxsize=1 << 16)
def _layer_cost(layer: Layer) -> tuple[int, int]:
    return layer_flops(layer), layer_params(layer)


@lru_cache(maxsize=1 << 15)
def _row_cost(block: BlockSpec, in_chs: int, in_size: int, width_mult: float, path: str) -> tuple[int, int]:
    flops = params = 0
    for layer in block_layers(block, in_chs, in_size, width_mult, path):
        f, p = _layer_cost(layer)
        flops, params = flops + f, params + p
    return flops, params


@lru_cache(maxsize=4096)
def _arch_cost(arch: ArchSpec) -> tuple[int, int]:
    """(multiply-adds, params) in one pass. Searches ask for both of one spec in a row and meet the
    same block rows and layers again and again; everything here is pure, so caching is safe
    (benchmarks/bench_cost.py measures the gain). Errors are not cached."""
    stem, rows, head = walk_rows(arch)
    (flops, params), (head_flops, head_params) = _layer_cost(stem), _layer_cost(head)
    for block, in_chs, in_size, path in rows:
        f, p = _row_cost(block, in_chs, in_size, arch.width_mult, path)
        flops, params = flops + f, params + p
    return flops + head_flops, params + head_params


def count_params(arch: ArchSpec) -> int:
    return _arch_cost(arch)[1]


def count_flops(arch: ArchSpec) -> int:
    return _arch_cost(arch)[0]
