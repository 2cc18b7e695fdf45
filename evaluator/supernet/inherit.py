"""Weight inheritance as pure tensor functions: how a candidate's weights are cut out of the shared ones.

- elastic kernel: a channel's k x k kernel is the centred k x k crop of its superkernel (Single-Path
  NAS, Once-for-All), optionally passed through a learned k^2 x k^2 transform per kernel size
  (Once-for-All's kernel transformation matrices, applied from the largest size down);
- elastic width and expansion: the first channels of a dense weight (Once-for-All keeps the first,
  as we do: no channel sorting, so a subnet is a slice);
- grouped 1x1 convs: group t is the t-th diagonal block of the dense weight, split the way the
  model splits channels (`layers.split_channels`), so dense and grouped candidates share weights.

Every function returns views or tensors computed from views, so gradients of a candidate's forward
flow into exactly the shared entries it used.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch


def centre_crop(weight: torch.Tensor, size: int) -> torch.Tensor:
    """The central size x size taps of (..., K, K) weights; K and size odd."""
    offset = (weight.shape[-1] - size) // 2
    return weight[..., offset:offset + size, offset:offset + size]


def kernel_at(superkernel: torch.Tensor, size: int, sizes: Sequence[int],
              transforms: Mapping[int, torch.Tensor] | None = None) -> torch.Tensor:
    """The size x size kernels of (C, 1, K, K) superkernels. Without transforms: the centred crop.
    With them (Once-for-All): step down through the allowed `sizes` above `size`, each step a
    centred crop followed by that size's (s^2, s^2) matrix, shared by all channels."""
    if not transforms:
        return centre_crop(superkernel, size)
    weight = superkernel
    for step in sorted((s for s in sizes if size <= s < superkernel.shape[-1]), reverse=True):
        weight = centre_crop(weight, step)
        channels = weight.shape[0]
        weight = (weight.reshape(channels, step * step) @ transforms[step].T).reshape(channels, 1, step, step)
    return weight


def mixed_kernels(superkernel: torch.Tensor, splits: Sequence[int], kernels: Sequence[int], sizes: Sequence[int],
                  transforms: Mapping[int, torch.Tensor] | None = None) -> list[torch.Tensor]:
    """One weight per kernel group of a MixConv over the first sum(splits) channels: group g takes
    the next splits[g] channels' superkernels at kernel size kernels[g]."""
    weights, start = [], 0
    for channels, size in zip(splits, kernels):
        weights.append(kernel_at(superkernel[start:start + channels], size, sizes, transforms))
        start += channels
    return weights


def diagonal_blocks(dense: torch.Tensor, in_splits: Sequence[int], out_splits: Sequence[int]) -> list[torch.Tensor]:
    """The weights of a grouped 1x1 conv inside a dense (out, in, 1, 1) one: block t maps input
    channels of group t to output channels of group t, both counted from the first channel."""
    blocks, row, col = [], 0, 0
    for inputs, outputs in zip(in_splits, out_splits):
        blocks.append(dense[row:row + outputs, col:col + inputs])
        row, col = row + outputs, col + inputs
    return blocks
