"""Whether an architecture belongs to a search space, and the stage choices that give it.

Stage boundaries are read from the layers alone (a stride-1 stage's widths may not overlap the
previous stage's, space.py checks it), so at most a few depth splits are tried per stage.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .space_codec import StageChoice, network_fields
from .space_spec import LAYER_FIELDS, LayerOption, expand_layers
from .spec import ArchSpec, BlockSpec

if TYPE_CHECKING:
    from .space import SearchSpace


def parse_arch(space: "SearchSpace", arch: ArchSpec) -> list[StageChoice] | str:
    """The stage choices that give `arch` (its name aside), or a one-line reason why none do."""
    for name, want in network_fields(space).items():
        if getattr(arch, name) != want:
            return f"{name} is {getattr(arch, name)!r}, the space has {want!r}"
    layers = expand_layers(arch)
    failure = [-1, ""]  # the failure that got furthest explains best

    def fail(position: int, message: str) -> None:
        if position > failure[0]:
            failure[:] = [position, message]

    def parse(i: int, start: int) -> list[StageChoice] | None:
        if i == len(space.stages):
            if start == len(layers):
                return []
            fail(start, f"layer {start} and later lie beyond the space's last stage")
            return None
        for depth in space.stages[i].depth:
            chosen = _match_stage(space, i, layers[start:start + depth], depth, start, fail)
            if chosen is not None:
                rest = parse(i + 1, start + depth)
                if rest is not None:
                    return [chosen, *rest]
        return None

    stages = parse(0, 0)
    return stages if stages is not None else failure[1]


def _match_stage(space: "SearchSpace", i: int, layers: list[BlockSpec], depth: int, start: int,
                 fail) -> StageChoice | None:
    stage = space.stages[i]
    if len(layers) < depth:
        fail(start + len(layers), f"stage s{i} needs {depth} layers, the architecture has {len(layers)} left")
        return None
    width = layers[0].out_chs
    if width not in stage.width:
        fail(start, f"layer {start}: out_chs {width} not among stage s{i}'s widths {list(stage.width)}")
        return None
    options = []
    for j, layer in enumerate(layers):
        stride = stage.stride if j == 0 else 1
        reason = (f"out_chs {layer.out_chs}, the stage's width is {width}" if layer.out_chs != width else
                  f"stride {layer.stride}, expected {stride}" if layer.stride != stride else
                  stage.why_not_option(layer))
        if reason:
            fail(start + j, f"layer {start + j} (stage s{i}, layer {j}): {reason}")
            return None
        options.append(LayerOption(**{name: getattr(layer, name) for name in LAYER_FIELDS}))
    return StageChoice(depth, width, tuple(options))
