"""A weight-sharing supernet of a search space at the proxy's shape, and its candidates' subnets.

Each stage's layer positions hold the widest layer any candidate can put there (`SuperBlock`);
a candidate runs on weights cut out of them: `supernet(x, arch)` for training (gradients flow into
the shared weights), `supernet.subnet(arch)` for scoring, a standalone `build_model` network of
the candidate's proxy arch with copies of the same weights, so the evaluator scores it like any
other model. Elastic depth keeps a stage's first layers, elastic width its first channels.
"""
from __future__ import annotations

from functools import cached_property
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mixsearch.search_space import ArchSpec, SearchSpace, build_model, canonical_arch, layer_params
from mixsearch.search_space.builder import MixNet
from mixsearch.search_space.errors import SpecError
from mixsearch.search_space.layers import block_layers, resolve_layers, round_channels, walk_rows
from mixsearch.search_space.modules import BN_EPS, GroupedConv1x1, MixBlock, Stem

from ..errors import SupernetError
from ..proxy_shape import ProxyShape
from .superblock import (BatchNormSlice, BlockWeights, LayerBounds, SuperBlock, activation, batch_norm, block_forward,
                         bn_slice, fan_out_normal)


class SuperNet(nn.Module):
    """space: any search space; shape: the proxy task (`ProxyShape.of(config, data)`), so that
    `subnet(arch)` is `build_model(shape.apply(arch))` with inherited weights. dataset: a label of
    the training data, saved with the weights so a supernet is not used on other data.
    kernel_transform: Once-for-All's learned kernel transforms (identity at the start).
    crop_to_input: the dynamic forward cuts kernels to the taps that reach the input (exact;
    `modules.crop_taps`); subnets get the proxy's own setting from whoever scores them."""

    def __init__(self, space: SearchSpace, shape: ProxyShape, *, dataset: str = "", kernel_transform: bool = False,
                 bn_momentum: float = 0.1, crop_to_input: bool = False, seed: int = 0):
        super().__init__()
        if not isinstance(space, SearchSpace):
            raise SupernetError(f"a supernet needs a SearchSpace, got {type(space).__name__}")
        self.space, self.shape, self.dataset = space, shape, dataset
        self.kernel_transform, self.bn_momentum, self.crop_to_input = kernel_transform, bn_momentum, crop_to_input
        # Any member gives the network fields every member shares (stem, head, width multiplier).
        self._member = space.sample(np.random.default_rng(0))
        proxy = shape.apply(self._member)
        self.width_mult = proxy.width_mult
        stem_layer, _, head_layer = walk_rows(proxy)
        generator = torch.Generator().manual_seed(seed)
        self.stem = Stem(stem_layer)
        fan_out_normal(self.stem[0].weight, stem_layer.kernel ** 2 * stem_layer.out_chs, generator)
        self.stem[1].momentum = bn_momentum
        self.stages = nn.ModuleList(
            nn.ModuleList(SuperBlock(bounds, bn_momentum, kernel_transform, generator) for bounds in stage)
            for stage in self._bounds(stem_layer.out_chs))
        head_in = max(self.proxy_widths(len(space.stages) - 1))
        self.head_act, self.dropout = head_layer.act, head_layer.dropout
        self.head_weight = nn.Parameter(torch.empty(head_layer.head_chs, head_in, 1, 1))
        fan_out_normal(self.head_weight, head_layer.head_chs, generator)
        self.head_bn = nn.BatchNorm2d(head_layer.head_chs, eps=BN_EPS, momentum=bn_momentum)
        self.classifier = nn.Linear(head_layer.head_chs, head_layer.num_classes)
        bound = 1.0 / head_layer.head_chs ** 0.5  # the proxy's classifier initialisation (build_proxy_model)
        nn.init.uniform_(self.classifier.weight, -bound, bound, generator=generator)
        nn.init.zeros_(self.classifier.bias)

    # ---- shapes -----------------------------------------------------------------------------------
    def proxy_widths(self, stage: int) -> tuple[int, ...]:
        """A stage's width choices at the supernet's width multiplier."""
        return tuple(round_channels(w, self.width_mult) for w in self.space.stages[stage].width)

    def _bounds(self, stem_chs: int) -> list[list[LayerBounds]]:
        bounds, previous = [], (stem_chs,)
        for i, stage in enumerate(self.space.stages):
            widths = self.proxy_widths(i)
            kernel_sizes = tuple(sorted({k for kernels in stage.kernels for k in kernels}))
            positions = []
            for j in range(max(stage.depth)):
                in_chs = max(previous if j == 0 else widths)
                se_chs = max([max(1, int(in_chs * r)) for r in stage.se_ratio if r > 0], default=0)
                positions.append(LayerBounds(in_chs=in_chs, mid_chs=in_chs * max(stage.exp_ratio), out_chs=max(widths),
                                             kernel_sizes=kernel_sizes, se_chs=se_chs,
                                             has_expansion=max(stage.exp_ratio) > 1))
            bounds.append(positions)
            previous = widths
        return bounds

    def _resolve(self, arch: ArchSpec) -> tuple[ArchSpec, tuple, list[SuperBlock]]:
        """The candidate's proxy arch, its resolved layers and the position each block layer takes."""
        if not isinstance(arch, ArchSpec):
            raise SupernetError(f"a supernet candidate must be an ArchSpec, got {type(arch).__name__}")
        reason = self.space.why_not(arch)
        if reason is not None:
            name = f" {arch.name!r}" if arch.name else ""
            raise SupernetError(f"the architecture{name} is not in the supernet's space {self.space.name!r}: {reason}")
        proxy = self.shape.apply(arch)
        layers = resolve_layers(proxy)  # a SpecError here: the candidate cannot be built at the proxy's width
        blocks = [self.stages[i][j] for i, j in stage_positions(arch)]
        return proxy, layers, blocks

    # ---- the candidate inside the supernet ----------------------------------------------------------
    def forward(self, x: torch.Tensor, arch: ArchSpec) -> torch.Tensor:
        """The candidate's logits on the shared weights (train or eval mode, like any module)."""
        _, layers, blocks = self._resolve(arch)
        x = self.stem(x)
        for layer, block in zip(layers[1:-1], blocks):
            x = block_forward(x, layer, block.weights(layer), self.training, self.bn_momentum, self.crop_to_input)
        x = F.conv2d(x, self.head_weight[:, :x.shape[1]])
        x = activation(batch_norm(x, self._head_bn(), self.training, self.bn_momentum), self.head_act)
        return self.classifier(F.dropout(x.mean((2, 3)), self.dropout, self.training))

    def _head_bn(self) -> BatchNormSlice:
        return bn_slice(self.head_bn, self.head_bn.num_features)

    def subnet(self, arch: ArchSpec) -> MixNet:
        """`build_model` of the candidate's proxy arch holding copies of its inherited weights and
        BatchNorm statistics, on the supernet's device and dtype, in training mode (as built), its
        BatchNorm momentum the supernet's. Structure and parameters are exactly `build_model`'s."""
        proxy, layers, blocks = self._resolve(arch)
        model = build_model(proxy)
        reference = self.head_weight
        if (reference.device, reference.dtype) != (model.head.classifier.weight.device, model.head.classifier.weight.dtype):
            model.to(device=reference.device, dtype=reference.dtype)  # a walk over every module: only when needed
        copy = _Copier(model)
        with torch.no_grad():
            for target, source in zip(model.stem.state_dict(keep_vars=True).values(),
                                      self.stem.state_dict(keep_vars=True).values()):
                copy(target, source)
            for module, layer, block in zip(model.blocks, layers[1:-1], blocks):
                _load_block(copy, module, block.weights(layer))
            copy(model.head.conv[0].weight, self.head_weight[:, :layers[-1].in_chs])
            _load_bn(copy, model.head.conv[1], self._head_bn())
            copy(model.head.classifier.weight, self.classifier.weight)
            copy(model.head.classifier.bias, self.classifier.bias)
        copy.finish()
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = self.bn_momentum  # as the proxy sets it (build_proxy_model)
        return model

    # ---- the sandwich rule's ends ---------------------------------------------------------------------
    @cached_property
    def largest(self) -> ArchSpec:
        """The member with the most parameters at the proxy's shape: every stage at its deepest and
        widest, every layer at its costliest option (the sandwich rule's teacher)."""
        return self._extreme(max)

    @cached_property
    def smallest(self) -> ArchSpec:
        """The member with the fewest parameters at the proxy's shape."""
        return self._extreme(min)

    def _extreme(self, pick: Callable) -> ArchSpec:
        # Parameters grow with the width of a stage and of the one before it, and layers choose
        # independently, so the extreme widths and then each layer's extreme option give the extreme.
        layers, in_chs = [], round_channels(self.space.stem_chs, self.width_mult)
        for i, stage in enumerate(self.space.stages):
            width = pick(stage.width)
            for j in range(pick(stage.depth)):
                stride = stage.stride if j == 0 else 1
                costs = []
                for option in stage.layer_options():
                    block = option.block(stage.block_type, width, stride)
                    try:
                        resolved = block_layers(block, in_chs, self.shape.resolution, self.width_mult, f"stages[{i}]")
                    except SpecError:  # an option the proxy's width cannot build
                        continue
                    costs.append((layer_params(resolved[0]), block))
                if not costs:
                    raise SupernetError(f"stage s{i} layer {j}: no option of the space can be built at the proxy's "
                                        f"width multiplier {self.width_mult}; use a larger proxy width_mult")
                layers.append(pick(costs, key=lambda cost: cost[0])[1])
                in_chs = round_channels(width, self.width_mult)
        arch = canonical_arch(self._member.replace(blocks=tuple(layers), name=""))
        reason = self.space.why_not(arch)
        if reason is not None:  # a bug, not the user's: the walk above must stay inside the space
            raise RuntimeError(f"extreme architecture outside its space: {reason}")
        return arch


