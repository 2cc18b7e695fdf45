"""The search space as data: network fields plus a list of stages (`space_spec.StageSpace`).

This module holds the data, its YAML form and its validation; the other jobs live beside it and
`SearchSpace`'s methods call them: the choice codec (space_codec.py: vector, Optuna parameters,
sampling), membership (space_membership.py) and size and cost bounds (space_cost.py).

Stage boundaries must be readable from the layers alone: a stride-1 stage's widths may not overlap
the previous stage's. This makes choices <-> architectures a bijection, so `size()` is a closed-form
product, `encode` is defined on every member and `decode(encode(a))` gives `a` back.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import yaml

from . import checks, space_codec, space_cost, space_membership
from .arch_io import parse_yaml, read_spec_text
from .cost import layer_flops, layer_params
from .errors import SpecError
from .layers import Layer, min_split_channels
from .space_codec import Dim
from .space_spec import StageSpace, applies
from .spec import ACTIVATIONS, INT_RANGES, ArchSpec, require

SPACE_SCHEMA_VERSION = 1
# Distinct layers a space may have (the default: 7,084): bounds `space info`, the cost bounds and a latency build.
MAX_SPACE_LAYERS = 100_000
_NETWORK_FIELDS = ("name", "resolution", "num_classes", "in_chans", "stem_chs", "stem_stride", "head_chs",
                   "act", "dropout")


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
        require("resolution", self.resolution, checks.integer(*INT_RANGES["resolution"]))
        require("num_classes", self.num_classes, checks.integer(*INT_RANGES["num_classes"]))
        require("in_chans", self.in_chans, checks.integer(*INT_RANGES["in_chans"]))
        require("stem_chs", self.stem_chs, checks.integer(*INT_RANGES["channels"]))
        if isinstance(self.stem_stride, bool) or self.stem_stride not in (1, 2):
            raise SpecError("stem_stride", f"got {self.stem_stride!r}, allowed: 1, 2")
        require("head_chs", self.head_chs, checks.integer(*INT_RANGES["channels"]))
        if self.act not in ACTIVATIONS:
            raise SpecError("act", f"got {self.act!r}, allowed: {', '.join(ACTIVATIONS)}")
        require("dropout", self.dropout, checks.number(0.0, 0.99))
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
        """An upper bound of the number of distinct layers (space_cost.layer_count)."""
        return space_cost.layer_count(self)

    def _check_splittable(self, i: int) -> None:
        """Every channel count any layer can have must split into the groups it may be given."""
        stage, path = self.stages[i], f"stages[{i}]"
        ins = list(self.stages[i - 1].width if i else (self.stem_chs,))
        if max(stage.depth) > 1:
            ins += stage.width
        min_in, min_out = min(ins), min(stage.width)
        min_mid = min_in * min(stage.exp_ratio)
        for j, kernels in enumerate(stage.kernels):
            for split in stage.split if applies("split", {"kernels": kernels}) else ():
                if min_mid < min_split_channels(len(kernels), split):
                    raise SpecError(f"{path}.kernels[{j}]",
                                    f"{min_mid} depthwise channels (input {min_in} x exp_ratio {min(stage.exp_ratio)}) "
                                    f"cannot be split into {len(kernels)} groups with the {split!r} split; "
                                    "use fewer kernels or wider stages")
        if stage.relevant("exp_groups"):
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

    # ---- the choice codec (space_codec.py) ---------------------------------------------------------
    @cached_property
    def dims(self) -> tuple[Dim, ...]:
        """Every choice with more than one value, in a fixed order; fixed choices take no position."""
        return space_codec.choice_dims(self)

    @property
    def choice_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    @property
    def choice_sizes(self) -> tuple[int, ...]:
        return tuple(len(d.choices) for d in self.dims)

    def decode(self, vector: Sequence[int]) -> ArchSpec:
        return space_codec.decode(self, vector)

    def encode(self, arch: ArchSpec) -> tuple[int, ...]:
        """The choice vector of an architecture of the space (0 where a position does not apply)."""
        stages = space_membership.parse_arch(self, arch)
        if isinstance(stages, str):
            raise SpecError("arch", f"not in search space {self.name!r}: {stages}")
        return space_codec.encode(self, stages)

    def sample(self, rng: np.random.Generator) -> ArchSpec:
        return space_codec.sample(self, rng)

    def suggest(self, trial) -> ArchSpec:
        return space_codec.suggest(self, trial)

    def from_params(self, params: Mapping[str, Any]) -> ArchSpec:
        return space_codec.from_params(self, params)

    # ---- membership (space_membership.py) ---------------------------------------------------------
    def contains(self, arch: ArchSpec) -> bool:
        return self.why_not(arch) is None

    def why_not(self, arch: ArchSpec) -> str | None:
        """None if `arch` (its name aside) is an architecture of this space, else the first reason."""
        result = space_membership.parse_arch(self, arch)
        return result if isinstance(result, str) else None

    # ---- size and cost (space_cost.py) ------------------------------------------------------------
    def size(self) -> int:
        return space_cost.size(self)

    def possible_layers(self) -> frozenset[Layer]:
        return space_cost.possible_layers(self)

    def cost_bounds(self, layer_cost: Callable[[Layer], float]) -> tuple[float, float]:
        return space_cost.cost_bounds(self, layer_cost)

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
