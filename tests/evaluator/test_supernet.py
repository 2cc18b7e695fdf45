"""The supernet: subnets are the proxy's own networks at exact cost, the dynamic forward is the
subnet's forward, weights are shared by crop/slice/diagonal block, candidates outside are refused."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from mixsearch.evaluator.errors import SupernetError
from mixsearch.evaluator.supernet import SuperNet, stage_positions
from mixsearch.search_space import build_model, count_params, default_space, load_preset, preset_names

from .supernet_spaces import CUSTOM_SHAPE, DEFAULT_SHAPE, custom_space


@pytest.fixture(scope="module")
def default_net() -> SuperNet:
    return SuperNet(default_space(), DEFAULT_SHAPE, seed=1)


@pytest.fixture(scope="module")
def custom_net() -> SuperNet:
    return SuperNet(custom_space(), CUSTOM_SHAPE, seed=2)


def members(net: SuperNet, count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    presets = [load_preset(n) for n in preset_names() if net.space.contains(load_preset(n))]
    return presets + [net.largest, net.smallest] + [net.space.sample(rng) for _ in range(count)]


def shapes(model: nn.Module) -> dict:
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


@pytest.mark.parametrize("which,count", [("default_net", 6), ("custom_net", 25)])
def test_subnet_is_the_proxy_arch_built_by_the_project_at_exact_cost(which, count, request):
    net = request.getfixturevalue(which)
    archs = members(net, count, seed=3)
    if which == "default_net":
        assert load_preset("mixnet_s") in archs  # the preset inside the default space is covered
    for arch in archs:
        proxy = net.shape.apply(arch)
        subnet, built = net.subnet(arch), build_model(proxy)
        for module in built.modules():  # the one setting a subnet takes from the supernet, as the proxy does
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = net.bn_momentum
        assert sum(p.numel() for p in subnet.parameters()) == count_params(proxy), arch
        assert str(subnet) == str(built) and shapes(subnet) == shapes(built)
        assert subnet.arch == proxy


def test_largest_and_smallest_are_the_spaces_cost_extremes(custom_net):
    # At width 1.0 the proxy changes no parameter but the classifier's: the space's own exact bounds apply.
    space = custom_net.space.replace(num_classes=CUSTOM_SHAPE.num_classes)
    assert count_params(custom_net.shape.apply(custom_net.largest)) == space.max_params()
    assert count_params(custom_net.shape.apply(custom_net.smallest)) == space.min_params()
    assert custom_net.space.contains(custom_net.largest) and custom_net.space.contains(custom_net.smallest)


def scramble(net: SuperNet, seed: int) -> None:
    """Random BatchNorm affine parameters and statistics, and random kernel transforms, so that a
    wrong slice of any of them shows in the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                for tensor in (module.weight, module.bias, module.running_mean):
                    tensor.copy_(torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype))
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator,
                                                    dtype=module.running_var.dtype) + 0.5)
        for name, param in net.named_parameters():
            if "kernel_transforms" in name:
                param.add_(0.1 * torch.randn(param.shape, generator=generator, dtype=param.dtype))


@pytest.mark.parametrize("space_name,kernel_transform", [("default", False), ("custom", False), ("custom", True)])
def test_dynamic_forward_equals_the_extracted_subnet_in_float64(space_name, kernel_transform):
    space, shape = (default_space(), DEFAULT_SHAPE) if space_name == "default" else (custom_space(), CUSTOM_SHAPE)
    net = SuperNet(space, shape, kernel_transform=kernel_transform, seed=4).double()
    scramble(net, seed=5)
    net.eval()
    x = torch.randn(3, 3, shape.resolution, shape.resolution, generator=torch.Generator().manual_seed(6),
                    dtype=torch.float64)
    for arch in members(net, 4 if space_name == "default" else 12, seed=7):
        subnet = net.subnet(arch).eval()
        assert subnet.head.classifier.weight.dtype == torch.float64
        with torch.no_grad():
            expected, got = subnet(x), net(x, arch)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_training_mode_forward_updates_the_shared_statistics_like_the_subnets_own(custom_net):
    net = SuperNet(custom_space(), CUSTOM_SHAPE, seed=8).double()
    arch = custom_net.space.sample(np.random.default_rng(9))
    subnet = net.subnet(arch).train()
    x = torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    net.train()
    torch.testing.assert_close(net(x, arch), subnet(x), rtol=1e-12, atol=1e-12)
    # the running statistics the forward left in the supernet are those the subnet now holds
    after = net.subnet(arch)
    for (name, mine), theirs in zip(after.state_dict().items(), subnet.state_dict().values()):
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12, msg=name)


