"""The search space as data: network fields plus a list of stages (`space_spec.StageSpace`).

An architecture of the space picks, per stage, a depth and a width and then, for every layer
independently, one `LayerOption`. Consecutive identical layers are merged into one BlockSpec with
repeats (the first carries the stride), so an ArchSpec of the space is canonical and equality of
specs is equality of networks.

Stage boundaries must be readable from the layers alone: a stride-1 stage's widths may not
overlap the previous stage's. This makes choices <-> architectures a bijection, so `size()` is a
closed-form product, `encode` is defined on every member and `decode(encode(a))` gives `a` back.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np
import yaml

from .arch_io import parse_yaml, read_spec_text
from .cost import layer_flops, layer_params
from .errors import SpecError
from .layers import HeadLayer, Layer, StemLayer, block_layers, min_split_channels, out_size
from .spec import ACTIVATIONS, INT_RANGES, ArchSpec, BlockSpec, _check_int, _check_number
from .space_spec import LAYER_FIELDS, LayerOption, StageSpace, expand_layers, kernels_text, merge_layers

SPACE_SCHEMA_VERSION = 1
# Distinct layers a space may have (the default: 7,084): bounds `space info`, the cost bounds and a latency build.
MAX_SPACE_LAYERS = 100_000
_NETWORK_FIELDS = ("name", "resolution", "num_classes", "in_chans", "stem_chs", "stem_stride", "head_chs",
                   "act", "dropout")


class Dim(NamedTuple):
    """One position of the choice vector, also one Optuna parameter (`name`)."""

    name: str
    stage: int
    layer: int  # -1 for the stage's depth and width
    field: str
    choices: tuple


class _Stage(NamedTuple):
    """A stage as chosen: its depth, its width and one option per layer."""

    depth: int
    width: int
    options: tuple[LayerOption, ...]


@dataclass(frozen=True)
class SearchSpace:
    stages: tuple[StageSpace, ...]
    name: str = "space"
    resolution: int = 224
    num_classes: int = 1000
    in_chans: int = 3
    stem_chs: int = 16
    stem_stride: int = 2
    head_chs: int = 1536
    act: str = "relu"
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if isinstance(self.stages, list):
            object.__setattr__(self, "stages", tuple(self.stages))
        self.validate()

    # ---- data ---------------------------------------------------------------------------------
    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError("name", f"expected a non-empty string, got {self.name!r}")
        _check_int("resolution", self.resolution, *INT_RANGES["resolution"])
        _check_int("num_classes", self.num_classes, *INT_RANGES["num_classes"])
        _check_int("in_chans", self.in_chans, *INT_RANGES["in_chans"])
        _check_int("stem_chs", self.stem_chs, *INT_RANGES["channels"])
        if isinstance(self.stem_stride, bool) or self.stem_stride not in (1, 2):
            raise SpecError("stem_stride", f"got {self.stem_stride!r}, allowed: 1, 2")
        _check_int("head_chs", self.head_chs, *INT_RANGES["channels"])
        if self.act not in ACTIVATIONS:
            raise SpecError("act", f"got {self.act!r}, allowed: {', '.join(ACTIVATIONS)}")
        _check_number("dropout", self.dropout, 0.0, 0.99)
        if not isinstance(self.stages, tuple) or not self.stages:
            raise SpecError("stages", "expected a non-empty list of stages")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, StageSpace):
                raise SpecError(f"stages[{i}]", f"expected a stage, got {type(stage).__name__}")
            if i and stage.stride == 1 and set(stage.width) & set(self.stages[i - 1].width):
                raise SpecError(f"stages[{i}].width",
                                f"a stride-1 stage's widths {list(stage.width)} overlap the previous stage's "
                                f"{list(self.stages[i - 1].width)}, so the stage boundary could not be read "
                                "back from an architecture; make the widths disjoint or use stride 2")
            self._check_splittable(i)
        layers = self.layer_count()
        if layers > MAX_SPACE_LAYERS:
            raise SpecError("stages", f"the choice lists make {layers:,} distinct layers, more than "
                                      f"{MAX_SPACE_LAYERS:,} (the default space has about 7,000); every one is "
                                      "costed and timed for a latency table, so shorten the width or per-layer "
                                      "choice lists")

    def layer_count(self) -> int:
        """An upper bound of len(possible_layers()), counted without building a layer: what
        `space info`, the cost bounds and a latency table spend time on."""
        total, previous = 2 + len(self.stages[-1].width), 1  # stem, head(s)
        for stage in self.stages:
            options = stage.option_count()
            total += len(stage.width) * options * (previous + (1 if max(stage.depth) > 1 else 0))
            previous = len(stage.width)
        return total

    def _check_splittable(self, i: int) -> None:
        """Every channel count any layer can have must split into the groups it may be given."""
        stage, path = self.stages[i], f"stages[{i}]"
        ins = list(self.stages[i - 1].width if i else (self.stem_chs,))
        if max(stage.depth) > 1:
            ins += stage.width
        min_in, min_out = min(ins), min(stage.width)
        min_mid = min_in * min(stage.exp_ratio)
        for j, kernels in enumerate(stage.kernels):
            for split in stage.split if len(kernels) > 1 else ():
                if min_mid < min_split_channels(len(kernels), split):
                    raise SpecError(f"{path}.kernels[{j}]",
                                    f"{min_mid} depthwise channels (input {min_in} x exp_ratio {min(stage.exp_ratio)}) "
                                    f"cannot be split into {len(kernels)} groups with the {split!r} split; "
                                    "use fewer kernels or wider stages")
        if any(e > 1 for e in stage.exp_ratio):
            for j, groups in enumerate(stage.exp_groups):
                if min_in < groups:
                    raise SpecError(f"{path}.exp_groups[{j}]", f"{min_in} input channels cannot be split into "
                                                                f"{groups} groups; use fewer groups or wider stages")
        for j, groups in enumerate(stage.proj_groups):
            if min(min_mid, min_out) < groups:
                raise SpecError(f"{path}.proj_groups[{j}]", f"{min(min_mid, min_out)} channels cannot be split into "
                                                             f"{groups} groups; use fewer groups or wider stages")

    def replace(self, **changes: Any) -> "SearchSpace":
        """A copy with some fields changed (e.g. resolution=32 for a proxy), validated again."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"schema_version": SPACE_SCHEMA_VERSION, "kind": "space"}
        d.update({name: getattr(self, name) for name in _NETWORK_FIELDS})
        d["stages"] = [stage.to_dict() for stage in self.stages]
        return d

    @classmethod
    def from_dict(cls, data: Any) -> "SearchSpace":
        if not isinstance(data, Mapping):
            raise SpecError("", f"expected a mapping with a search space (stages: [...]), got {type(data).__name__}")
        allowed = ("schema_version", "kind", *_NETWORK_FIELDS, "stages")
        unknown = sorted(set(data) - set(allowed), key=str)
        if unknown:
            raise SpecError(str(unknown[0]), f"unknown key; allowed keys: {', '.join(allowed)}")
        version = data.get("schema_version", SPACE_SCHEMA_VERSION)
        if version != SPACE_SCHEMA_VERSION:
            raise SpecError("schema_version", f"got {version!r}, this mixsearch reads {SPACE_SCHEMA_VERSION}")
        if data.get("kind", "space") != "space":
            raise SpecError("kind", f"got {data.get('kind')!r}; a search space file has kind 'space'")
        stages = data.get("stages")
        if not isinstance(stages, list) or not stages:
            raise SpecError("stages", f"expected a non-empty list of stages, got {stages!r}")
        act = data.get("act", "relu")
        default_act = act if act in ACTIVATIONS else "relu"
        fields = {name: data[name] for name in _NETWORK_FIELDS if name in data}
        return cls(stages=tuple(StageSpace.from_dict(s, f"stages[{i}]", default_act) for i, s in enumerate(stages)),
                   **fields)

    def fingerprint(self) -> str:
        """sha256 of the canonical content; the name is a label and left out."""
        content = {k: v for k, v in self.to_dict().items() if k != "name"}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    # ---- the choice vector ----------------------------------------------------------------------
    @cached_property
    def dims(self) -> tuple[Dim, ...]:
        """Every choice with more than one value, in a fixed order; fixed choices take no position."""
        dims = []
        for i, stage in enumerate(self.stages):
            for field in ("depth", "width"):
                if len(getattr(stage, field)) > 1:
                    dims.append(Dim(f"s{i}.{field}", i, -1, field, getattr(stage, field)))
            for layer in range(max(stage.depth)):
                for field in LAYER_FIELDS:
                    choices = getattr(stage, field)
                    relevant = (field != "split" or any(len(k) > 1 for k in stage.kernels)) and \
                               (field != "exp_groups" or any(e > 1 for e in stage.exp_ratio))
                    if len(choices) > 1 and relevant:
                        dims.append(Dim(f"s{i}.l{layer}.{field}", i, layer, field, choices))
        return tuple(dims)

    @property
    def choice_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    @property
    def choice_sizes(self) -> tuple[int, ...]:
        return tuple(len(d.choices) for d in self.dims)

    def decode(self, vector: Sequence[int]) -> ArchSpec:
        """The architecture of a choice vector. Positions of absent layers and of choices that do
        not apply (exp_groups without expansion, split with one kernel) are ignored."""
        if len(vector) != len(self.dims):
            raise SpecError("vector", f"expected {len(self.dims)} choices for space {self.name!r}, got {len(vector)}")
        picked: dict[str, Any] = {}
        for dim, index in zip(self.dims, vector):
            if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) \
                    or not 0 <= index < len(dim.choices):
                raise SpecError(f"vector[{dim.name}]", f"expected an index in [0, {len(dim.choices) - 1}], got {index!r}")
            picked[dim.name] = dim.choices[index]
        return self._arch(self._stages_from(lambda name, choices: picked.get(name, choices[0])))

    def encode(self, arch: ArchSpec) -> tuple[int, ...]:
        """The choice vector of an architecture of the space (0 where a position does not apply)."""
        stages = self._parse(arch)
        if isinstance(stages, str):
            raise SpecError("arch", f"not in search space {self.name!r}: {stages}")
        vector = []
        for dim in self.dims:
            chosen = stages[dim.stage]
            if dim.layer < 0:
                value = getattr(chosen, dim.field)
            elif dim.layer < chosen.depth:
                value = getattr(chosen.options[dim.layer], dim.field)
                if (dim.field == "split" and len(chosen.options[dim.layer].kernels) == 1) or \
                        (dim.field == "exp_groups" and chosen.options[dim.layer].exp_ratio == 1):
                    value = dim.choices[0]
            else:
                value = dim.choices[0]
            vector.append(dim.choices.index(value))
        return tuple(vector)

    def sample(self, rng: np.random.Generator) -> ArchSpec:
        """Each choice uniformly and independently (uniform per choice, not per architecture)."""
        return self.decode([int(rng.integers(size)) for size in self.choice_sizes])

    def suggest(self, trial) -> ArchSpec:
        """Define-by-run proposal from an Optuna trial: categorical parameters named as `choice_names`,
        a layer's parameters only for layers below the stage's depth; kernel sets as "3.5.7"."""
        def pick(name: str, choices: tuple):
            if len(choices) == 1:
                return choices[0]
            shown = _shown(name, choices)
            return choices[shown.index(trial.suggest_categorical(name, shown))]
        return self._arch(self._stages_from(pick))

    def from_params(self, params: Mapping[str, Any]) -> ArchSpec:
        """The architecture of a finished trial's `params` (e.g. `study.best_params`). Parameters
        that are not named like a stage choice ("s<i>.") are someone else's and ignored."""
        dims = {d.name: d for d in self.dims}
        unknown = sorted(k for k in set(params) - set(dims) if re.match(r"s\d+\.", str(k)))
        if unknown:
            raise SpecError(f"params[{unknown[0]}]", f"not a choice of space {self.name!r}; "
                                                     f"choices look like {', '.join(list(dims)[:3])} ...")

        def pick(name: str, choices: tuple):
            if len(choices) == 1:
                return choices[0]
            if name not in params:
                raise SpecError(f"params[{name}]", "missing; the trial did not come from this space")
            value = params[name]
            shown = _shown(name, choices)
            if value not in shown:
                raise SpecError(f"params[{name}]", f"got {value!r}, allowed: {', '.join(map(str, shown))}")
            return choices[shown.index(value)]
        return self._arch(self._stages_from(pick))

    def _stages_from(self, pick: Callable[[str, tuple], Any]) -> list[_Stage]:
        """Choose stage by stage, layer by layer, asking `pick(name, choices)` only for choices that apply."""
        stages = []
        for i, stage in enumerate(self.stages):
            depth, width = pick(f"s{i}.depth", stage.depth), pick(f"s{i}.width", stage.width)
            options = []
            for layer in range(depth):
                p = f"s{i}.l{layer}."
                kernels = pick(p + "kernels", stage.kernels)
                exp_ratio = pick(p + "exp_ratio", stage.exp_ratio)
                se_ratio = pick(p + "se_ratio", stage.se_ratio)
                act = pick(p + "act", stage.act)
                split = pick(p + "split", stage.split) if len(kernels) > 1 else "equal"
                exp_groups = pick(p + "exp_groups", stage.exp_groups) if exp_ratio > 1 else 1
                proj_groups = pick(p + "proj_groups", stage.proj_groups)
                options.append(LayerOption(kernels, exp_ratio, se_ratio, act, split, exp_groups, proj_groups))
            stages.append(_Stage(depth, width, tuple(options)))
        return stages

    def _arch(self, stages: list[_Stage]) -> ArchSpec:
        layers = [option.block(stage.block_type, chosen.width, stage.stride if j == 0 else 1)
                  for stage, chosen in zip(self.stages, stages) for j, option in enumerate(chosen.options)]
        return ArchSpec(blocks=merge_layers(layers), **self._network_fields())

    def _network_fields(self) -> dict[str, Any]:
        return {"resolution": self.resolution, "num_classes": self.num_classes, "in_chans": self.in_chans,
                "stem_chs": self.stem_chs, "stem_stride": self.stem_stride, "head_chs": self.head_chs,
                "act": self.act, "dropout": self.dropout, "width_mult": 1.0}

    # ---- membership -----------------------------------------------------------------------------
    def contains(self, arch: ArchSpec) -> bool:
        return self.why_not(arch) is None

    def why_not(self, arch: ArchSpec) -> str | None:
        """None if `arch` (its name aside) is an architecture of this space, else the first reason."""
        result = self._parse(arch)
        return result if isinstance(result, str) else None

    def _parse(self, arch: ArchSpec) -> list[_Stage] | str:
        """The stage choices that give `arch`, or a one-line reason why none do."""
        for name, want in self._network_fields().items():
            if getattr(arch, name) != want:
                return f"{name} is {getattr(arch, name)!r}, the space has {want!r}"
        layers = expand_layers(arch)
        failure = [-1, ""]  # the failure that got furthest explains best

        def fail(position: int, message: str) -> None:
            if position > failure[0]:
                failure[:] = [position, message]

        def parse(i: int, start: int) -> list[_Stage] | None:
            if i == len(self.stages):
                if start == len(layers):
                    return []
                fail(start, f"layer {start} and later lie beyond the space's last stage")
                return None
            stage = self.stages[i]
            for depth in stage.depth:
                chosen = self._match_stage(i, layers[start:start + depth], depth, start, fail)
                if chosen is not None:
                    rest = parse(i + 1, start + depth)
                    if rest is not None:
                        return [chosen, *rest]
            return None

        stages = parse(0, 0)
        return stages if stages is not None else failure[1]

    def _match_stage(self, i: int, layers: list[BlockSpec], depth: int, start: int, fail) -> _Stage | None:
        stage = self.stages[i]
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
            options.append(LayerOption(layer.kernels, layer.exp_ratio, layer.se_ratio, layer.act, layer.split,
                                       layer.exp_groups, layer.proj_groups))
        return _Stage(depth, width, tuple(options))

    # ---- size and cost --------------------------------------------------------------------------
    def size(self) -> int:
        """The exact number of distinct architectures."""
        total = 1
        for stage in self.stages:
            options = len(stage.layer_options())
            total *= len(stage.width) * sum(options ** d for d in stage.depth)
        return total

    def _stage_sizes(self) -> list[tuple[int, int]]:
        """(input size, output size) of every stage's first layer."""
        size = out_size(self.resolution, self.stem_stride)
        sizes = []
        for stage in self.stages:
            sizes.append((size, out_size(size, stage.stride)))
            size = sizes[-1][1]
        return sizes

    def _stem(self) -> StemLayer:
        return StemLayer(in_chans=self.in_chans, out_chs=self.stem_chs, in_size=self.resolution, act=self.act,
                         stride=self.stem_stride)

    def _head(self, in_chs: int) -> HeadLayer:
        return HeadLayer(in_chs=in_chs, head_chs=self.head_chs, in_size=self._stage_sizes()[-1][1], act=self.act,
                         num_classes=self.num_classes, dropout=self.dropout)

    def _stage_layers(self, i: int, in_chs: int, width: int, first: bool) -> list:
        """The resolved layer of every option, for the stage's first layer or for a later one."""
        stage = self.stages[i]
        in_size, out = self._stage_sizes()[i]
        size, stride = (in_size, stage.stride) if first else (out, 1)
        return [block_layers(option.block(stage.block_type, width, stride), in_chs, size, 1.0, f"stages[{i}]")[0]
                for option in stage.layer_options()]

    def possible_layers(self) -> frozenset[Layer]:
        """Every distinct stem, block and head layer an architecture of the space can resolve to."""
        layers: set[Layer] = {self._stem()}
        prev = (self.stem_chs,)
        for i, stage in enumerate(self.stages):
            for width in stage.width:
                for in_chs in prev:
                    layers.update(self._stage_layers(i, in_chs, width, first=True))
                if max(stage.depth) > 1:
                    layers.update(self._stage_layers(i, width, width, first=False))
            prev = stage.width
        layers.update(self._head(width) for width in prev)
        return frozenset(layers)

    def cost_bounds(self, layer_cost: Callable[[Layer], float]) -> tuple[float, float]:
        """Exact (min, max) over the space of the sum of `layer_cost` over an architecture's layers.

        Layers choose independently, so each stage's extreme is its depth times a layer's extreme;
        only the width couples neighbouring stages (a layer's input channels), which a dynamic
        programme over (stage, width) handles.
        """
        def extremes(values: list[float]) -> tuple[float, float]:
            return min(values), max(values)

        stem = layer_cost(self._stem())
        best = {self.stem_chs: (stem, stem)}  # previous width -> (min, max) cost so far
        for i, stage in enumerate(self.stages):
            new = {}
            for width in stage.width:
                later = (extremes([layer_cost(l) for l in self._stage_layers(i, width, width, False)])
                         if max(stage.depth) > 1 else (0, 0))
                lo = hi = None
                for in_chs, (prev_lo, prev_hi) in best.items():
                    first = extremes([layer_cost(l) for l in self._stage_layers(i, in_chs, width, True)])
                    for depth in stage.depth:
                        cand_lo = prev_lo + first[0] + (depth - 1) * later[0]
                        cand_hi = prev_hi + first[1] + (depth - 1) * later[1]
                        lo = cand_lo if lo is None else min(lo, cand_lo)
                        hi = cand_hi if hi is None else max(hi, cand_hi)
                new[width] = (lo, hi)
            best = new
        totals = [(lo + layer_cost(self._head(w)), hi + layer_cost(self._head(w))) for w, (lo, hi) in best.items()]
        return min(t[0] for t in totals), max(t[1] for t in totals)

    @cached_property
    def _flop_bounds(self) -> tuple[int, int]:
        return self.cost_bounds(layer_flops)

    @cached_property
    def _param_bounds(self) -> tuple[int, int]:
        return self.cost_bounds(layer_params)

    def min_flops(self) -> int:
        return self._flop_bounds[0]

    def max_flops(self) -> int:
        return self._flop_bounds[1]

    def min_params(self) -> int:
        return self._param_bounds[0]

    def max_params(self) -> int:
        return self._param_bounds[1]


