"""One stage of a search space as data: the stride, the depth and width choices, and the choice lists
every layer of the stage draws from independently.

A stage's layers share the stage's width (output channels); the first layer takes the stride and
the previous stage's width as its input. `LayerOption` is one canonical per-layer choice: the
expansion groups are 1 when there is no expansion conv and the split is "equal" for a single
kernel, since the other values would name the same network twice.
"""
from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from . import checks
from .errors import SpecError
from .spec import ACTIVATIONS, BLOCK_TYPES, INT_RANGES, MAX_KERNEL_GROUPS, SPLITS, ArchSpec, BlockSpec, require

# A stage deeper than this is a typo, not a design; it also bounds every loop over layers. A stage
# of identical layers is one block row, so this is the repeats' maximum too.
MAX_DEPTH = INT_RANGES["repeats"][1]
# BlockSpec fields a stage decides for all its layers; every other BlockSpec field is a per-layer
# choice when StageSpace lists choices for it, and fixed at BlockSpec's default otherwise.
STAGE_LEVEL_FIELDS = ("out_chs", "block_type", "repeats", "stride")

# The canonical-layer rule, the one place it is written: a field that only matters when another
# field's value says so; otherwise it takes BlockSpec's default, since any other value would name
# the same network twice (a split of a single kernel; groups of an expansion conv that is absent).
APPLIES_WHEN = {"split": ("kernels", lambda kernels: len(kernels) > 1),
                "exp_groups": ("exp_ratio", lambda exp_ratio: exp_ratio > 1)}


def applies(field: str, chosen: Mapping[str, Any]) -> bool:
    """Whether `field` matters given the fields `chosen` so far (those it depends on come first)."""
    if field not in APPLIES_WHEN:
        return True
    other, predicate = APPLIES_WHEN[field]
    return predicate(chosen[other])


def default_value(field: str) -> Any:
    return _BLOCK_DEFAULTS[field]


def kernels_text(kernels: tuple[int, ...]) -> str:
    return ".".join(str(k) for k in kernels)


