"""Zero-cost proxies: finite, deterministic, and equal to their definitions on networks small
enough to compute by hand."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mixsearch.evaluator import ZERO_COST_PROXIES, ProxyConfig, ProxyConfigError, zero_cost_scores
from mixsearch.evaluator.zero_cost import grad_norm, naswot, synflow
from mixsearch.search_space import count_flops, count_params


def test_scores_are_finite_deterministic_and_include_baselines(arch, fast_config):
    a = zero_cost_scores(arch, fast_config)
    b = zero_cost_scores(arch, fast_config)
    assert a == b
    assert set(a) == {*ZERO_COST_PROXIES, "params", "flops"}
    assert all(math.isfinite(v) for v in a.values())
    assert (a["params"], a["flops"]) == (count_params(arch), count_flops(arch))
    c = zero_cost_scores(arch, fast_config.replace(seed=1))
    assert c["grad_norm"] != a["grad_norm"]


def test_selected_names_and_unknown_name(arch, fast_config):
    scores = zero_cost_scores(arch, fast_config, names=["naswot"])
    assert set(scores) == {"naswot", "params", "flops"}
    with pytest.raises(ProxyConfigError, match="jacov"):
        zero_cost_scores(arch, fast_config, names=["jacov"])


def test_synflow_of_a_linear_chain_is_depth_times_path_sum():
    # For a bias-free chain with positive weights, R = 1^T W2 W1 1 is 1-homogeneous in each layer,
    # so sum |w * dR/dw| over one layer is R, and synflow = (number of layers) * R.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4, bias=False), nn.ReLU(), nn.Linear(4, 3, bias=False))
    w1, w2 = net[0].weight.detach().abs().double(), net[2].weight.detach().abs().double()
    path_sum = float(torch.ones(3, dtype=torch.float64) @ w2 @ w1 @ torch.ones(5, dtype=torch.float64))
    assert synflow(net, (1, 5)) == pytest.approx(math.log(2 * path_sum), rel=1e-12)
    assert (net[0].weight < 0).any()  # the model given is left untouched


def test_naswot_is_log_det_of_hamming_kernel():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 20), nn.ReLU(), nn.Linear(20, 15), nn.SiLU())
    x = torch.randn(8, 6)
    with torch.no_grad():
        h1 = net[0](x)
        h2 = net[2](torch.relu(h1))
    codes = torch.cat([(h1 > 0), (h2 > 0)], 1).double()
    units = codes.shape[1]
    hamming = torch.cdist(codes, codes, p=1)
    expected = torch.linalg.slogdet(units - hamming).logabsdet
    assert naswot(net, x) == pytest.approx(float(expected), rel=1e-12)


def test_grad_norm_sums_layer_gradient_norms():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x, y = torch.randn(4, 6), torch.tensor([0, 1, 2, 1])
    reference = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    reference.load_state_dict(net.state_dict())
    nn.functional.cross_entropy(reference(x), y).backward()
    expected = sum(float(reference[i].weight.grad.norm()) for i in (0, 2))
    assert grad_norm(net, x, y) == pytest.approx(expected, rel=1e-6)


def test_bigger_network_has_bigger_synflow(arch, fast_config):
    # Synflow grows with the number of parameters it can route flow through (Tanaka et al.).
    wide = arch.replace(width_mult=2.0)
    assert zero_cost_scores(wide, fast_config, ["synflow"])["synflow"] > \
        zero_cost_scores(arch, fast_config, ["synflow"])["synflow"]


def test_default_config_scores_the_embedded_images_deterministically(arch):
    scores = zero_cost_scores(arch, ProxyConfig(threads=1))
    assert set(scores) == {*ZERO_COST_PROXIES, "params", "flops"} and all(map(math.isfinite, scores.values()))
    assert scores == zero_cost_scores(arch, ProxyConfig(threads=1))
    # the data matters: the same network on the digits task scores differently (naswot sees the batch)
    assert scores["naswot"] != zero_cost_scores(arch, ProxyConfig(threads=1, dataset="digits"))["naswot"]


def test_unbuildable_candidate_scores_nan(arch, fast_config):
    from mixsearch.search_space import BlockSpec
    bad = arch.replace(blocks=arch.blocks + (BlockSpec(out_chs=16, exp_ratio=2, proj_groups=16),))
    scores = zero_cost_scores(bad, fast_config.replace(width_mult=0.5))
    assert all(math.isnan(scores[n]) for n in ZERO_COST_PROXIES)
    assert scores["params"] == count_params(bad)
