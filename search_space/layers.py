"""A spec resolved into concrete layers: every channel count, group split and feature-map size.

This is the single place where the MixNet semantics that decide the numbers live (channel splits,
SE width, skip rule, width rounding, stride arithmetic). The model builder, the cost functions and
the latency table all read these layers, so they cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Union

from .errors import SpecError
from .spec import ArchSpec, BlockSpec


def split_channels(channels: int, groups: int, split: str = "equal") -> tuple[int, ...]:
    """Channels per group. equal: c // g each, remainder to the first group (reference).
    exp: halve for each group but the last, which takes the rest (32, 4 groups -> 16, 8, 4, 4)."""
    if split == "equal":
        sizes = [channels // groups] * groups
        sizes[0] += channels - sum(sizes)
    else:
        sizes = [channels // 2 ** (i + 1) for i in range(groups - 1)]
        sizes.append(channels - sum(sizes))
    return tuple(sizes)


def min_split_channels(groups: int, split: str = "equal") -> int:
    """The fewest channels `split_channels` can give `groups` non-empty groups."""
    return groups if split == "equal" else 2 ** (groups - 1)


def round_channels(channels: int, multiplier: float, divisor: int = 8) -> int:
    """Reference/timm rounding of a scaled width: nearest multiple of `divisor`, never 10% below.
    A multiplier of exactly 1.0 keeps the declared width (so search widths are taken literally)."""
    if multiplier == 1.0:
        return channels
    scaled = channels * multiplier
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def out_size(size: int, stride: int) -> int:
    """Feature-map size after a conv with 'same'-style padding (k // 2 * dilation, odd k)."""
    return (size - 1) // stride + 1


@dataclass(frozen=True)
class StemLayer:
    in_chans: int
    out_chs: int
    in_size: int
    act: str
    kernel: int = 3
    stride: int = 2

    @property
    def out_size(self) -> int:
        return out_size(self.in_size, self.stride)


@dataclass(frozen=True)
class BlockLayer:
    """One layer of a block row: expand (if mid != in) -> MixConv -> SE -> project, skip if shapes match."""

    block_type: str
    in_chs: int
    mid_chs: int
    out_chs: int
    in_size: int
    kernels: tuple[int, ...]
    stride: int
    dilation: int
    split: str
    exp_groups: int
    proj_groups: int
    se_chs: int  # 0 = no squeeze-excite
    act: str

    @property
    def out_size(self) -> int:
        return out_size(self.in_size, self.stride)

    @property
    def has_expansion(self) -> bool:
        return self.mid_chs != self.in_chs

    @property
    def has_skip(self) -> bool:
        return self.stride == 1 and self.in_chs == self.out_chs

    @property
    def dw_splits(self) -> tuple[int, ...]:
        return split_channels(self.mid_chs, len(self.kernels), self.split)

    @property
    def exp_splits(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return (split_channels(self.in_chs, self.exp_groups), split_channels(self.mid_chs, self.exp_groups))

    @property
    def proj_splits(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return (split_channels(self.mid_chs, self.proj_groups), split_channels(self.out_chs, self.proj_groups))


@dataclass(frozen=True)
class HeadLayer:
    in_chs: int
    head_chs: int
    in_size: int
    act: str
    num_classes: int
    dropout: float


Layer = Union[StemLayer, BlockLayer, HeadLayer]


def _check_groups(path: str, block: BlockSpec, layer: BlockLayer) -> None:
    """Every group of every split gets at least one channel."""
    kernel_groups = len(block.kernels)
    checks = (("kernels", "depthwise", layer.mid_chs, min_split_channels(kernel_groups, block.split), kernel_groups),
              ("exp_groups", "expansion", min(layer.in_chs, layer.mid_chs), block.exp_groups, block.exp_groups),
              ("proj_groups", "projection", min(layer.mid_chs, layer.out_chs), block.proj_groups, block.proj_groups))
    for field, what, channels, needed, groups in checks:
        if channels < needed:
            raise SpecError(f"{path}.{field}", f"{channels} {what} channels cannot be split into {groups} non-empty "
                                               f"groups; use fewer groups or more channels")


def block_layers(block: BlockSpec, in_chs: int, in_size: int, width_mult: float, path: str) -> list[BlockLayer]:
    """The `repeats` layers of one block row; the first takes `in_chs` and the stride, the others
    are all the same layer (input = output channels, stride 1)."""
    out_chs = round_channels(block.out_chs, width_mult)
    layers = []
    for r in range(min(block.repeats, 2)):
        # exp_ratio 1 means no expansion conv at all (reference), for "ir" as for "ds"
        mid_chs = in_chs * block.exp_ratio
        layer = BlockLayer(
            block_type=block.block_type, in_chs=in_chs, mid_chs=mid_chs, out_chs=out_chs, in_size=in_size,
            kernels=block.kernels, stride=block.stride if r == 0 else 1, dilation=block.dilation,
            split=block.split, exp_groups=block.exp_groups, proj_groups=block.proj_groups,
            se_chs=max(1, int(in_chs * block.se_ratio)) if block.se_ratio > 0 else 0, act=block.act)
        _check_groups(path, block, layer)
        layers.append(layer)
        in_chs, in_size = out_chs, layer.out_size
    return layers + layers[-1:] * (block.repeats - len(layers))


@lru_cache(maxsize=1 << 15)
def _cached_block_layers(block: BlockSpec, in_chs: int, in_size: int, width_mult: float,
                         path: str) -> tuple[BlockLayer, ...]:
    # Specs and layers are frozen, so a block row resolves the same way every time; searches
    # resolve the same rows over and over (benchmarks/bench_cost.py). Errors are not cached.
    return tuple(block_layers(block, in_chs, in_size, width_mult, path))


# A block row with the input it receives: (block, in_chs, in_size, path naming it in errors).
# A plain tuple: this is the hot loop of the cost functions (benchmarks/bench_cost.py).
BlockRow = tuple[BlockSpec, int, int, str]
_ROW_PATHS = tuple(f"blocks[{i}]" for i in range(256))


def walk_rows(arch: ArchSpec) -> tuple[StemLayer, list[BlockRow], HeadLayer]:
    """The stem, the input of every block row, the head. A row's output is its rounded width at
    its first layer's stride (the layers after the first keep both), which is all the walk needs;
    `resolve_layers` and the cost functions share it."""
    stem = StemLayer(in_chans=arch.in_chans, out_chs=round_channels(arch.stem_chs, arch.width_mult),
                     in_size=arch.resolution, act=arch.act, stride=arch.stem_stride)
    chs, size = stem.out_chs, stem.out_size
    rows = []
    for i, block in enumerate(arch.blocks):
        rows.append((block, chs, size, _ROW_PATHS[i] if i < len(_ROW_PATHS) else f"blocks[{i}]"))
        chs, size = round_channels(block.out_chs, arch.width_mult), out_size(size, block.stride)
    head = HeadLayer(in_chs=chs, head_chs=arch.head_chs, in_size=size, act=arch.act,
                     num_classes=arch.num_classes, dropout=arch.dropout)
    return stem, rows, head


def resolve_layers(arch: ArchSpec) -> tuple[Layer, ...]:
    """Stem, every block layer in order, head — with all shapes made concrete."""
    stem, rows, head = walk_rows(arch)
    layers: list[Layer] = [stem]
    for block, in_chs, in_size, path in rows:
        layers += _cached_block_layers(block, in_chs, in_size, arch.width_mult, path)
    layers.append(head)
    return tuple(layers)
