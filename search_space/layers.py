"""A spec resolved into concrete layers: every channel count, group split and feature-map size.

This is the single place where the MixNet semantics that decide the numbers live (channel splits,
SE width, skip rule, width rounding, stride arithmetic). The model builder, the cost functions and
the latency table all read these layers, so they cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
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


def _check_groups(path: str, what: str, sizes: tuple[int, ...], channels: int, groups: int) -> None:
    if min(sizes) < 1:
        raise SpecError(path, f"{channels} {what} channels cannot be split into {groups} non-empty groups; "
                              f"use fewer groups or more channels")


def block_layers(block: BlockSpec, in_chs: int, in_size: int, width_mult: float, path: str) -> list[BlockLayer]:
    """The `repeats` layers of one block row; the first takes `in_chs` and the stride."""
    out_chs = round_channels(block.out_chs, width_mult)
    layers = []
    for r in range(block.repeats):
        # exp_ratio 1 means no expansion conv at all (reference), for "ir" as for "ds"
        mid_chs = in_chs * block.exp_ratio
        layer = BlockLayer(
            block_type=block.block_type, in_chs=in_chs, mid_chs=mid_chs, out_chs=out_chs, in_size=in_size,
            kernels=block.kernels, stride=block.stride if r == 0 else 1, dilation=block.dilation,
            split=block.split, exp_groups=block.exp_groups, proj_groups=block.proj_groups,
            se_chs=max(1, int(in_chs * block.se_ratio)) if block.se_ratio > 0 else 0, act=block.act)
        _check_groups(f"{path}.kernels", "depthwise", layer.dw_splits, mid_chs, len(block.kernels))
        for what, (ins, outs), groups, field in (
                ("expansion", layer.exp_splits, block.exp_groups, "exp_groups"),
                ("projection", layer.proj_splits, block.proj_groups, "proj_groups")):
            _check_groups(f"{path}.{field}", what, ins + outs, min(sum(ins), sum(outs)), groups)
        layers.append(layer)
        in_chs, in_size = out_chs, layer.out_size
    return layers


def resolve_layers(arch: ArchSpec) -> tuple[Layer, ...]:
    """Stem, every block layer in order, head — with all shapes made concrete."""
    stem = StemLayer(in_chans=arch.in_chans, out_chs=round_channels(arch.stem_chs, arch.width_mult),
                     in_size=arch.resolution, act=arch.act, stride=arch.stem_stride)
    layers: list[Layer] = [stem]
    chs, size = stem.out_chs, stem.out_size
    for i, block in enumerate(arch.blocks):
        rows = block_layers(block, chs, size, arch.width_mult, f"blocks[{i}]")
        layers += rows
        chs, size = rows[-1].out_chs, rows[-1].out_size
    layers.append(HeadLayer(in_chs=chs, head_chs=arch.head_chs, in_size=size, act=arch.act,
                            num_classes=arch.num_classes, dropout=arch.dropout))
    return tuple(layers)
