"""One layer position of a supernet stage: the shared weights every candidate's layer there cuts
its own from (`weights`), and the candidate's layer run on them (`forward`).

Which choices share weights and which have their own:
- shared: kernel sizes and kernel sets (one superkernel per channel; each channel's group decides
  its crop), the channel split (equal/exp only moves group boundaries over the same per-channel
  superkernels), expansion ratio and stage width (first channels), SE ratio (first reduced
  channels), 1x1 groups (diagonal blocks of the dense weight: a grouped conv is a dense conv with
  the off-diagonal blocks at zero), activation and dilation (no weights of their own), BatchNorm
  (first channels; its statistics are recomputed per candidate anyway).
- own weights: every layer position of every stage (layer j of stage i never shares with layer
  j' or stage i'); with kernel_transform, one k^2 x k^2 matrix per position and kernel size.
A grouped block of the dense 1x1 weight has a smaller fan-in than the dense conv; the BatchNorm
right after it absorbs the scale, which is why sharing across groups is sound.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mixsearch.search_space.layers import BlockLayer
from mixsearch.search_space.modules import BN_EPS, conv_same_cropped

from .inherit import diagonal_blocks, mixed_kernels


class BatchNormSlice(NamedTuple):
    weight: torch.Tensor
    bias: torch.Tensor
    running_mean: torch.Tensor
    running_var: torch.Tensor
    num_batches_tracked: torch.Tensor


class SqueezeExciteWeights(NamedTuple):
    reduce_weight: torch.Tensor
    reduce_bias: torch.Tensor
    expand_weight: torch.Tensor
    expand_bias: torch.Tensor


class BlockWeights(NamedTuple):
    """A candidate layer's weights, laid out like `modules.MixBlock`: grouped 1x1 convs as one
    tensor per group, the MixConv as one tensor per kernel group."""

    expand: list[torch.Tensor] | None
    expand_bn: BatchNormSlice | None
    depthwise: list[torch.Tensor]
    depthwise_bn: BatchNormSlice
    se: SqueezeExciteWeights | None
    project: list[torch.Tensor]
    project_bn: BatchNormSlice


class LayerBounds(NamedTuple):
    """The widest layer a position can hold, at the supernet's width."""

    in_chs: int
    mid_chs: int
    out_chs: int
    kernel_sizes: tuple[int, ...]  # every kernel size any kernel set of the stage uses, ascending
    se_chs: int  # 0: no SE choice at this position
    has_expansion: bool


def _batch_norm(channels: int, momentum: float) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=momentum)


def bn_slice(bn: nn.BatchNorm2d, channels: int) -> BatchNormSlice:
    """The first `channels` of a BatchNorm: views, so a training forward updates the shared statistics."""
    return BatchNormSlice(bn.weight[:channels], bn.bias[:channels], bn.running_mean[:channels],
                          bn.running_var[:channels], bn.num_batches_tracked)


def fan_out_normal(weight: torch.Tensor, fan_out: int, generator: torch.Generator) -> None:
    # The reference initialisation (builder._init_weights) at the position's widest shape.
    nn.init.normal_(weight, 0.0, (2.0 / fan_out) ** 0.5, generator=generator)


class SuperBlock(nn.Module):
    def __init__(self, bounds: LayerBounds, bn_momentum: float, kernel_transform: bool,
                 generator: torch.Generator):
        super().__init__()
        self.bounds = bounds
        largest = bounds.kernel_sizes[-1]
        mid, out = bounds.mid_chs, bounds.out_chs
        if bounds.has_expansion:
            self.expand_weight = nn.Parameter(torch.empty(mid, bounds.in_chs, 1, 1))
            fan_out_normal(self.expand_weight, mid, generator)
            self.expand_bn = _batch_norm(mid, bn_momentum)
        self.depthwise_weight = nn.Parameter(torch.empty(mid, 1, largest, largest))
        fan_out_normal(self.depthwise_weight, largest * largest, generator)
        self.depthwise_bn = _batch_norm(mid, bn_momentum)
        # Identity at the start: the transformed kernels begin as the plain centred crops.
        self.kernel_transforms = nn.ParameterDict(
            {str(size): nn.Parameter(torch.eye(size * size)) for size in bounds.kernel_sizes[:-1]}
            if kernel_transform else {})
        if bounds.se_chs:
            self.se_reduce_weight = nn.Parameter(torch.empty(bounds.se_chs, mid, 1, 1))
            self.se_reduce_bias = nn.Parameter(torch.zeros(bounds.se_chs))
            self.se_expand_weight = nn.Parameter(torch.empty(mid, bounds.se_chs, 1, 1))
            self.se_expand_bias = nn.Parameter(torch.zeros(mid))
            fan_out_normal(self.se_reduce_weight, bounds.se_chs, generator)
            fan_out_normal(self.se_expand_weight, mid, generator)
        self.project_weight = nn.Parameter(torch.empty(out, mid, 1, 1))
        fan_out_normal(self.project_weight, out, generator)
        self.project_bn = _batch_norm(out, bn_momentum)

    def weights(self, layer: BlockLayer) -> BlockWeights:
        """The weights of a candidate's layer at this position, cut from the shared ones."""
        mid, se = layer.mid_chs, layer.se_chs
        expand = expand_bn = se_weights = None
        if layer.has_expansion:
            expand = diagonal_blocks(self.expand_weight, *layer.exp_splits)
            expand_bn = bn_slice(self.expand_bn, mid)
        transforms = {int(size): matrix for size, matrix in self.kernel_transforms.items()}
        depthwise = mixed_kernels(self.depthwise_weight, layer.dw_splits, layer.kernels, self.bounds.kernel_sizes,
                                  transforms)
        if se:
            se_weights = SqueezeExciteWeights(self.se_reduce_weight[:se, :mid], self.se_reduce_bias[:se],
                                              self.se_expand_weight[:mid, :se], self.se_expand_bias[:mid])
        project = diagonal_blocks(self.project_weight, *layer.proj_splits)
        return BlockWeights(expand, expand_bn, depthwise, bn_slice(self.depthwise_bn, mid), se_weights, project,
                            bn_slice(self.project_bn, layer.out_chs))


