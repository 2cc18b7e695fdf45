"""One stage of a search space as data: the stride, the depth and width choices, and the choice lists
every layer of the stage draws from independently.

A stage's layers share the stage's width (output channels); the first layer takes the stride and
the previous stage's width as its input. `LayerOption` is one canonical per-layer choice: the
expansion groups are 1 when there is no expansion conv and the split is "equal" for a single
kernel, since the other values would name the same network twice.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, NamedTuple

from .errors import SpecError
from .spec import ACTIVATIONS, BLOCK_TYPES, INT_RANGES, MAX_KERNEL_GROUPS, SPLITS, ArchSpec, BlockSpec

# A stage deeper than this is a typo, not a design; it also bounds every loop over layers. A stage
# of identical layers is one block row, so this is the repeats' maximum too.
MAX_DEPTH = INT_RANGES["repeats"][1]


class LayerOption(NamedTuple):
    """The choices of one layer; with the stage's block type, width and stride it is a BlockSpec."""

    kernels: tuple[int, ...]
    exp_ratio: int
    se_ratio: float
    act: str
    split: str
    exp_groups: int
    proj_groups: int

    def block(self, block_type: str, out_chs: int, stride: int) -> BlockSpec:
        return _option_block(self, block_type, out_chs, stride)


@lru_cache(maxsize=1 << 16)
def _option_block(option: LayerOption, block_type: str, out_chs: int, stride: int) -> BlockSpec:
    # One shared BlockSpec per distinct layer: the specs a space produces then share their blocks,
    # so the cost caches (keyed by block) compare them by identity, and sampling skips validation.
    return BlockSpec(out_chs=out_chs, block_type=block_type, kernels=option.kernels, stride=stride,
                     exp_ratio=option.exp_ratio, se_ratio=option.se_ratio, act=option.act,
                     exp_groups=option.exp_groups, proj_groups=option.proj_groups, split=option.split)


# The per-layer choice fields, in vector/suggest order, and how a value is written as an Optuna
# categorical (kernel sets as "3.5.7": Optuna's categorical values must be scalars).
LAYER_FIELDS = ("kernels", "exp_ratio", "se_ratio", "act", "split", "exp_groups", "proj_groups")


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
    block_type: str = "ir"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"block_type": self.block_type, "stride": self.stride}
        for name in ("depth", "width", "kernels", "exp_ratio", "se_ratio", "act", "split", "exp_groups", "proj_groups"):
            value = getattr(self, name)
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

    def option_count(self) -> int:
        """len(layer_options()), counted without listing them."""
        single = sum(1 for kernels in self.kernels if len(kernels) == 1)
        with_split = single + (len(self.kernels) - single) * len(self.split)
        plain = sum(1 for ratio in self.exp_ratio if ratio == 1)
        with_groups = plain + (len(self.exp_ratio) - plain) * len(self.exp_groups)
        return with_split * with_groups * len(self.se_ratio) * len(self.act) * len(self.proj_groups)

    def layer_options(self) -> tuple[LayerOption, ...]:
        """Every distinct canonical choice of one layer, in choice-list order."""
        options = []
        for kernels in self.kernels:
            for exp_ratio in self.exp_ratio:
                for se_ratio in self.se_ratio:
                    for act in self.act:
                        for split in (self.split if len(kernels) > 1 else ("equal",)):
                            for exp_groups in (self.exp_groups if exp_ratio > 1 else (1,)):
                                for proj_groups in self.proj_groups:
                                    options.append(LayerOption(kernels, exp_ratio, se_ratio, act, split,
                                                               exp_groups, proj_groups))
        return tuple(options)

    def why_not_option(self, block: BlockSpec) -> str | None:
        """Why one layer (a BlockSpec with repeats 1) is not a choice of this stage, or None."""
        if block.block_type != self.block_type:
            return f"block_type {block.block_type!r}, the stage has {self.block_type!r}"
        if block.dilation != 1:
            return f"dilation {block.dilation}, the space has dilation 1 only"
        checks = [("kernels", block.kernels, self.kernels), ("exp_ratio", block.exp_ratio, self.exp_ratio),
                  ("se_ratio", block.se_ratio, self.se_ratio), ("act", block.act, self.act),
                  ("proj_groups", block.proj_groups, self.proj_groups)]
        if len(block.kernels) > 1:
            checks.append(("split", block.split, self.split))
        if block.exp_ratio > 1:
            checks.append(("exp_groups", block.exp_groups, self.exp_groups))
        for name, value, allowed in checks:
            if value not in allowed:
                show = kernels_text if name == "kernels" else str
                return f"{name} {show(value)} not among {', '.join(show(a) for a in allowed)}"
        return None


def _int_check(lo: int, hi: int):
    def check(path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise SpecError(path, f"expected an integer in [{lo}, {hi}], got {value!r}")
        return value
    return check


def _choice_check(allowed: tuple[str, ...]):
    def check(path: str, value: Any) -> str:
        if value not in allowed:
            raise SpecError(path, f"got {value!r}, allowed: {', '.join(allowed)}")
        return value
    return check


def _ratio(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise SpecError(path, f"expected a number in [0, 1], got {value!r}")
    return float(value)


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
    "depth": _int_check(1, MAX_DEPTH), "width": _int_check(*INT_RANGES["channels"]), "kernels": _kernel_set,
    "exp_ratio": _int_check(*INT_RANGES["exp_ratio"]), "se_ratio": _ratio, "act": _choice_check(ACTIVATIONS),
    "split": _choice_check(SPLITS), "exp_groups": _int_check(*INT_RANGES["groups"]),
    "proj_groups": _int_check(*INT_RANGES["groups"]),
}


def expand_layers(arch: ArchSpec) -> list[BlockSpec]:
    """One BlockSpec (repeats 1) per layer; a single kernel's split written as "equal"."""
    layers = []
    for block in arch.blocks:
        first = dataclasses.replace(block, repeats=1, split=block.split if len(block.kernels) > 1 else "equal")
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
