"""Scoring candidates with a trained supernet: the candidate's subnet (inherited weights), its
BatchNorm statistics recomputed on a fixed training sample, then accuracy and loss on the fixed
validation sample, measured by the proxy training's own calibration and validation code, so a
supernet score and a proxy score differ only in where the weights came from.

    scorer = SupernetScorer("supernet.pt", ProxyConfig(dataset=...))   # loads data and weights once
    result = scorer.score(arch)                                         # an EvalResult, like evaluate()

A candidate that cannot be scored (outside the supernet's space, not buildable at the proxy's
width, NaN, out of memory, over time_limit_s) gets a typed Failure, as the proxy gives one; a
supernet trained for another space, proxy shape or data is refused (SupernetError) when loaded.
"""
from __future__ import annotations

import os
import time

import torch
from torch import nn

from mixsearch.search_space import ArchSpec, count_flops, count_params
from mixsearch.search_space.modules import MixConv

from ..config import ProxyConfig
from ..errors import SupernetError
from ..proxy import load_data, resolve_device, torch_settings
from ..proxy_shape import ProxyShape
from ..result import EvalResult, Failure
from ..train import Report, ProxyRun, failure_from_exception, validation_set
from .checkpoint import load_supernet
from .net import SuperNet
from .training import dataset_label


class SupernetScorer:
    """supernet: a SuperNet or the path of a saved one; config: the proxy task it is scored on
    (data sample, resolution, width, BN calibration batches, seed of the calibration sample,
    time limit). A supernet of another space/shape/data than `space`/config is refused."""

    def __init__(self, supernet: SuperNet | str | os.PathLike, config: ProxyConfig | None = None, space=None):
        self.config = config or ProxyConfig()
        self.data = load_data(self.config)
        self.device = resolve_device(self.config)
        shape, label = ProxyShape.of(self.config, self.data), dataset_label(self.config)
        if isinstance(supernet, SuperNet):
            _check(supernet, space, shape, label)
            self.supernet = supernet
        else:
            self.supernet, _ = load_supernet(supernet, space=space, shape=shape, dataset=label)
        self.supernet.to(self.device)
        self.validation = tuple(t.to(self.device) for t in validation_set(self.data, self.config))
        # The calibration batches: the first bn_batches of one fixed order of the training sample.
        self.order = torch.randperm(len(self.data.train_y), generator=torch.Generator().manual_seed(self.config.seed))

    def score(self, arch: ArchSpec, report: Report | None = None) -> EvalResult:
        """report(0, metrics) once, after a successful score, as `evaluate` reports each epoch
        (outside the failure handling: a pruner's exception reaches the caller)."""
        start = time.monotonic()
        costs: dict[str, int] = {}  # of the model scored; the arch's own are the caller's
        with torch_settings(self.config):
            try:
                run = _SubnetRun(self.subnet(arch), self.config, self.data, start, self.validation, self.device)
                costs.update(proxy_params=count_params(run.arch), proxy_flops=count_flops(run.arch))
                run.recalibrate_batch_norm(self.order, 0)
                val_loss, accuracy = run.validate(0)
            except SupernetError as err:  # outside the space: the candidate's failure, as the proxy's errors are
                return _failed(Failure("error", str(err)), start, costs)
            except Exception as err:
                return _failed(failure_from_exception(err), start, costs)
        seconds = time.monotonic() - start
        metrics = {"epoch": 0, "val_loss": val_loss, "val_accuracy": accuracy, "seconds": seconds}
        if report is not None:
            report(0, dict(metrics))
        return EvalResult(accuracy=accuracy, val_loss=val_loss, curve=[metrics], seconds=seconds,
                          extra={"scorer": "supernet"}, **costs)

    def subnet(self, arch: ArchSpec) -> nn.Module:
        """The candidate's standalone model with inherited weights, set up as the proxy trains
        its own (kernel cropping, channels-last)."""
        model = self.supernet.subnet(arch)
        for module in model.modules():
            if isinstance(module, MixConv):
                module.crop_to_input = self.config.crop_kernels
        return model.to(memory_format=torch.channels_last)


class _SubnetRun(ProxyRun):
    """The proxy run's calibration and validation on a subnet instead of a freshly trained model."""

    def __init__(self, model: nn.Module, config: ProxyConfig, data, start: float,
                 validation: tuple[torch.Tensor, torch.Tensor], device: torch.device):
        self.arch, self.model, self.config, self.data, self.start, self.device = \
            model.arch, model, config, data, start, device
        self.batch_size = min(config.batch_size, len(data.train_y))
        self.batches = len(data.train_y) // self.batch_size
        self.val_x, self.val_y = validation


def _check(supernet: SuperNet, space, shape: ProxyShape, label: str) -> None:
    """An in-memory supernet gets the same refusals as a loaded one."""
    if space is not None and supernet.space.fingerprint() != space.fingerprint():
        raise SupernetError(f"the supernet is of space {supernet.space.name!r}, not of space {space.name!r}")
    if supernet.shape != shape:
        raise SupernetError(f"the supernet was built for proxy shape {supernet.shape.to_dict()}, this evaluation has "
                            f"{shape.to_dict()}; use the same proxy settings or train one for them")
    if supernet.dataset != label:
        raise SupernetError(f"the supernet was trained on {supernet.dataset!r}, not {label!r}; train one for this data")


def _failed(failure: Failure, start: float, costs: dict) -> EvalResult:
    return EvalResult(accuracy=0.0, val_loss=None, curve=[], seconds=time.monotonic() - start, failure=failure,
                      extra={"scorer": "supernet"}, **costs)
