"""An exponential moving average of a model's weights and BN statistics: the model that is
validated, tested and exported (averaged weights generalise better than the last step's).

The decay warms up as TensorFlow's ExponentialMovingAverage with num_updates (used by the
MnasNet/MixNet/EfficientNet trainings): decay_n = min(decay, (1 + n) / (10 + n)) at update n, so
the average of a short run is not dominated by the random initial weights."""
from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay_at(update: int, decay: float) -> float:
    return min(decay, (1.0 + update) / (10.0 + update))


class WeightAverage:
    """`model` holds the average (a copy of the trained model, eval only); `updates` counts updates."""

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """average <- d * average + (1 - d) * current, for every floating tensor of the state
        (parameters and BN running statistics); counters (num_batches_tracked) are copied."""
        d = ema_decay_at(self.updates, self.decay)
        current = model.state_dict()
        for name, average in self.model.state_dict().items():
            value = current[name].detach()
            if average.is_floating_point():
                average.mul_(d).add_(value.to(average.dtype), alpha=1.0 - d)
            else:
                average.copy_(value)
        self.updates += 1
