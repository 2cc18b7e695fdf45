"""The optimiser of a final training: weight decay only on conv and linear weights.

BN scales and shifts and every bias are 1-D tensors; decaying them pulls BN gammas toward 0 and
hurts accuracy (the "no bias decay" trick of Goyal et al. 2017 / He et al. 2019, and timm's
default), so they go into a group of their own with weight_decay 0."""
from __future__ import annotations

import torch
from torch import nn

from .recipe import TrainRecipe

# RMSprop as in MnasNet/MixNet (TF: decay 0.9, momentum 0.9, epsilon 1e-3). torch adds eps outside
# the square root where TF adds it inside; the difference is small at this eps.
RMSPROP_ALPHA = 0.9
RMSPROP_EPS = 1e-3


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """[decayed: tensors of 2+ dims (conv, linear weights)], [not decayed: BN parameters, biases]."""
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.ndim > 1 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, recipe: TrainRecipe) -> torch.optim.Optimizer:
    groups = parameter_groups(model, recipe.weight_decay)
    if recipe.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=recipe.lr, alpha=RMSPROP_ALPHA, eps=RMSPROP_EPS,
                                   momentum=recipe.momentum)
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0)