# ---- the candidate's layer as functions of its weights; each mirrors its module in modules.py ----
# (tests/evaluator/test_supernet.py checks them against the built modules, in float64)

def activation(x: torch.Tensor, name: str) -> torch.Tensor:
    return {"relu": F.relu, "relu6": F.relu6, "swish": F.silu}[name](x)


def batch_norm(x: torch.Tensor, bn: BatchNormSlice, training: bool, momentum: float) -> torch.Tensor:
    if training:
        bn.num_batches_tracked.add_(1)  # as nn.BatchNorm2d counts (only read when momentum is None)
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, training, momentum, BN_EPS)


def grouped_1x1(x: torch.Tensor, blocks: Sequence[torch.Tensor], in_splits: Sequence[int]) -> torch.Tensor:
    """`modules.GroupedConv1x1`: one grouped conv when every group is the same size, else one per group."""
    if len({b.shape for b in blocks}) == 1:
        weight = blocks[0] if len(blocks) == 1 else torch.cat(blocks)
        return F.conv2d(x, weight, groups=len(blocks))
    parts = torch.split(x, list(in_splits), dim=1)
    return torch.cat([F.conv2d(part, block) for part, block in zip(parts, blocks)], dim=1)


def mixconv(x: torch.Tensor, weights: Sequence[torch.Tensor], layer: BlockLayer, crop_to_input: bool) -> torch.Tensor:
    """`modules.MixConv` on its split path: one depthwise conv per kernel group."""
    def depthwise(part: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if crop_to_input:
            return conv_same_cropped(part, weight, layer.stride, layer.dilation, weight.shape[0])
        pad = weight.shape[-1] // 2 * layer.dilation
        return F.conv2d(part, weight, None, layer.stride, pad, layer.dilation, weight.shape[0])
    if len(weights) == 1:
        return depthwise(x, weights[0])
    parts = torch.split(x, list(layer.dw_splits), dim=1)
    return torch.cat([depthwise(part, weight) for part, weight in zip(parts, weights)], dim=1)


def squeeze_excite(x: torch.Tensor, se: SqueezeExciteWeights, act: str) -> torch.Tensor:
    scale = x.mean((2, 3), keepdim=True)
    hidden = activation(F.conv2d(scale, se.reduce_weight, se.reduce_bias), act)
    return x * torch.sigmoid(F.conv2d(hidden, se.expand_weight, se.expand_bias))


def block_forward(x: torch.Tensor, layer: BlockLayer, w: BlockWeights, training: bool, momentum: float,
                  crop_to_input: bool = False) -> torch.Tensor:
    """`modules.MixBlock.forward` on inherited weights."""
    out = x
    if w.expand is not None:
        out = activation(batch_norm(grouped_1x1(out, w.expand, layer.exp_splits[0]), w.expand_bn, training, momentum),
                         layer.act)
    out = activation(batch_norm(mixconv(out, w.depthwise, layer, crop_to_input), w.depthwise_bn, training, momentum),
                     layer.act)
    if w.se is not None:
        out = squeeze_excite(out, w.se, layer.act)
    out = batch_norm(grouped_1x1(out, w.project, layer.proj_splits[0]), w.project_bn, training, momentum)
    return out + x if layer.has_skip else out
