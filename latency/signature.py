"""Canonical, stable signature strings of resolved layers and of their operations.

A table entry is keyed by the string, never by Python objects, so a table measured elsewhere (a
phone, another runtime) loads as long as it uses the same strings. Every field that changes the
measured module is in the string; nothing else is (dropout is off at inference, so it is not).
The strings are part of the file format (latency/FORMAT.md): change them only with a new
schema_version.

Two granularities:
- "layer": one entry per stem / block layer / head (MnasNet, Once-for-All).
- "op": a block layer is split into the operations that MixBlock runs one after another
  (expansion 1x1 conv+BN+act, MixConv+BN+act, squeeze-excite, projection 1x1 conv+BN [+ skip add]),
  each keyed only by the fields it depends on, so many blocks share entries.
"""
from __future__ import annotations

from functools import lru_cache

from mixsearch.search_space.layers import BlockLayer, HeadLayer, Layer, StemLayer

GRANULARITIES = ("layer", "op")


def _kernels(kernels: tuple[int, ...]) -> str:
    return ".".join(str(k) for k in kernels)


def stem_signature(layer: StemLayer) -> str:
    return (f"stem-i{layer.in_size}x{layer.in_chans}-o{layer.out_size}x{layer.out_chs}"
            f"-k{layer.kernel}-s{layer.stride}-{layer.act}")


def head_signature(layer: HeadLayer) -> str:
    return f"head-i{layer.in_size}x{layer.in_chs}-h{layer.head_chs}-c{layer.num_classes}-{layer.act}"


def block_signature(layer: BlockLayer) -> str:
    """e.g. ir-i56x24-o28x40-e144-k3.5.7-s2-d1-a1-p1-se12-swish-equal (e = mid channels)."""
    return (f"{layer.block_type}-i{layer.in_size}x{layer.in_chs}-o{layer.out_size}x{layer.out_chs}"
            f"-e{layer.mid_chs}-k{_kernels(layer.kernels)}-s{layer.stride}-d{layer.dilation}"
            f"-a{layer.exp_groups}-p{layer.proj_groups}-se{layer.se_chs}-{layer.act}-{layer.split}")


def expand_signature(layer: BlockLayer) -> str:
    return f"expand-i{layer.in_size}x{layer.in_chs}-o{layer.mid_chs}-g{layer.exp_groups}-{layer.act}"


def mixconv_signature(layer: BlockLayer) -> str:
    return (f"mixconv-i{layer.in_size}x{layer.mid_chs}-k{_kernels(layer.kernels)}-s{layer.stride}"
            f"-d{layer.dilation}-{layer.split}-{layer.act}")


def se_signature(layer: BlockLayer) -> str:
    return f"se-i{layer.out_size}x{layer.mid_chs}-r{layer.se_chs}-{layer.act}"


def project_signature(layer: BlockLayer) -> str:
    return (f"project-i{layer.out_size}x{layer.mid_chs}-o{layer.out_chs}-g{layer.proj_groups}"
            f"-skip{int(layer.has_skip)}")


def layer_signature(layer: Layer) -> str:
    if isinstance(layer, StemLayer):
        return stem_signature(layer)
    if isinstance(layer, HeadLayer):
        return head_signature(layer)
    if isinstance(layer, BlockLayer):
        return block_signature(layer)
    raise TypeError(f"not a layer: {layer!r}")


def op_signatures(layer: BlockLayer) -> tuple[str, ...]:
    """The operations of a block layer in execution order (only those it has)."""
    ops = [expand_signature(layer)] if layer.has_expansion else []
    ops.append(mixconv_signature(layer))
    if layer.se_chs:
        ops.append(se_signature(layer))
    ops.append(project_signature(layer))
    return tuple(ops)


@lru_cache(maxsize=65536)
def entry_signatures(layer: Layer, granularity: str) -> tuple[str, ...]:
    """The table keys whose sum is the layer's latency at this granularity."""
    if granularity == "op" and isinstance(layer, BlockLayer):
        return op_signatures(layer)
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    return (layer_signature(layer),)
