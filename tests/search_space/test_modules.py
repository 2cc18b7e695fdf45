"""MixConv and the built network."""
from __future__ import annotations

import pytest
import torch

from mixsearch.search_space import MixConv, build_model, load_preset, split_channels


def test_channel_splits():
    assert split_channels(32, 4, "exp") == (16, 8, 4, 4)
    assert split_channels(32, 4, "equal") == (8, 8, 8, 8)
    assert split_channels(30, 4, "equal") == (9, 7, 7, 7)  # remainder to the first group
    assert split_channels(96, 3, "exp") == (48, 24, 24)
    assert split_channels(16, 1, "exp") == (16,)
    assert MixConv(32, (3, 5, 7, 9), split="exp").splits == (16, 8, 4, 4)
    assert [c.kernel_size[0] for c in MixConv(32, (3, 5, 7, 9), split="exp").convs] == [3, 5, 7, 9]


def test_one_kernel_is_a_plain_depthwise_conv():
    conv = MixConv(24, (5,))
    assert len(conv.convs) == 1 and conv.convs[0].groups == 24 and conv.convs[0].kernel_size == (5, 5)


@pytest.mark.parametrize("kernels, split, stride, dilation", [
    ((3, 5, 7, 9), "equal", 1, 1), ((3, 5, 7, 9), "exp", 2, 1), ((3, 5), "equal", 1, 2),
    ((3, 5, 7, 9, 11), "equal", 2, 1), ((5, 3), "exp", 1, 1),
])
def test_fused_equals_split_forward_and_gradients(kernels, split, stride, dilation):
    torch.manual_seed(0)
    split_conv = MixConv(30, kernels, stride, dilation, split, impl="split").double()
    fused_conv = MixConv(30, kernels, stride, dilation, split, impl="fused").double()
    fused_conv.load_state_dict(split_conv.state_dict())
    x = torch.randn(2, 30, 13, 13, dtype=torch.float64)
    xs, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
    ys, yf = split_conv(xs), fused_conv(xf)
    assert ys.shape == yf.shape == (2, 30, (13 - 1) // stride + 1, (13 - 1) // stride + 1)
    torch.testing.assert_close(yf, ys, rtol=1e-10, atol=1e-10)
    grad = torch.randn_like(ys)
    ys.backward(grad)
    yf.backward(grad)
    torch.testing.assert_close(xf.grad, xs.grad, rtol=1e-10, atol=1e-10)
    for a, b in zip(fused_conv.parameters(), split_conv.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 3), (2, 5), (4, 4), (8, 8)])
@pytest.mark.parametrize("kernels, stride, dilation", [
    ((3, 5, 7, 9, 11), 1, 1), ((3, 5, 7, 9, 11), 2, 1), ((9,), 2, 1), ((3, 5, 7), 1, 2), ((5, 9), 2, 2),
])
def test_cropped_kernels_equal_the_full_ones_on_small_maps(size, kernels, stride, dilation):
    """crop_to_input cuts taps that only ever meet padding: same output and gradients (float64)."""
    torch.manual_seed(0)
    full = MixConv(20, kernels, stride, dilation).double()
    cropped = MixConv(20, kernels, stride, dilation).double()
    cropped.load_state_dict(full.state_dict())
    cropped.crop_to_input = True
    x = torch.randn(3, 20, *size, dtype=torch.float64, requires_grad=True)
    outputs, grads = [], []
    for conv in (full, cropped):
        y = conv(x)
        outputs.append(y)
        grads.append(torch.autograd.grad((y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum(),
                                         [x, *conv.parameters()]))
    assert outputs[0].shape == outputs[1].shape
    torch.testing.assert_close(outputs[1], outputs[0])
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a)


def test_fused_keeps_the_true_parameter_count():
    fused = MixConv(32, (3, 5, 7, 9), impl="fused")
    assert sum(p.numel() for p in fused.parameters()) == 8 * (9 + 25 + 49 + 81)


def test_mixnet_s_forward_at_224():
    torch.manual_seed(0)
    model = build_model(load_preset("mixnet_s")).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1000)
    assert torch.isfinite(out).all()


def test_skip_only_when_shapes_match():
    model = build_model(load_preset("mixnet_s"))
    skips = [block.has_skip for block in model.blocks]
    # ds 16->16 s1 keeps shape; the first layer of each stride-2 / widening row has no skip
    assert skips[:4] == [True, False, True, False]
    assert sum(skips) == 11  # 16 layers, 5 of them change shape
