"""Analytic cost against the built model: params exactly, multiply-adds exactly against fvcore."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

with warnings.catch_warnings():  # fvcore imports torch.jit helpers that torch 2.13 marks deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    from fvcore.nn import FlopCountAnalysis

from mixsearch.search_space import (ArchSpec, BlockSpec, SpecError, build_model, count_flops, count_params, load_preset,
                                    preset_names)
from mixsearch.search_space.cost import check_model_size, largest_feature_map

# fvcore traces with torch.jit, which torch 2.13 marks deprecated
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GOLDEN = yaml.safe_load((Path(__file__).parent / "golden_cost.yaml").read_text())
PUBLISHED = {  # (params, multiply-adds) of the papers / timm model cards
    "mixnet_s": (4.1e6, 256e6), "mixnet_m": (5.0e6, 360e6), "mixnet_l": (7.3e6, 565e6),
    "mobilenet_v2": (3.5e6, 300e6), "efficientnet_b0": (5.3e6, 390e6),
}


def _zero(inputs, outputs) -> int:
    return 0


def fvcore_flops(model: nn.Module, resolution: int, conv_and_fc_only: bool = True) -> int:
    """fvcore's count on the eval model. conv_and_fc_only switches BatchNorm and adaptive pooling
    off (our convention). fvcore 0.1.5's `set_op_handle(name, None)` only adds the name to an
    ignore list that is consulted after the default handle, so the handle is replaced by zero."""
    analysis = FlopCountAnalysis(model.eval(), torch.zeros(1, 3, resolution, resolution))
    if conv_and_fc_only:
        analysis.set_op_handle("aten::batch_norm", _zero, "aten::adaptive_avg_pool2d", _zero)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def batch_norm_outputs(model: nn.Module, resolution: int) -> int:
    """Elements leaving every BatchNorm in a forward pass, by hooks on the real modules."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += output.numel()
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, resolution, resolution))
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize("name", preset_names())
def test_golden_numbers(name):
    arch = load_preset(name)
    assert {"params": count_params(arch), "flops": count_flops(arch)} == GOLDEN[name]
    params, madds = PUBLISHED[name]
    assert abs(count_params(arch) / params - 1) < 0.02
    # conv+FC only: up to ~7% under the papers' counters (MobileNetV2's 300M is rounded down)
    assert 0.90 < count_flops(arch) / madds < 1.01


@pytest.mark.parametrize("name", preset_names())
def test_presets_against_the_built_model(name):
    torch.manual_seed(0)
    arch = load_preset(name)
    model = build_model(arch)
    assert count_params(arch) == sum(p.numel() for p in model.parameters())
    assert count_flops(arch) == fvcore_flops(model, arch.resolution)


def test_space_specs_against_the_built_model(space_specs):
    for arch in space_specs:
        model = build_model(arch)
        assert count_params(arch) == sum(p.numel() for p in model.parameters()), arch
        assert count_flops(arch) == fvcore_flops(model, arch.resolution), arch


def test_random_specs_against_the_built_model(random_specs):
    for i, arch in enumerate(random_specs):
        model = build_model(arch)
        assert count_params(arch) == sum(p.numel() for p in model.parameters()), arch
        if i < 20:  # fvcore traces are the slow part; the space specs above cover 50 more
            assert count_flops(arch) == fvcore_flops(model, arch.resolution), arch


@pytest.mark.parametrize("arch", [load_preset("mixnet_s")] + [None])
def test_default_fvcore_differs_by_batch_norm_only(arch, space_specs):
    """fvcore's default also counts inference BatchNorm as 2 ops per element (scale and shift);
    that, and nothing else, is the difference (the head pools with a mean, which fvcore skips)."""
    arch = arch or space_specs[0]
    model = build_model(arch)
    default = fvcore_flops(model, arch.resolution, conv_and_fc_only=False)
    assert default - count_flops(arch) == 2 * batch_norm_outputs(model, arch.resolution)


def test_cost_does_not_mutate_and_is_stable():
    arch = load_preset("mixnet_m")
    before = arch.to_dict()
    first = (count_flops(arch), count_params(arch))
    assert (count_flops(arch), count_params(arch)) == first
    assert arch.to_dict() == before


def largest_tensor(model: nn.Module, arch) -> int:
    """Values of the largest tensor any module of a forward pass returns (or the input), by hooks."""
    largest = arch.in_chans * arch.resolution ** 2

    def hook(module, inputs, output):
        nonlocal largest
        largest = max(largest, output.numel())
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model.eval()(torch.zeros(1, arch.in_chans, arch.resolution, arch.resolution))
    for h in handles:
        h.remove()
    return largest


def test_largest_feature_map_against_the_built_model(space_specs, random_specs):
    for arch in [load_preset("mixnet_s").replace(resolution=64)] + space_specs[:10] + random_specs[:20]:
        assert largest_feature_map(arch) == largest_tensor(build_model(arch), arch), arch


WIDE_DEEP = ArchSpec(blocks=(BlockSpec(256, repeats=32), BlockSpec(256, repeats=32)), resolution=1024, stem_chs=256)


@pytest.mark.parametrize("arch, measure", [
    (load_preset("mixnet_s").replace(resolution=2048, stem_stride=1), "largest feature map"),  # 96 x 2048^2
    (load_preset("mixnet_l").replace(num_classes=100_000, head_chs=8192, width_mult=8.0), "params"),  # 1.01G
    (WIDE_DEEP, "multiply-adds"),  # 64 layers of 256 -> 256 at 512 x 512: 1.1T
])
def test_model_size_limits_refuse_before_building(arch, measure):
    with pytest.raises(SpecError, match=f"{measure}: .* over the limit of"):
        check_model_size(arch)
    with pytest.raises(SpecError, match=measure):
        build_model(arch)  # refused before a weight is allocated (or this test would take tens of GiB)


def test_large_real_networks_are_accepted():
    for arch in (load_preset("mixnet_l").replace(resolution=2048), WIDE_DEEP.replace(resolution=512)):
        check_model_size(arch)
