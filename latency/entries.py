"""The module and example inputs that each table entry measures.

Modules come from the search space's own builder (`build_layer`), so an entry measures exactly what
`build_model` runs: the whole layer, or at "op" granularity the submodules MixBlock.forward calls
one after another (expand -> depthwise -> se -> project, then the skip add).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from torch import nn

from mixsearch.search_space.builder import build_layer
from mixsearch.search_space.layers import BlockLayer, Layer, StemLayer

from .signature import entry_signatures


@dataclass(frozen=True)
class Entry:
    """One table key and how to make what it measures. `layer` is any layer that contains it."""

    signature: str
    layer: Layer
    index: int  # position of the op within entry_signatures(layer, granularity)
    granularity: str

    def make(self, batch: int, generator: torch.Generator) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
        return make_entry(self.layer, self.granularity, self.index, batch, generator)


class ProjectWithSkip(nn.Module):
    """MixBlock's projection followed by its residual add (the add is only in MixBlock.forward)."""

    def __init__(self, project: nn.Module):
        super().__init__()
        self.project = project

    def forward(self, x: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        return self.project(x) + shortcut


def _input(batch: int, chs: int, size: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(batch, chs, size, size, generator=generator)


def _whole_layer_inputs(layer: Layer, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    chs = layer.in_chans if isinstance(layer, StemLayer) else layer.in_chs
    return (_input(batch, chs, layer.in_size, generator),)


def _block_ops(layer: BlockLayer, batch: int, generator: torch.Generator
               ) -> list[Callable[[nn.Module], tuple[nn.Module, tuple[torch.Tensor, ...]]]]:
    """One maker per op of the layer, in the order of op_signatures(layer)."""
    n, size, out = batch, layer.in_size, layer.out_size
    makers = []
    if layer.has_expansion:
        makers.append(lambda b: (b.expand, (_input(n, layer.in_chs, size, generator),)))
    makers.append(lambda b: (b.depthwise, (_input(n, layer.mid_chs, size, generator),)))
    if layer.se_chs:
        makers.append(lambda b: (b.se, (_input(n, layer.mid_chs, out, generator),)))
    if layer.has_skip:
        makers.append(lambda b: (ProjectWithSkip(b.project), (_input(n, layer.mid_chs, out, generator),
                                                              _input(n, layer.out_chs, out, generator))))
    else:
        makers.append(lambda b: (b.project, (_input(n, layer.mid_chs, out, generator),)))
    return makers


def make_entry(layer: Layer, granularity: str, index: int, batch: int,
               generator: torch.Generator) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    module = build_layer(layer).eval()
    if granularity == "op" and isinstance(layer, BlockLayer):
        return _block_ops(layer, batch, generator)[index](module)
    return module, _whole_layer_inputs(layer, batch, generator)


def entries_of(layers: Iterable[Layer], granularity: str) -> dict[str, Entry]:
    """Every distinct entry the layers need, in a deterministic order (sorted by signature)."""
    found: dict[str, Entry] = {}
    for layer in layers:
        for index, signature in enumerate(entry_signatures(layer, granularity)):
            if signature not in found:
                found[signature] = Entry(signature, layer, index, granularity)
    return dict(sorted(found.items()))