def stage_positions(arch: ArchSpec) -> list[tuple[int, int]]:
    """(stage, layer within the stage) of every layer of a member of a space. A space guarantees
    that stage boundaries are readable from the layers alone (space.py): a layer starts a stage
    when it has stride 2 or a width other than the layer before it's."""
    positions, previous = [], None
    for block in arch.blocks:
        for repeat in range(block.repeats):
            stride = block.stride if repeat == 0 else 1
            if previous is None or stride == 2 or block.out_chs != previous:
                stage, layer = (positions[-1][0] + 1 if positions else 0), 0
            else:
                stage, layer = positions[-1][0], positions[-1][1] + 1
            positions.append((stage, layer))
            previous = block.out_chs
    return positions


class _Copier:
    """Copies inherited tensors into a model, each of its parameters and buffers exactly once."""

    def __init__(self, model: nn.Module):
        self.pending = {id(t): name for name, t in [*model.named_parameters(), *model.named_buffers()]}

    def __call__(self, target: torch.Tensor, source: torch.Tensor) -> None:
        if target.shape != source.shape or id(target) not in self.pending:
            raise RuntimeError(f"inheritance bug: {self.pending.get(id(target), 'a tensor copied twice')} "
                               f"{tuple(target.shape)} <- {tuple(source.shape)}")
        target.copy_(source)
        del self.pending[id(target)]

    def finish(self) -> None:
        if self.pending:
            raise RuntimeError(f"inheritance bug: not inherited: {', '.join(sorted(self.pending.values()))}")