def _shown(name: str, choices: tuple) -> list:
    """Choices as Optuna categorical values (scalars): kernel sets as "3.5.7"."""
    return [kernels_text(c) for c in choices] if name.endswith(".kernels") else list(choices)


def dump_space(space: SearchSpace) -> str:
    """YAML text of a space; stages in flow style so each choice list reads on one line."""
    doc = space.to_dict()
    lines = yaml.safe_dump({k: v for k, v in doc.items() if k != "stages"}, sort_keys=False).splitlines()
    lines.append("stages:")
    for stage in doc["stages"]:
        for j, (key, value) in enumerate(stage.items()):
            text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
            if text.endswith("\n..."):
                text = text[:-4].strip()
            lines.append(f"{'- ' if j == 0 else '  '}{key}: {text}")
    return "\n".join(lines) + "\n"


def loads_space(text: str, source: str = "<string>") -> SearchSpace:
    try:
        return SearchSpace.from_dict(parse_yaml(text, source))
    except SpecError as err:
        raise err.with_source(source) from None


def space_names() -> list[str]:
    folder = resources.files("mixsearch.search_space") / "spaces"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_space(path_or_name: str | os.PathLike) -> SearchSpace:
    """A search space from a YAML file, or a shipped space by name (e.g. 'default')."""
    if isinstance(path_or_name, str) and path_or_name in space_names():
        text = (resources.files("mixsearch.search_space") / "spaces" / f"{path_or_name}.yaml").read_text()
        return loads_space(text, source=f"space {path_or_name}")
    text = read_spec_text(path_or_name, "a search space YAML",
                          f"give the path of a space YAML or a shipped space name: {', '.join(space_names())}")
    return loads_space(text, str(path_or_name))


@lru_cache(maxsize=1)
def default_space() -> SearchSpace:
    """The MixNet-S-like space at 224x224 and 1000 classes; MixNet-S lies inside it. Shared: a
    space is immutable, and its cost bounds are computed once."""
    return load_space("default")
