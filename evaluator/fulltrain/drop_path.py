"""Drop-path (MixNet's "drop connect", stochastic depth) attached from outside the builder.

Each residual block's branch output (the output of its `project` module, before the skip is
added) is zeroed for a random subset of the batch's samples while training and scaled by
1 / keep otherwise, so its expectation is unchanged. The rate rises linearly with depth, from 0 at
the first block to `rate` at the last (as EfficientNet/MixNet's drop_connect_rate * i / n). Done
with forward hooks, so the built model is the plain architecture: eval mode, export and the saved
weights are untouched. Masks draw from torch's global generator, which the loop seeds per epoch.
"""
from __future__ import annotations

import torch
from torch import nn

from mixsearch.search_space.modules import MixBlock


def attach_drop_path(model: nn.Module, rate: float) -> list:
    """Hook every residual MixBlock of `model`; returns the hook handles (call .remove() to detach)."""
    if rate <= 0:
        return []
    blocks = [m for m in model.modules() if isinstance(m, MixBlock)]
    handles = []
    for index, block in enumerate(blocks):
        block_rate = rate * index / max(1, len(blocks) - 1)
        if block.has_skip and block_rate > 0:
            handles.append(block.project.register_forward_hook(_dropper(block_rate)))
    return handles


def _dropper(rate: float):
    keep = 1.0 - rate

    def hook(module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor | None:
        if not module.training:
            return None  # the output unchanged
        mask = torch.rand((output.shape[0], 1, 1, 1), device=output.device) < keep
        return output * mask.to(output.dtype) / keep

    return hook