def _load_bn(copy: _Copier, bn: nn.BatchNorm2d, source: BatchNormSlice) -> None:
    for name, tensor in source._asdict().items():
        copy(getattr(bn, name), tensor)


def _load_grouped(copy: _Copier, conv: GroupedConv1x1, blocks: Sequence[torch.Tensor]) -> None:
    if conv.even:
        copy(conv.conv.weight, torch.cat(list(blocks)))
    else:
        for part, block in zip(conv.convs, blocks):
            copy(part.weight, block)


def _load_block(copy: _Copier, module: MixBlock, weights: BlockWeights) -> None:
    if weights.expand is not None:
        _load_grouped(copy, module.expand[0], weights.expand)
        _load_bn(copy, module.expand[1], weights.expand_bn)
    for conv, weight in zip(module.depthwise[0].convs, weights.depthwise):
        copy(conv.weight, weight)
    _load_bn(copy, module.depthwise[1], weights.depthwise_bn)
    if weights.se is not None:
        se = weights.se
        for target, source in ((module.se.reduce.weight, se.reduce_weight), (module.se.reduce.bias, se.reduce_bias),
                               (module.se.expand.weight, se.expand_weight), (module.se.expand.bias, se.expand_bias)):
            copy(target, source)
    _load_grouped(copy, module.project[0], weights.project)
    _load_bn(copy, module.project[1], weights.project_bn)
