"""Zero-cost proxies: scores of a candidate at initialisation, without training.

- synflow (Tanaka et al. 2020, as a NAS proxy in Abdelfattah et al. 2021): all parameters made
  positive, BN at its identity initial statistics, a forward pass of an all-ones input in float64;
  score = sum over conv/linear weights of |w * dR/dw| with R = sum of the outputs. Reported as its
  natural log (the raw value spans dozens of orders of magnitude; the ranking is the same).
- naswot (Mellor et al. 2021): binary activation codes of a minibatch at every ReLU-like unit;
  K[i, j] = number of units where images i and j agree (both on or both off); score = log|det K|.
  Swish has no hard gate: its code is the sign of its input (swish > 0 exactly when x > 0), the
  same code as ReLU and ReLU6.
- grad_norm (Abdelfattah et al. 2021): sum over conv/linear layers of the L2 norm of the weight
  gradient of the cross-entropy of one training minibatch.
params and flops of the arch as given are always included, as the baselines to beat.
"""
from __future__ import annotations

import copy
import math
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from mixsearch.search_space import ArchSpec, count_flops, count_params

from .config import ProxyConfig
from .errors import ProxyConfigError
from .proxy import build_proxy_model, load_data, proxy_arch, torch_settings

ZERO_COST_PROXIES = ("synflow", "naswot", "grad_norm")
BASELINES = ("params", "flops")
BATCH = 64
GATED = (nn.ReLU, nn.ReLU6, nn.SiLU)


def _weighted(model: nn.Module) -> Iterable[nn.Module]:
    return (m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def synflow(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    net = copy.deepcopy(model).double().eval()  # eval: BN = its initial identity statistics, no dropout
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    net.zero_grad()
    net(torch.ones((1, *input_shape[1:]), dtype=torch.float64)).sum().backward()
    total = sum(float((m.weight.detach() * m.weight.grad).abs().sum())
                for m in _weighted(net) if m.weight.grad is not None)
    return math.log(total) if total > 0 else float("-inf")


def naswot(model: nn.Module, x: torch.Tensor) -> float:
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        # A pre-hook: these activations run in place, so the input must be read before they do.
        code = (inputs[0].detach().reshape(n, -1) > 0).double()
        kernel.add_(code @ code.T).add_((1 - code) @ (1 - code).T)

    handles = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, GATED)]
    try:
        with torch.no_grad():
            model.train()(x)
    finally:
        for handle in handles:
            handle.remove()
    return float(torch.linalg.slogdet(kernel).logabsdet)


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.train().zero_grad()
    F.cross_entropy(model(x), y).backward()
    return sum(float(m.weight.grad.norm()) for m in _weighted(model) if m.weight.grad is not None)


def _score(name: str, arch: ArchSpec, config: ProxyConfig, x: torch.Tensor, y: torch.Tensor) -> float:
    # A fresh seeded model for each proxy, so one proxy's gradients never leak into another.
    model = build_proxy_model(arch, config)
    if name == "synflow":
        return synflow(model, tuple(x.shape))
    if name == "naswot":
        return naswot(model, x)
    return grad_norm(model, x, y)


def zero_cost_scores(arch: ArchSpec, config: ProxyConfig | None = None,
                     names: Iterable[str] | None = None) -> dict[str, float]:
    """Scores of `arch`'s proxy model at its seeded initialisation, on a seeded training minibatch,
    plus `params` and `flops` of the arch as given. Higher is better for every proxy; a candidate
    whose proxy model cannot be built or run scores NaN. Bad data or names raise (user errors)."""
    config = config or ProxyConfig()
    wanted = tuple(ZERO_COST_PROXIES if names is None else names)
    unknown = [n for n in wanted if n not in ZERO_COST_PROXIES]
    if unknown:
        raise ProxyConfigError(f"zero-cost proxy {unknown[0]!r}: unknown; allowed: {', '.join(ZERO_COST_PROXIES)}")
    data = load_data(config)
    scores: dict[str, float] = {}
    with torch_settings(config):
        generator = torch.Generator().manual_seed(config.seed)
        index = torch.randperm(len(data.train_y), generator=generator)[:BATCH]
        x, y = data.train_x[index], data.train_y[index]
        for name in wanted:
            try:
                scores[name] = _score(name, proxy_arch(arch, config, data), config, x, y)
            except Exception:  # noqa: BLE001 — a candidate that cannot be built or run scores NaN, never raises
                scores[name] = float("nan")
    scores["params"] = float(count_params(arch))
    scores["flops"] = float(count_flops(arch))
    return scores