def test_subnet_inherits_centre_crops_first_channels_and_diagonal_blocks_by_hand(custom_net):
    space = custom_net.space
    # stage 1 layer 0: input 8, width 20, exp 3 -> mid 24 in 2 expansion groups, kernels 3.5.7 split
    # 'exp' (12, 6, 6), 3 projection groups: mid 24 -> 8, 8, 8; out 20 -> 8, 6, 6 (remainder to the first)
    arch = next(a for a in (space.sample(np.random.default_rng(s)) for s in range(2000))
                if a.blocks[1].out_chs == 20 and a.blocks[1].exp_ratio == 3 and a.blocks[1].exp_groups == 2
                and a.blocks[1].kernels == (3, 5, 7) and a.blocks[1].split == "exp" and a.blocks[1].proj_groups == 3)
    block = custom_net.stages[1][0]
    subnet = custom_net.subnet(arch)
    layer = subnet.blocks[1]
    expand = block.expand_weight.detach()
    assert layer.expand[0].even
    assert torch.equal(layer.expand[0].conv.weight, torch.cat([expand[0:12, 0:4], expand[12:24, 4:8]]))
    superkernel = block.depthwise_weight.detach()  # (mid_max 24, 1, 7, 7)
    k3, k5, k7 = (conv.weight for conv in layer.depthwise[0].convs)
    assert torch.equal(k3, superkernel[0:12, :, 2:5, 2:5])
    assert torch.equal(k5, superkernel[12:18, :, 1:6, 1:6])
    assert torch.equal(k7, superkernel[18:24])
    project = block.project_weight.detach()
    assert not layer.project[0].even
    for part, rows, cols in zip(layer.project[0].convs, [(0, 8), (8, 14), (14, 20)], [(0, 8), (8, 16), (16, 24)]):
        assert torch.equal(part.weight, project[rows[0]:rows[1], cols[0]:cols[1]])
    assert torch.equal(layer.depthwise[1].weight, block.depthwise_bn.weight.detach()[:24])


def test_gradients_reach_exactly_the_shared_entries_a_candidate_uses(custom_net):
    net = SuperNet(custom_space(), CUSTOM_SHAPE, seed=11)
    arch = next(a for a in (net.space.sample(np.random.default_rng(s)) for s in range(2000))
                if a.num_layers == 3 and a.blocks[1].kernels == (3,) and a.blocks[1].exp_ratio == 3
                and a.blocks[1].exp_groups == 2 and a.blocks[1].out_chs == 12)
    net.train()
    net(torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(12)), arch).square().sum().backward()
    block = net.stages[1][0]  # input 8, mid 24 of 24, out 12 of 20, kernel 3 of 7
    dw = block.depthwise_weight.grad
    assert dw[:, :, 2:5, 2:5].abs().sum() > 0
    outside = dw.clone()
    outside[:, :, 2:5, 2:5] = 0
    assert outside.abs().sum() == 0  # taps outside the 3x3 centre untouched
    ex = block.expand_weight.grad
    assert ex[0:12, 0:4].abs().sum() > 0 and ex[12:24, 4:8].abs().sum() > 0
    assert ex[0:12, 4:8].abs().sum() == 0 and ex[12:24, 0:4].abs().sum() == 0  # off the diagonal blocks
    assert block.project_weight.grad[12:].abs().sum() == 0  # output channels beyond the width
    assert net.stages[1][1].depthwise_weight.grad is None  # a layer beyond the stage's depth


def test_a_training_step_on_one_candidate_moves_what_another_inherits():
    net = SuperNet(custom_space(), CUSTOM_SHAPE, seed=13)
    rng = np.random.default_rng(14)
    a, b = net.space.sample(rng), net.space.sample(rng)
    before = net.subnet(b).blocks[0].depthwise[0].convs[0].weight.clone()  # stage 0 is fixed: shared by both
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    net(torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(15)), a).square().mean().backward()
    optimizer.step()
    assert not torch.equal(net.subnet(b).blocks[0].depthwise[0].convs[0].weight, before)


