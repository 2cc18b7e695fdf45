"""The proxy model of a candidate and the torch settings it runs under (shared by training and
the zero-cost scores)."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch
from torch import nn

from mixsearch.search_space import ArchSpec, build_model
from mixsearch.search_space.modules import MixBlock, MixConv

from .config import ProxyConfig
from .errors import ProxyConfigError
from .datasets import SplitData, load_split
from .proxy_shape import ProxyShape


def proxy_arch(arch: ArchSpec, config: ProxyConfig, data: SplitData) -> ArchSpec:
    """The candidate's blocks unchanged; input, classes, width and stem stride adapted to the proxy task."""
    return ProxyShape.of(config, data).apply(arch)


def load_data(config: ProxyConfig) -> SplitData:
    return load_split(config.dataset, config.resolution, config.val_fraction, config.data_fraction, config.split_seed,
                      test_fraction=config.test_fraction, val_size=config.val_size, train_size=config.train_size,
                      use_cache=config.data_cache, with_test=config.score_split == "test")


def build_proxy_model(arch: ArchSpec, config: ProxyConfig) -> nn.Module:
    """The candidate's module, seeded, with proxy-only adaptations that change no structure:
    - BN momentum raised from the reference's 0.01: a proxy run has only a few hundred steps.
    - the classifier drawn from U(+-1/sqrt(fan_in)) instead of the reference's U(+-1/sqrt(classes)):
      with 10 classes the reference gives initial logits of std ~6 and a loss of ~6 instead of ln 10.
    - channels-last memory layout: a half-width MixNet-S training step at 32 px, batch 64, one CPU
      thread took 0.30 s instead of 0.55 s (measured on the 2-core development machine).
    - with crop_kernels, depthwise kernels cut to the taps that reach the proxy's small maps (exact).
    """
    torch.manual_seed(config.seed)
    model = build_model(arch)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = config.bn_momentum
        if isinstance(module, MixConv):
            module.crop_to_input = config.crop_kernels
    classifier = model.head.classifier
    bound = 1.0 / classifier.in_features ** 0.5
    with torch.no_grad():
        classifier.weight.uniform_(-bound, bound, generator=torch.Generator().manual_seed(config.seed))
    return model.to(memory_format=torch.channels_last)


def zero_init_residual(model: nn.Module) -> None:
    """Start every residual block as the identity: the BN after its projection gets gamma 0.

    A proxy-only change of the initial weights (Goyal et al. 2017, "Accurate, large minibatch SGD",
    sec. 5.1), not of the structure. Without it a few hundred high-LR steps are mostly spent
    recovering from the sum of ~15 randomly initialised branches (epoch-1 training loss above
    ln 10), and which archs recover first is largely the seed's doing."""
    for module in model.modules():
        if isinstance(module, MixBlock) and module.has_skip:
            nn.init.zeros_(module.project[-1].weight)


def resolve_device(config: ProxyConfig) -> torch.device:
    """The torch device of `config.device`; a GPU asked for that torch cannot see is the user's to fix."""
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(config.device)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ProxyConfigError(f"proxy.device: {config.device!r}, but torch {torch.__version__} sees no CUDA "
                                   "device; use device: cpu (or auto), or a CUDA build of torch on a GPU machine")
        if (device.index or 0) >= count:
            raise ProxyConfigError(f"proxy.device: {config.device!r}, but torch sees {count} CUDA device(s) "
                                   f"(cuda:0..cuda:{count - 1})")
    return device


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


@contextlib.contextmanager
def torch_settings(config: ProxyConfig) -> Iterator[None]:
    """Threads and deterministic algorithms for one evaluation; the caller's settings come back after."""
    if config.device != "cpu":
        # cuBLAS is deterministic only with a fixed workspace, set before its first use in the process.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        if config.threads:
            torch.set_num_threads(config.threads)
        if config.deterministic:
            # warn_only: an op without a deterministic kernel must not turn into a candidate failure.
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
