"""Spec -> torch model. Every module is built from the resolved layers of `layers.resolve_layers`."""
from __future__ import annotations

import torch
from torch import nn

from .cost import check_model_size
from .layers import BlockLayer, HeadLayer, Layer, StemLayer, resolve_layers
from .modules import Head, MixBlock, Stem
from .spec import ArchSpec


def build_layer(layer: Layer) -> nn.Module:
    """The module of one resolved layer; the latency table measures exactly these."""
    if isinstance(layer, StemLayer):
        return Stem(layer)
    if isinstance(layer, BlockLayer):
        return MixBlock(layer)
    if isinstance(layer, HeadLayer):
        return Head(layer)
    raise TypeError(f"not a layer: {layer!r}")


class MixNet(nn.Module):
    def __init__(self, arch: ArchSpec):
        super().__init__()
        layers = resolve_layers(arch)
        self.arch = arch
        self.stem = build_layer(layers[0])
        self.blocks = nn.Sequential(*(build_layer(layer) for layer in layers[1:-1]))
        self.head = build_layer(layers[-1])
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def _init_weights(model: nn.Module) -> None:
    """Reference initialisation: fan-out normal for convs, uniform(1/sqrt(out)) for the classifier."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.weight.shape[0] ** 0.5
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)


def build_model(arch: ArchSpec) -> MixNet:
    check_model_size(arch)  # a spec over the limits raises here, before any weight is allocated
    return MixNet(arch)