@dataclass(frozen=True)
class StageSpace:
    """stride: of the stage's first layer. depth: allowed layer counts. width: allowed output
    channels (one per stage). The rest: allowed values of each layer's BlockSpec field."""

    stride: int
    depth: tuple[int, ...]
    width: tuple[int, ...]
    kernels: tuple[tuple[int, ...], ...]
    exp_ratio: tuple[int, ...]
    se_ratio: tuple[float, ...] = (0.0,)
    act: tuple[str, ...] = ("relu",)
    split: tuple[str, ...] = ("equal",)
    exp_groups: tuple[int, ...] = (1,)
    proj_groups: tuple[int, ...] = (1,)
    dilation: tuple[int, ...] = (1,)
    block_type: str = "ir"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"block_type": self.block_type, "stride": self.stride}
        for name in ("depth", "width", *LAYER_FIELDS):
            value = getattr(self, name)
            if name in _WRITTEN_SINCE_V1 or value != default_choices(name):
                d[name] = [list(v) for v in value] if name == "kernels" else list(value)
        return d

    def __post_init__(self) -> None:
        self._check_and_normalise("stage")

    @classmethod
    def from_dict(cls, data: Any, path: str, default_act: str = "relu") -> "StageSpace":
        """A stage from plain data; `act` defaults to the network's activation."""
        if not isinstance(data, Mapping):
            raise SpecError(path, f"expected a mapping of stage fields, got {type(data).__name__} {data!r}")
        fields = dataclasses.fields(cls)
        names = [f.name for f in fields]
        unknown = sorted(set(data) - set(names), key=str)
        if unknown:
            raise SpecError(f"{path}.{unknown[0]}", f"unknown key; allowed keys: {', '.join(names)}")
        for f in fields:
            if f.default is dataclasses.MISSING and f.name not in data:
                raise SpecError(f"{path}.{f.name}", "required key is missing")
        stage = cls.__new__(cls)  # validated below with the caller's path, as ArchSpec.from_dict does
        for f in fields:
            default = (default_act,) if f.name == "act" else f.default
            object.__setattr__(stage, f.name, data.get(f.name, default))
        stage._check_and_normalise(path)
        return stage

    def _check_and_normalise(self, path: str) -> None:
        """Strict checks; choice lists become tuples (kernel sets too), SE ratios floats."""
        if self.block_type not in BLOCK_TYPES:
            raise SpecError(f"{path}.block_type", f"got {self.block_type!r}, allowed: {', '.join(BLOCK_TYPES)}")
        if isinstance(self.stride, bool) or self.stride not in (1, 2):
            raise SpecError(f"{path}.stride", f"got {self.stride!r}, allowed: 1, 2")
        for name, check in _CHOICE_CHECKS.items():
            raw, where = getattr(self, name), f"{path}.{name}"
            if not isinstance(raw, (list, tuple)) or not raw:
                raise SpecError(where, f"expected a non-empty list of choices, got {raw!r}")
            values = tuple(check(f"{where}[{i}]", v) for i, v in enumerate(raw))
            for i, v in enumerate(values):
                if v in values[:i]:
                    raise SpecError(f"{where}[{i}]", f"duplicate choice {raw[i]!r}; list each choice once")
            object.__setattr__(self, name, values)
        if self.block_type == "ds" and self.exp_ratio != (1,):
            raise SpecError(f"{path}.exp_ratio", f"a 'ds' stage has no expansion; got {list(self.exp_ratio)}, "
                                                 "use [1] or block_type 'ir'")

    def relevant(self, field: str) -> bool:
        """Whether a per-layer field can matter in this stage (some choice makes it apply)."""
        if field not in APPLIES_WHEN:
            return True
        other, predicate = APPLIES_WHEN[field]
        return any(predicate(value) for value in getattr(self, other))

    def option_count(self) -> int:
        """len(layer_options()), counted without listing them."""
        count = 1
        for field in LAYER_FIELDS:
            dependents = [f for f, (other, _) in APPLIES_WHEN.items() if other == field]
            if field in APPLIES_WHEN:
                continue  # counted with the field it depends on
            count *= sum(_product(len(getattr(self, d)) if applies(d, {field: value}) else 1 for d in dependents)
                         for value in getattr(self, field))
        return count

    def layer_options(self) -> tuple[LayerOption, ...]:
        """Every distinct canonical choice of one layer, in choice-list order."""
        options: list[dict[str, Any]] = [{}]
        for field in LAYER_FIELDS:
            options = [{**chosen, field: value} for chosen in options
                       for value in (getattr(self, field) if applies(field, chosen) else (default_value(field),))]
        return tuple(LayerOption(**chosen) for chosen in options)

    def why_not_option(self, block: BlockSpec) -> str | None:
        """Why one layer (a BlockSpec with repeats 1) is not a choice of this stage, or None."""
        if block.block_type != self.block_type:
            return f"block_type {block.block_type!r}, the stage has {self.block_type!r}"
        for name in FIXED_FIELDS:
            if getattr(block, name) != default_value(name):
                return f"{name} {getattr(block, name)}, the space has {name} {default_value(name)} only"
        chosen = {name: getattr(block, name) for name in LAYER_FIELDS}
        for name in LAYER_FIELDS:
            if applies(name, chosen) and chosen[name] not in getattr(self, name):
                show = kernels_text if name == "kernels" else str
                return f"{name} {show(chosen[name])} not among {', '.join(show(a) for a in getattr(self, name))}"
        return None


def _product(values) -> int:
    total = 1
    for value in values:
        total *= value
    return total


def _element(check: checks.Check, convert: Callable[[Any], Any] = lambda value: value):
    """The check of one element of a choice list, returning it normalised."""
    def run(path: str, value: Any) -> Any:
        require(path, value, check)
        return convert(value)
    return run


