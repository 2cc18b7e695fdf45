"""Torch modules of MixNet: MixConv, grouped 1x1 convs with uneven splits, squeeze-excite, blocks."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import BlockLayer, HeadLayer, StemLayer, split_channels

# BatchNorm of the reference (TF momentum 0.99 is torch momentum 0.01).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def make_activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "relu6": nn.ReLU6, "swish": nn.SiLU}[name](inplace=True)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MixConv(nn.Module):
    """Depthwise conv with one kernel size per channel group (Tan & Le 2019).

    impl "split" (the default): one depthwise conv per group on a channel slice, outputs concatenated.
    impl "fused": one depthwise conv with every group's weight zero-padded to the largest kernel;
    the parameters stay per-group (so the parameter count is the true one) and are padded at
    forward time. benchmarks/bench_cost.py measures both: the padded taps cost more than the saved
    calls and concat on CPU and CUDA alike, so models are built split; "fused" is kept for that
    benchmark.
    crop_to_input (split path): cut each kernel to the taps that can reach the input (`crop_taps`);
    exact, for the proxy's tiny inputs, where 9x9 kernels run on 2x2 maps.
    """

    def __init__(self, channels: int, kernels: tuple[int, ...], stride: int = 1, dilation: int = 1,
                 split: str = "equal", impl: str = "split"):
        super().__init__()
        if impl not in ("split", "fused"):
            raise ValueError(f"MixConv impl must be 'split' or 'fused', got {impl!r}")
        self.kernels = tuple(kernels)
        self.splits = split_channels(channels, len(self.kernels), split)
        self.stride, self.dilation, self.impl = stride, dilation, impl
        self.crop_to_input = False
        self.convs = nn.ModuleList(
            nn.Conv2d(c, c, k, stride, padding=k // 2 * dilation, dilation=dilation, groups=c, bias=False)
            for c, k in zip(self.splits, self.kernels))

    def fused_weight(self) -> torch.Tensor:
        k_max = max(self.kernels)
        return torch.cat([F.pad(conv.weight, [(k_max - conv.kernel_size[0]) // 2] * 4) for conv in self.convs])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        depthwise = crop_taps if self.crop_to_input else _call
        if len(self.convs) == 1:
            return depthwise(self.convs[0], x)
        if self.impl == "fused":
            k_max = max(self.kernels)
            return F.conv2d(x, self.fused_weight(), None, self.stride, k_max // 2 * self.dilation,
                            self.dilation, groups=x.shape[1])
        parts = torch.split(x, self.splits, dim=1)
        return torch.cat([depthwise(conv, part) for conv, part in zip(self.convs, parts)], dim=1)


def _call(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return conv(x)


def crop_taps(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """`conv(x)` for an odd k x k kernel with 'same' padding (k // 2 * dilation), computed with the
    kernel cut to the taps that can touch x: along a side of n pixels an output reaches at most
    n - 1 pixels either way, so only the central 2 * ((n - 1) // dilation) + 1 taps ever meet an
    input pixel; the others multiply padding. Same output size, same values and gradients (cut
    taps get zero gradient either way); different float summation order. A 1x1 map leaves one tap.
    What it saves on the proxy: benchmarks/README.md ("Cropped taps")."""
    return conv_same_cropped(x, conv.weight, conv.stride, conv.dilation[0], conv.groups)


def conv_same_cropped(x: torch.Tensor, weight: torch.Tensor, stride, dilation: int, groups: int) -> torch.Tensor:
    """`crop_taps` for a bare weight (the supernet's dynamic forward shares it); with nothing to cut
    it is exactly the 'same'-padded conv."""
    k, d = weight.shape[-1], dilation
    kh, kw = (min(k, 2 * ((n - 1) // d) + 1) for n in x.shape[-2:])
    top, left = (k - kh) // 2, (k - kw) // 2
    if (kh, kw) != (k, k):
        weight = weight[:, :, top:top + kh, left:left + kw]
    return F.conv2d(x, weight, None, stride, (kh // 2 * d, kw // 2 * d), d, groups)


class GroupedConv1x1(nn.Module):
    """1x1 conv in groups whose input and output channels are split like the reference (remainder to
    the first group). Even splits use one grouped conv; uneven ones a conv per group."""

    def __init__(self, in_chs: int, out_chs: int, groups: int):
        super().__init__()
        self.in_splits = split_channels(in_chs, groups)
        self.out_splits = split_channels(out_chs, groups)
        self.even = len(set(self.in_splits)) == 1 and len(set(self.out_splits)) == 1
        if self.even:
            self.conv = nn.Conv2d(in_chs, out_chs, 1, groups=groups, bias=False)
        else:
            self.convs = nn.ModuleList(nn.Conv2d(i, o, 1, bias=False) for i, o in zip(self.in_splits, self.out_splits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.even:
            return self.conv(x)
        parts = torch.split(x, self.in_splits, dim=1)
        return torch.cat([conv(part) for conv, part in zip(self.convs, parts)], dim=1)


class SqueezeExcite(nn.Module):
    """Global pool -> 1x1 reduce (bias) -> block activation -> 1x1 expand (bias) -> sigmoid gate."""

    def __init__(self, channels: int, reduced: int, act: str):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = make_activation(act)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(scale))))


class Stem(nn.Sequential):
    def __init__(self, layer: StemLayer):
        super().__init__(
            nn.Conv2d(layer.in_chans, layer.out_chs, layer.kernel, layer.stride, layer.kernel // 2, bias=False),
            batch_norm(layer.out_chs), make_activation(layer.act))


class MixBlock(nn.Module):
    """Inverted residual (and, without expansion, depthwise-separable) MixNet block."""

    def __init__(self, layer: BlockLayer):
        super().__init__()
        self.has_skip = layer.has_skip
        self.expand = nn.Sequential(
            GroupedConv1x1(layer.in_chs, layer.mid_chs, layer.exp_groups),
            batch_norm(layer.mid_chs), make_activation(layer.act)) if layer.has_expansion else nn.Identity()
        self.depthwise = nn.Sequential(
            MixConv(layer.mid_chs, layer.kernels, layer.stride, layer.dilation, layer.split),
            batch_norm(layer.mid_chs), make_activation(layer.act))
        self.se = SqueezeExcite(layer.mid_chs, layer.se_chs, layer.act) if layer.se_chs else nn.Identity()
        self.project = nn.Sequential(GroupedConv1x1(layer.mid_chs, layer.out_chs, layer.proj_groups),
                                     batch_norm(layer.out_chs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.se(self.depthwise(self.expand(x))))
        return out + x if self.has_skip else out


class Head(nn.Module):
    def __init__(self, layer: HeadLayer):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(layer.in_chs, layer.head_chs, 1, bias=False),
                                  batch_norm(layer.head_chs), make_activation(layer.act))
        self.dropout = nn.Dropout(layer.dropout)
        self.classifier = nn.Linear(layer.head_chs, layer.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x).mean((2, 3))
        return self.classifier(self.dropout(x))
