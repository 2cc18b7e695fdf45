"""A search space's choices as a vector and as Optuna parameters, and back to architectures.

An architecture picks, per stage, a depth and a width and then, for every layer independently,
one `LayerOption`; consecutive identical layers merge into one BlockSpec with repeats (the first
carries the stride), so an ArchSpec of the space is canonical. A choice that does not apply
(space_spec.APPLIES_WHEN) takes no parameter and its default value.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from .errors import SpecError
from .space_spec import LAYER_FIELDS, LayerOption, applies, default_value, kernels_text, merge_layers
from .spec import ArchSpec

if TYPE_CHECKING:
    from .space import SearchSpace


class Dim(NamedTuple):
    """One position of the choice vector, also one Optuna parameter (`name`)."""

    name: str
    stage: int
    layer: int  # -1 for the stage's depth and width
    field: str
    choices: tuple


class StageChoice(NamedTuple):
    """A stage as chosen: its depth, its width and one option per layer."""

    depth: int
    width: int
    options: tuple[LayerOption, ...]


def choice_dims(space: "SearchSpace") -> tuple[Dim, ...]:
    """Every choice with more than one value, in a fixed order; fixed choices take no position."""
    dims = []
    for i, stage in enumerate(space.stages):
        for field in ("depth", "width"):
            if len(getattr(stage, field)) > 1:
                dims.append(Dim(f"s{i}.{field}", i, -1, field, getattr(stage, field)))
        for layer in range(max(stage.depth)):
            for field in LAYER_FIELDS:
                choices = getattr(stage, field)
                if len(choices) > 1 and stage.relevant(field):
                    dims.append(Dim(f"s{i}.l{layer}.{field}", i, layer, field, choices))
    return tuple(dims)


def decode(space: "SearchSpace", vector: Sequence[int]) -> ArchSpec:
    """The architecture of a choice vector. Positions of absent layers and of choices that do not
    apply are ignored."""
    if len(vector) != len(space.dims):
        raise SpecError("vector", f"expected {len(space.dims)} choices for space {space.name!r}, got {len(vector)}")
    picked: dict[str, Any] = {}
    for dim, index in zip(space.dims, vector):
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) \
                or not 0 <= index < len(dim.choices):
            raise SpecError(f"vector[{dim.name}]", f"expected an index in [0, {len(dim.choices) - 1}], got {index!r}")
        picked[dim.name] = dim.choices[index]
    return arch_of(space, choose_stages(space, lambda name, choices: picked.get(name, choices[0])))


def encode(space: "SearchSpace", stages: list[StageChoice]) -> tuple[int, ...]:
    """The choice vector of an architecture's stage choices (0 where a position does not apply)."""
    vector = []
    for dim in space.dims:
        chosen = stages[dim.stage]
        value = dim.choices[0]
        if dim.layer < 0:
            value = getattr(chosen, dim.field)
        elif dim.layer < chosen.depth and applies(dim.field, chosen.options[dim.layer]._asdict()):
            value = getattr(chosen.options[dim.layer], dim.field)
        vector.append(dim.choices.index(value))
    return tuple(vector)


def sample(space: "SearchSpace", rng: np.random.Generator) -> ArchSpec:
    """Each choice uniformly and independently (uniform per choice, not per architecture)."""
    return decode(space, [int(rng.integers(size)) for size in space.choice_sizes])


def suggest(space: "SearchSpace", trial) -> ArchSpec:
    """Define-by-run proposal from an Optuna trial: categorical parameters named as the dims, a
    layer's parameters only for layers below the stage's depth; kernel sets as "3.5.7"."""
    def pick(name: str, choices: tuple):
        if len(choices) == 1:
            return choices[0]
        values = shown(name, choices)
        return choices[values.index(trial.suggest_categorical(name, values))]
    return arch_of(space, choose_stages(space, pick))


def from_params(space: "SearchSpace", params: Mapping[str, Any]) -> ArchSpec:
    """The architecture of a finished trial's `params` (e.g. `study.best_params`). Parameters that
    are not named like a stage choice ("s<i>.") are someone else's and ignored."""
    dims = {d.name: d for d in space.dims}
    unknown = sorted(k for k in set(params) - set(dims) if re.match(r"s\d+\.", str(k)))
    if unknown:
        raise SpecError(f"params[{unknown[0]}]", f"not a choice of space {space.name!r}; "
                                                 f"choices look like {', '.join(list(dims)[:3])} ...")

    def pick(name: str, choices: tuple):
        if len(choices) == 1:
            return choices[0]
        if name not in params:
            raise SpecError(f"params[{name}]", "missing; the trial did not come from this space")
        value, values = params[name], shown(name, choices)
        if value not in values:
            raise SpecError(f"params[{name}]", f"got {value!r}, allowed: {', '.join(map(str, values))}")
        return choices[values.index(value)]
    return arch_of(space, choose_stages(space, pick))


def choose_stages(space: "SearchSpace", pick: Callable[[str, tuple], Any]) -> list[StageChoice]:
    """Choose stage by stage, layer by layer, asking `pick(name, choices)` only for choices that apply."""
    stages = []
    for i, stage in enumerate(space.stages):
        depth, width = pick(f"s{i}.depth", stage.depth), pick(f"s{i}.width", stage.width)
        options = []
        for layer in range(depth):
            chosen: dict[str, Any] = {}
            for field in LAYER_FIELDS:
                chosen[field] = (pick(f"s{i}.l{layer}.{field}", getattr(stage, field)) if applies(field, chosen)
                                 else default_value(field))
            options.append(LayerOption(**chosen))
        stages.append(StageChoice(depth, width, tuple(options)))
    return stages


def arch_of(space: "SearchSpace", stages: list[StageChoice]) -> ArchSpec:
    layers = [option.block(stage.block_type, chosen.width, stage.stride if j == 0 else 1)
              for stage, chosen in zip(space.stages, stages) for j, option in enumerate(chosen.options)]
    return ArchSpec(blocks=merge_layers(layers), **network_fields(space))


def network_fields(space: "SearchSpace") -> dict[str, Any]:
    """The ArchSpec fields every architecture of the space shares."""
    return {"resolution": space.resolution, "num_classes": space.num_classes, "in_chans": space.in_chans,
            "stem_chs": space.stem_chs, "stem_stride": space.stem_stride, "head_chs": space.head_chs,
            "act": space.act, "dropout": space.dropout, "width_mult": 1.0}


def shown(name: str, choices: tuple) -> list:
    """Choices as Optuna categorical values (scalars): kernel sets as "3.5.7"."""
    return [kernels_text(c) for c in choices] if name.endswith(".kernels") else list(choices)