def test_cropping_kernels_to_the_input_changes_nothing_but_float_order():
    net = SuperNet(default_space(), dataclasses.replace(DEFAULT_SHAPE, resolution=8), seed=16).double().eval()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(17), dtype=torch.float64)
    arch = net.largest  # 9x9 and 11x11 kernels on 1x1 and 2x2 maps
    with torch.no_grad():
        full = net(x, arch)
        net.crop_to_input = True
        cropped = net(x, arch)
    torch.testing.assert_close(cropped, full, rtol=1e-10, atol=1e-12)


def test_stage_positions_of_mixnet_s():
    assert stage_positions(load_preset("mixnet_s")) == [
        (0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (2, 3), (3, 0), (3, 1), (3, 2), (4, 0), (4, 1), (4, 2),
        (5, 0), (5, 1), (5, 2)]


def test_candidates_outside_the_space_are_refused_with_the_reason(default_net, custom_net):
    with pytest.raises(SupernetError, match=r"'mixnet_m' is not in the supernet's space 'mixnet_s_space': stem_chs"):
        default_net.subnet(load_preset("mixnet_m"))
    with pytest.raises(SupernetError, match="not in the supernet's space 'custom'"):
        custom_net(torch.zeros(1, 3, 12, 12), load_preset("mixnet_s"))  # a candidate of another space
    with pytest.raises(SupernetError, match="resolution is 16, the space has 224"):
        default_net.subnet(default_net.shape.apply(load_preset("mixnet_s")))  # already the proxy arch
    with pytest.raises(SupernetError, match="must be an ArchSpec, got dict"):
        default_net.subnet(load_preset("mixnet_s").to_dict())


def test_kernel_transforms_start_as_the_identity():
    plain = SuperNet(custom_space(), CUSTOM_SHAPE, seed=18)
    transformed = SuperNet(custom_space(), CUSTOM_SHAPE, kernel_transform=True, seed=18)
    assert sorted(transformed.stages[1][0].kernel_transforms) == ["3", "5"]  # not the largest, 7
    arch = next(a for a in (plain.space.sample(np.random.default_rng(s)) for s in range(500))
                if a.blocks[1].kernels == (3, 5, 7))
    for mine, theirs in zip(plain.subnet(arch).state_dict().values(), transformed.subnet(arch).state_dict().values()):
        assert torch.equal(mine, theirs)


def test_a_dilated_layer_shares_the_same_superkernel():
    """Dilation is a BlockSpec field no space offers yet; a layer that has it runs on the same crops."""
    from mixsearch.evaluator.supernet.net import _Copier, _load_block
    from mixsearch.evaluator.supernet.superblock import LayerBounds, SuperBlock, block_forward
    from mixsearch.search_space import BlockSpec
    from mixsearch.search_space.layers import block_layers
    from mixsearch.search_space.modules import MixBlock

    block = BlockSpec(out_chs=16, exp_ratio=3, kernels=(3, 5), dilation=2, se_ratio=0.25, exp_groups=2, act="swish")
    layer = block_layers(block, 8, 12, 1.0, "block")[0]
    bounds = LayerBounds(in_chs=8, mid_chs=32, out_chs=24, kernel_sizes=(3, 5, 7), se_chs=4, has_expansion=True)
    shared = SuperBlock(bounds, 0.1, False, torch.Generator().manual_seed(19)).double()
    module = MixBlock(layer).double().eval()
    copy = _Copier(module)
    with torch.no_grad():
        _load_block(copy, module, shared.weights(layer))
    copy.finish()
    x = torch.randn(2, 8, 12, 12, generator=torch.Generator().manual_seed(20), dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(block_forward(x, layer, shared.weights(layer), False, 0.1), module(x),
                                   rtol=1e-12, atol=1e-12)
    assert module.depthwise[0].convs[1].dilation == (2, 2)
    assert torch.equal(module.depthwise[0].convs[1].weight, shared.depthwise_weight.detach()[12:24, :, 1:6, 1:6])
