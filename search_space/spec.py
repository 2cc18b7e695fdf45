"""Architecture specs: frozen dataclasses that round-trip exactly through plain dicts (and so YAML).

A network is an `ArchSpec`: stem, a sequence of `BlockSpec`s (each repeated `repeats` times, the
first repeat carrying the stride, as in the MixNet reference and timm), and a head. Nothing here
knows torch; `layers.resolve_layers` turns a spec into concrete per-layer shapes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from . import checks
from .errors import SpecError

SCHEMA_VERSION = 1
BLOCK_TYPES = ("ds", "ir")
ACTIVATIONS = ("relu", "relu6", "swish")
SPLITS = ("equal", "exp")

# What a network of this tool can be: the range of every integer field, checked before anything is
# resolved or built. The maxima lie far above any MixNet or EfficientNet (MixNet-L: 224 px, widths
# up to 1536) and keep a typo such as `c999999999999` away from an allocation; `cost.check_model_size`
# bounds what their products cost.
INT_RANGES = {
    "resolution": (8, 2048), "num_classes": (1, 100_000), "in_chans": (1, 1024), "channels": (1, 8192),
    "repeats": (1, 32), "kernel": (1, 31), "exp_ratio": (1, 64), "groups": (1, 64), "dilation": (1, 16),
}
MAX_KERNEL_GROUPS = 16
MAX_BLOCKS = 256
MAX_NAME_CHARS = 200


def require(path: str, value: Any, check: checks.Check) -> None:
    """Raise SpecError naming the field path unless `check` accepts the value."""
    expected = check(value)
    if expected is not None:
        raise SpecError(path, f"expected {expected}, got {value!r}")


@dataclass(frozen=True)
class BlockSpec:
    """One row of a MixNet arch_def: `repeats` identical layers, the first with `stride`.

    kernels: one depthwise kernel per channel group; a single kernel is a plain depthwise conv.
    exp_groups / proj_groups: groups of the 1x1 expansion / projection convs (MixNet's `a`/`p`).
    se_ratio: squeeze-excite width relative to the block's input channels (0 = no SE).
    split: how channels are divided among kernel groups: "equal" (remainder to the first group)
    or "exp" (halving: 32 channels in 4 groups -> 16, 8, 4, 4).
    """

    out_chs: int
    block_type: str = "ir"
    repeats: int = 1
    kernels: tuple[int, ...] = (3,)
    stride: int = 1
    exp_ratio: int = 1
    se_ratio: float = 0.0
    act: str = "relu"
    split: str = "equal"
    exp_groups: int = 1
    proj_groups: int = 1
    dilation: int = 1

    def __post_init__(self) -> None:
        # Normalise list input to a tuple so equality and hashing follow the values.
        if isinstance(self.kernels, list):
            object.__setattr__(self, "kernels", tuple(self.kernels))
        self.validate()

    def validate(self, path: str = "block") -> None:
        require(f"{path}.block_type", self.block_type, checks.one_of(BLOCK_TYPES))
        require(f"{path}.out_chs", self.out_chs, checks.integer(*INT_RANGES["channels"]))
        require(f"{path}.repeats", self.repeats, checks.integer(*INT_RANGES["repeats"]))
        if not isinstance(self.kernels, tuple) or not 1 <= len(self.kernels) <= MAX_KERNEL_GROUPS:
            raise SpecError(f"{path}.kernels", f"expected a list of 1 to {MAX_KERNEL_GROUPS} odd kernel sizes, "
                                               f"got {self.kernels!r}")
        for i, k in enumerate(self.kernels):
            require(f"{path}.kernels[{i}]", k, checks.integer(*INT_RANGES["kernel"]))
            if k % 2 == 0:
                raise SpecError(f"{path}.kernels[{i}]", f"kernel sizes must be odd (3, 5, 7, 9, 11 ...), got {k}")
        if self.stride not in (1, 2):
            raise SpecError(f"{path}.stride", f"got {self.stride!r}, allowed: 1, 2")
        require(f"{path}.exp_ratio", self.exp_ratio, checks.integer(*INT_RANGES["exp_ratio"]))
        if self.block_type == "ds" and self.exp_ratio != 1:
            raise SpecError(f"{path}.exp_ratio", f"a 'ds' block has no expansion; got {self.exp_ratio}, use block_type 'ir'")
        require(f"{path}.se_ratio", self.se_ratio, checks.number(0.0, 1.0))
        require(f"{path}.act", self.act, checks.one_of(ACTIVATIONS))
        require(f"{path}.exp_groups", self.exp_groups, checks.integer(*INT_RANGES["groups"]))
        require(f"{path}.proj_groups", self.proj_groups, checks.integer(*INT_RANGES["groups"]))
        if self.exp_ratio == 1 and self.exp_groups != 1:
            raise SpecError(f"{path}.exp_groups", "exp_ratio 1 means no expansion conv to group; use exp_groups 1")
        require(f"{path}.split", self.split, checks.one_of(SPLITS))
        require(f"{path}.dilation", self.dilation, checks.integer(*INT_RANGES["dilation"]))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kernels"] = list(self.kernels)
        return d

    @classmethod
    def from_dict(cls, data: Any, path: str = "block") -> "BlockSpec":
        return _from_mapping(cls, data, path, list_fields={"kernels"})


@dataclass(frozen=True)
class ArchSpec:
    """A whole network. Channel counts are scaled by `width_mult` (rounded to multiples of 8, as in
    the reference) only when it differs from 1.0; the head width is never scaled (MixNet-L)."""

    blocks: tuple[BlockSpec, ...]
    name: str = ""
    resolution: int = 224
    num_classes: int = 1000
    in_chans: int = 3
    stem_chs: int = 16
    stem_stride: int = 2
    head_chs: int = 1536
    act: str = "relu"
    dropout: float = 0.2
    width_mult: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.blocks, list):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        self.validate()

    def validate(self, path: str = "") -> None:
        p = f"{path}." if path else ""
        if not isinstance(self.name, str) or len(self.name) > MAX_NAME_CHARS:
            raise SpecError(f"{p}name", f"expected a string of at most {MAX_NAME_CHARS} characters, got {self.name!r}")
        require(f"{p}resolution", self.resolution, checks.integer(*INT_RANGES["resolution"]))
        require(f"{p}num_classes", self.num_classes, checks.integer(*INT_RANGES["num_classes"]))
        require(f"{p}in_chans", self.in_chans, checks.integer(*INT_RANGES["in_chans"]))
        require(f"{p}stem_chs", self.stem_chs, checks.integer(*INT_RANGES["channels"]))
        if self.stem_stride not in (1, 2):
            raise SpecError(f"{p}stem_stride", f"got {self.stem_stride!r}, allowed: 1, 2")
        require(f"{p}head_chs", self.head_chs, checks.integer(*INT_RANGES["channels"]))
        require(f"{p}act", self.act, checks.one_of(ACTIVATIONS))
        require(f"{p}dropout", self.dropout, checks.number(0.0, 0.99))
        require(f"{p}width_mult", self.width_mult, checks.number(0.05, 8.0))
        if not isinstance(self.blocks, tuple) or not 1 <= len(self.blocks) <= MAX_BLOCKS:
            raise SpecError(f"{p}blocks", f"expected a non-empty list of at most {MAX_BLOCKS} blocks")
        for i, block in enumerate(self.blocks):
            if not isinstance(block, BlockSpec):
                raise SpecError(f"{p}blocks[{i}]", f"expected a BlockSpec, got {type(block).__name__}")

    @property
    def num_layers(self) -> int:
        return sum(b.repeats for b in self.blocks)

    def replace(self, **changes: Any) -> "ArchSpec":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "blocks"}
        d["blocks"] = [b.to_dict() for b in self.blocks]
        return d

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> "ArchSpec":
        p = f"{path}." if path else ""
        if not isinstance(data, Mapping):
            raise SpecError(path or "<root>", f"expected a mapping of arch fields, got {type(data).__name__}")
        raw_blocks = data.get("blocks")
        if not isinstance(raw_blocks, list):
            raise SpecError(f"{p}blocks", f"expected a list of blocks, got {type(raw_blocks).__name__}")
        blocks = [_block_from_any(b, f"{p}blocks[{i}]") for i, b in enumerate(raw_blocks)]
        return _from_mapping(cls, {**data, "blocks": blocks}, path, list_fields={"blocks"})


def _block_from_any(data: Any, path: str) -> BlockSpec:
    """A block given as a BlockSpec or as a mapping of its fields (arch_io reads the timm strings)."""
    if isinstance(data, BlockSpec):
        return data
    return BlockSpec.from_dict(data, path)


def _from_mapping(cls, data: Any, path: str, list_fields: set[str]):
    if not isinstance(data, Mapping):
        raise SpecError(path, f"expected a mapping, got {type(data).__name__} {data!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    p = f"{path}." if path else ""
    unknown = sorted(set(data) - set(names), key=str)
    if unknown:
        raise SpecError(f"{p}{unknown[0]}", f"unknown key; allowed keys: {', '.join(names)}")
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [n for n in required if n not in data]
    if missing:
        raise SpecError(f"{p}{missing[0]}", "required key is missing")
    values = dict(data)
    for name in list_fields & set(values):
        if not isinstance(values[name], (list, tuple)):
            raise SpecError(f"{p}{name}", f"expected a list, got {values[name]!r}")
        values[name] = tuple(values[name])
    obj = cls.__new__(cls)
    for name in names:
        if name in values:
            object.__setattr__(obj, name, values[name])
        else:
            object.__setattr__(obj, name, getattr(cls, name))
    obj.validate(path)  # validate with the caller's path, so errors name e.g. blocks[3].kernels[1]
    return obj
