"""The proxy model keeps the candidate's blocks and adapts only input, classes, width and stem stride."""
from __future__ import annotations

import torch

from mixsearch.evaluator import ProxyConfig, proxy_arch
from mixsearch.evaluator.proxy import build_proxy_model, load_data
from mixsearch.search_space import count_params


def test_proxy_arch_adapts_only_what_the_task_needs(arch, fast_config):
    data = load_data(fast_config)
    wide = arch.replace(width_mult=1.5)
    small = proxy_arch(wide, fast_config.replace(width_mult=0.5), data)
    assert small.blocks == wide.blocks and small.head_chs == wide.head_chs and small.act == wide.act
    assert small.width_mult == 0.75  # the candidate's own width, scaled
    assert (small.num_classes, small.in_chans, small.resolution) == (3, 3, fast_config.resolution)
    assert small.stem_stride == 1  # small input: the stem keeps full resolution
    assert wide.num_classes == 1000 and wide.resolution == 32  # the candidate is not mutated


def test_stem_stride_rule():
    data = load_data(ProxyConfig(resolution=64))
    from .conftest import tiny_arch
    arch = tiny_arch()
    assert proxy_arch(arch, ProxyConfig(resolution=64), data).stem_stride == arch.stem_stride == 2
    assert proxy_arch(arch, ProxyConfig(resolution=64, stem_stride=1), data).stem_stride == 1


def test_proxy_model_is_seeded_channels_last_with_calm_logits(arch, fast_config):
    small = proxy_arch(arch, fast_config, load_data(fast_config))
    a, b = build_proxy_model(small, fast_config), build_proxy_model(small, fast_config)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert sum(p.numel() for p in a.parameters()) == count_params(small)
    stem_conv = a.stem[0].weight
    assert stem_conv.is_contiguous(memory_format=torch.channels_last)
    bound = 1 / a.head.classifier.in_features ** 0.5
    assert float(a.head.classifier.weight.detach().abs().max()) <= bound
    assert all(m.momentum == fast_config.bn_momentum for m in a.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_zero_init_residual_starts_every_residual_block_as_the_identity():
    from mixsearch.evaluator.proxy import zero_init_residual
    from mixsearch.search_space import load_preset
    from mixsearch.search_space.modules import MixBlock

    model = build_proxy_model(load_preset("mixnet_s").replace(resolution=32, num_classes=10), ProxyConfig()).eval()
    zero_init_residual(model)
    blocks = [m for m in model.modules() if isinstance(m, MixBlock)]
    residual = [m for m in blocks if m.has_skip]
    # MixNet-S: 16 blocks; stride 1 with equal widths in 1 (ds) + 1 + 3 + 2 + 2 + 2 of them.
    assert (len(blocks), len(residual)) == (16, 11)
    for m in residual:
        x = torch.randn(2, m.project[-1].num_features, 8, 8, generator=torch.Generator().manual_seed(0))
        assert torch.equal(m(x), x)
    assert all(bool((m.project[-1].weight == 1).all()) for m in blocks if not m.has_skip)  # untouched