def _kernel_set(path: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_KERNEL_GROUPS:
        raise SpecError(path, f"expected a list of 1 to {MAX_KERNEL_GROUPS} odd kernel sizes such as [3, 5, 7], "
                              f"got {value!r}")
    low, high = INT_RANGES["kernel"]
    for j, k in enumerate(value):
        if isinstance(k, bool) or not isinstance(k, int) or not low <= k <= high or k % 2 == 0:
            raise SpecError(f"{path}[{j}]", f"kernel sizes must be odd integers in [{low}, {high}] "
                                            f"(3, 5, 7, 9, 11 ...), got {k!r}")
    return tuple(value)


# The element check of every choice list; each returns the normalised value.
_CHOICE_CHECKS = {
    "depth": _element(checks.integer(1, MAX_DEPTH)), "width": _element(checks.integer(*INT_RANGES["channels"])),
    "kernels": _kernel_set, "exp_ratio": _element(checks.integer(*INT_RANGES["exp_ratio"])),
    "se_ratio": _element(checks.number(0.0, 1.0), float), "act": _element(checks.one_of(ACTIVATIONS)),
    "split": _element(checks.one_of(SPLITS)), "exp_groups": _element(checks.integer(*INT_RANGES["groups"])),
    "proj_groups": _element(checks.integer(*INT_RANGES["groups"])),
    "dilation": _element(checks.integer(*INT_RANGES["dilation"])),
}

_BLOCK_DEFAULTS = {f.name: f.default for f in dataclasses.fields(BlockSpec) if f.name not in STAGE_LEVEL_FIELDS}
# The per-layer choices, in BlockSpec's field order (a field after those it depends on): the order of
# the choice vector and of an Optuna trial's parameters.
LAYER_FIELDS = tuple(f.name for f in dataclasses.fields(BlockSpec)
                     if f.name in {g.name for g in dataclasses.fields(StageSpace)} and f.name not in STAGE_LEVEL_FIELDS)
FIXED_FIELDS = tuple(name for name in _BLOCK_DEFAULTS if name not in LAYER_FIELDS)
# What a schema-1 space file always held; a per-layer field added since is written only when it is
# not at its default, so the fingerprints of earlier spaces (latency tables, supernets) stay valid.
_WRITTEN_SINCE_V1 = ("kernels", "exp_ratio", "se_ratio", "act", "split", "exp_groups", "proj_groups")


def default_choices(field: str) -> tuple:
    return next(f.default for f in dataclasses.fields(StageSpace) if f.name == field)


class LayerOption(collections.namedtuple("LayerOption", LAYER_FIELDS)):
    """The choices of one layer; with the stage's block type, width and stride it is a BlockSpec."""

    __slots__ = ()

    def block(self, block_type: str, out_chs: int, stride: int) -> BlockSpec:
        return _option_block(self, block_type, out_chs, stride)


@lru_cache(maxsize=1 << 16)
def _option_block(option: LayerOption, block_type: str, out_chs: int, stride: int) -> BlockSpec:
    # One shared BlockSpec per distinct layer: the specs a space produces then share their blocks,
    # so the cost caches (keyed by block) compare them by identity, and sampling skips validation.
    return BlockSpec(out_chs=out_chs, block_type=block_type, stride=stride, **option._asdict())


def expand_layers(arch: ArchSpec) -> list[BlockSpec]:
    """One BlockSpec (repeats 1) per layer, canonical (a field that does not apply at its default)."""
    layers = []
    for block in arch.blocks:
        chosen = {name: getattr(block, name) for name in LAYER_FIELDS}
        canonical = {name: default_value(name) for name in LAYER_FIELDS if not applies(name, chosen)}
        first = dataclasses.replace(block, repeats=1, **canonical)
        layers.append(first)
        if block.repeats > 1:
            layers += [dataclasses.replace(first, stride=1)] * (block.repeats - 1)
    return layers


# Two layers merge into one row when they differ at most in stride (and the later has stride 1).
_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(BlockSpec) if f.name not in ("repeats", "stride"))


def _row_key(block: BlockSpec) -> tuple:
    return tuple(getattr(block, name) for name in _ROW_FIELDS)


def merge_layers(layers: list[BlockSpec]) -> tuple[BlockSpec, ...]:
    """Consecutive identical layers (repeats 1, the later ones with stride 1) as one block with repeats."""
    rows: list[list] = []  # [first layer, count]
    for layer in layers:
        if rows and layer.stride == 1 and (layer is rows[-1][0] or _row_key(layer) == _row_key(rows[-1][0])):
            rows[-1][1] += 1
        else:
            rows.append([layer, 1])
    return tuple(_with_repeats(first, count) for first, count in rows)


@lru_cache(maxsize=1 << 16)
def _with_repeats(block: BlockSpec, repeats: int) -> BlockSpec:
    return block if block.repeats == repeats else dataclasses.replace(block, repeats=repeats)


def canonical_arch(arch: ArchSpec) -> ArchSpec:
    """The same network with its blocks merged the one way a search space writes them."""
    return arch.replace(blocks=merge_layers(expand_layers(arch)))
