"""How big a search space is and what its architectures can cost, computed from its choice lists
without enumerating architectures: the exact count, every distinct layer (what a latency table
times), and exact (min, max) bounds of any per-layer additive cost."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .layers import HeadLayer, Layer, StemLayer, block_layers, out_size

if TYPE_CHECKING:
    from .space import SearchSpace


def size(space: "SearchSpace") -> int:
    """The exact number of distinct architectures."""
    total = 1
    for stage in space.stages:
        options = stage.option_count()
        total *= len(stage.width) * sum(options ** d for d in stage.depth)
    return total


def layer_count(space: "SearchSpace") -> int:
    """An upper bound of len(possible_layers()), counted without building a layer: what `space
    info`, the cost bounds and a latency table spend time on."""
    total, previous = 2 + len(space.stages[-1].width), 1  # stem, head(s)
    for stage in space.stages:
        options = stage.option_count()
        total += len(stage.width) * options * (previous + (1 if max(stage.depth) > 1 else 0))
        previous = len(stage.width)
    return total


def _stage_sizes(space: "SearchSpace") -> list[tuple[int, int]]:
    """(input size, output size) of every stage's first layer."""
    size_now = out_size(space.resolution, space.stem_stride)
    sizes = []
    for stage in space.stages:
        sizes.append((size_now, out_size(size_now, stage.stride)))
        size_now = sizes[-1][1]
    return sizes


def _stem(space: "SearchSpace") -> StemLayer:
    return StemLayer(in_chans=space.in_chans, out_chs=space.stem_chs, in_size=space.resolution, act=space.act,
                     stride=space.stem_stride)


def _head(space: "SearchSpace", in_chs: int) -> HeadLayer:
    return HeadLayer(in_chs=in_chs, head_chs=space.head_chs, in_size=_stage_sizes(space)[-1][1], act=space.act,
                     num_classes=space.num_classes, dropout=space.dropout)


def _stage_layers(space: "SearchSpace", i: int, in_chs: int, width: int, first: bool) -> list:
    """The resolved layer of every option, for the stage's first layer or for a later one."""
    stage = space.stages[i]
    in_size, out = _stage_sizes(space)[i]
    size_in, stride = (in_size, stage.stride) if first else (out, 1)
    return [block_layers(option.block(stage.block_type, width, stride), in_chs, size_in, 1.0, f"stages[{i}]")[0]
            for option in stage.layer_options()]


def possible_layers(space: "SearchSpace") -> frozenset[Layer]:
    """Every distinct stem, block and head layer an architecture of the space can resolve to."""
    layers: set[Layer] = {_stem(space)}
    prev = (space.stem_chs,)
    for i, stage in enumerate(space.stages):
        for width in stage.width:
            for in_chs in prev:
                layers.update(_stage_layers(space, i, in_chs, width, first=True))
            if max(stage.depth) > 1:
                layers.update(_stage_layers(space, i, width, width, first=False))
        prev = stage.width
    layers.update(_head(space, width) for width in prev)
    return frozenset(layers)


def cost_bounds(space: "SearchSpace", layer_cost: Callable[[Layer], float]) -> tuple[float, float]:
    """Exact (min, max) over the space of the sum of `layer_cost` over an architecture's layers.

    Layers choose independently, so each stage's extreme is its depth times a layer's extreme; only
    the width couples neighbouring stages (a layer's input channels), which a dynamic programme over
    (stage, width) handles.
    """
    def extremes(values: list[float]) -> tuple[float, float]:
        return min(values), max(values)

    stem = layer_cost(_stem(space))
    best = {space.stem_chs: (stem, stem)}  # previous width -> (min, max) cost so far
    for i, stage in enumerate(space.stages):
        new = {}
        for width in stage.width:
            later = (extremes([layer_cost(layer) for layer in _stage_layers(space, i, width, width, False)])
                     if max(stage.depth) > 1 else (0, 0))
            lo = hi = None
            for in_chs, (prev_lo, prev_hi) in best.items():
                first = extremes([layer_cost(layer) for layer in _stage_layers(space, i, in_chs, width, True)])
                for depth in stage.depth:
                    cand_lo = prev_lo + first[0] + (depth - 1) * later[0]
                    cand_hi = prev_hi + first[1] + (depth - 1) * later[1]
                    lo = cand_lo if lo is None else min(lo, cand_lo)
                    hi = cand_hi if hi is None else max(hi, cand_hi)
            new[width] = (lo, hi)
        best = new
    totals = [(lo + layer_cost(_head(space, w)), hi + layer_cost(_head(space, w))) for w, (lo, hi) in best.items()]
    return min(t[0] for t in totals), max(t[1] for t in totals)
