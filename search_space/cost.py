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

from .errors import SpecError
from .layers import HeadLayer, Layer, StemLayer, block_layers, resolve_layers, walk_rows
from .spec import ArchSpec, BlockSpec

# The most a network of this tool may cost, checked (`check_model_size`) before a spec from a file
# is accepted and before any model is built. Far above EfficientNet-B7 (66M params, 37G
# multiply-adds) and MixNet-L at the largest resolution, 2048 px (46G, largest map 0.2G values);
# a spec beyond them is a typo that would try to allocate tens of GiB or more.
MAX_PARAMS = 1_000_000_000
MAX_FLOPS = 1_000_000_000_000
MAX_FEATURE_MAP = 1 << 28  # values of the largest tensor at batch 1 (1 GiB in float32)


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


def layer_feature_map(layer: Layer) -> int:
    """Values of the largest tensor the layer takes or makes, at batch 1."""
    if isinstance(layer, StemLayer):
        return max(layer.in_chans * layer.in_size ** 2, layer.out_chs * layer.out_size ** 2)
    if isinstance(layer, HeadLayer):
        return max(max(layer.in_chs, layer.head_chs) * layer.in_size ** 2, layer.num_classes)
    return max(max(layer.in_chs, layer.mid_chs) * layer.in_size ** 2,
               max(layer.mid_chs, layer.out_chs) * layer.out_size ** 2)


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


def largest_feature_map(arch: ArchSpec) -> int:
    """Values of the largest tensor the network takes or makes at batch 1 (its input included)."""
    return max(layer_feature_map(layer) for layer in resolve_layers(arch))


def check_model_size(arch: ArchSpec) -> None:
    """Raise SpecError naming the measure and its limit when `arch` costs more than this tool builds."""
    where = f"at {arch.resolution} px"
    for measure, value, limit, fix in (
            ("params", count_params(arch), MAX_PARAMS, "fewer or narrower layers, or fewer classes"),
            ("multiply-adds", count_flops(arch), MAX_FLOPS, "a lower resolution, fewer or narrower layers"),
            ("largest feature map", largest_feature_map(arch), MAX_FEATURE_MAP,
             "a lower resolution, a stride-2 stem, or narrower early layers")):
        if value > limit:
            raise SpecError(measure, f"{value:.3g} {where}, over the limit of {limit:.3g} "
                                     f"(search_space/cost.py); use {fix}")
