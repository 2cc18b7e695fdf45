"""Proxy training of one candidate: a few seeded epochs, a report after each, failures as results.

Everything the candidate does wrong (NaN, divergence, out of memory, too slow, any exception while
building or running it) ends that candidate with a typed `Failure`; the process goes on. Bad data
or settings are the user's to fix and raise (DatasetError, ProxyConfigError). An exception raised
by `report` (a pruner's TrialPruned, Ray's stop) propagates untouched.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from mixsearch.search_space import ArchSpec, count_flops, count_params

from .augment import distort
from .config import ProxyConfig
from .datasets import SplitData
from .proxy import (build_proxy_model, channels_last, load_data, proxy_arch, resolve_device, torch_settings,
                    zero_init_residual)
from .result import EvalResult, Failure

Report = Callable[[int, dict[str, float]], Any]
VAL_BATCH = 256
# Messages of allocation failures that torch raises as a plain RuntimeError.
OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory")


class CandidateFailure(Exception):
    """Raised inside the training loop; turned into a Failure of the result."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.failure = Failure(kind, message)


def failure_from_exception(err: BaseException) -> Failure:
    if isinstance(err, CandidateFailure):
        return err.failure
    text = f"{type(err).__name__}: {err}".strip()
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)) or (
            isinstance(err, RuntimeError) and any(m in str(err).lower() for m in OOM_MESSAGES)):
        return Failure("oom", text)
    return Failure("error", text)


def evaluate(arch: ArchSpec, config: ProxyConfig | None = None, report: Report | None = None) -> EvalResult:
    """Train the proxy of `arch` and return its final validation accuracy, curve and cost."""
    config = config or ProxyConfig()
    start = time.monotonic()
    data = load_data(config)
    device = resolve_device(config)
    costs: dict[str, int] = {}
    curve: list[dict[str, float]] = []
    with torch_settings(config):
        # The proxy's width may make a grouped conv impossible: that is the candidate's failure too.
        runs, failure = _guarded(lambda: _start_runs(arch, config, data, start, device))
        if runs is not None:
            costs.update(proxy_params=count_params(runs[0].arch), proxy_flops=count_flops(runs[0].arch))
        for epoch in range(config.epochs if failure is None else 0):
            # Repeats advance epoch by epoch together, so a pruner sees their mean after every epoch.
            metrics, failure = _guarded(lambda: _mean_metrics([run.epoch(epoch) for run in runs]))
            if failure is not None:
                break
            curve.append(metrics)
            if report is not None:  # outside _guarded: a pruner's exception must reach the caller
                report(epoch, dict(metrics))
    seconds = time.monotonic() - start
    if failure is None:
        return EvalResult(accuracy=curve[-1]["val_accuracy"], val_loss=curve[-1]["val_loss"], curve=curve,
                          seconds=seconds, **costs)
    return EvalResult(accuracy=0.0, val_loss=None, curve=curve, seconds=seconds, failure=failure, **costs)


def _start_runs(arch: ArchSpec, config: ProxyConfig, data: SplitData, start: float,
                device: torch.device) -> list["ProxyRun"]:
    """One run per repeat (seeds seed, seed+1, ...), sharing the proxy arch and validation set."""
    small = proxy_arch(arch, config, data)
    validation = tuple(t.to(device) for t in validation_set(data, config))
    return [ProxyRun(small, config.replace(seed=config.seed + i), data, start, validation, device)
            for i in range(config.repeats)]


def validation_set(data: SplitData, config: ProxyConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The images and labels every candidate is scored on: the validation split (the test split
    with score_split 'test'), or with
    distort_val its `val_draws` fixed distortions, independent of the training seed, so every
    candidate (and every repeat) sees the same task."""
    x, y = (data.test_x, data.test_y) if config.score_split == "test" else (data.val_x, data.val_y)
    if not config.distort_val:
        return x, y
    draws = [_distort(x, torch.Generator().manual_seed(10_007 + config.split_seed + k), config)
             for k in range(config.val_draws)]
    return torch.cat(draws), y.repeat(config.val_draws)


def _distort(x: torch.Tensor, generator: torch.Generator, config: ProxyConfig) -> torch.Tensor:
    return distort(x, generator, config.shift, config.rotate, config.scale, config.noise, config.flip)


def _mean_metrics(per_run: list[dict[str, float]]) -> dict[str, float]:
    """One epoch of all repeats: mean losses and accuracy, total seconds."""
    merged = dict(per_run[0])
    for key in ("train_loss", "val_loss", "val_accuracy"):
        merged[key] = sum(m[key] for m in per_run) / len(per_run)
    merged["seconds"] = sum(m["seconds"] for m in per_run)
    return merged


def _guarded(step: Callable[[], Any]) -> tuple[Any, Failure | None]:
    """Run one step of the candidate; any exception it raises becomes its Failure."""
    try:
        return step(), None
    except Exception as err:
        return None, failure_from_exception(err)


class ProxyRun:
    """The model, optimiser, schedule and data streams of one proxy training."""

    def __init__(self, arch: ArchSpec, config: ProxyConfig, data: SplitData, start: float,
                 validation: tuple[torch.Tensor, torch.Tensor], device: torch.device):
        self.arch, self.config, self.data, self.start, self.device = arch, config, data, start, device
        self.model = build_proxy_model(arch, config)
        if config.zero_init_residual:
            zero_init_residual(self.model)
        self.model.to(device)
        # Dropout draws from torch's global generator (the device's own on a GPU): each run keeps
        # its own stream of it, so a run trains the same whether it runs alone or beside other repeats.
        self.global_rng = self.get_rng_state()
        self.generator = torch.Generator().manual_seed(config.seed)
        n = len(data.train_y)
        self.batch_size = min(config.batch_size, n)
        self.batches = n // self.batch_size  # drop the ragged last batch: BN needs > 1 sample
        self.optimizer = proxy_optimizer(self.model, config)
        self.scheduler = proxy_scheduler(self.optimizer, config, config.epochs * self.batches)
        self.val_x, self.val_y = validation
        self.loss_limit: float | None = None

    def check_time(self, where: str) -> None:
        limit = self.config.time_limit_s
        if limit is not None and time.monotonic() - self.start > limit:
            raise CandidateFailure("timeout", f"time limit of {limit:g} s exceeded {where}")

    def get_rng_state(self) -> torch.Tensor:
        if self.device.type == "cuda":
            return torch.cuda.get_rng_state(self.device)
        return torch.get_rng_state()

    def set_rng_state(self, state: torch.Tensor) -> None:
        if self.device.type == "cuda":
            torch.cuda.set_rng_state(state, self.device)
        else:
            torch.set_rng_state(state)

    def images(self, index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Training images `index`, distorted on the CPU (the same draws on every device), on the device."""
        x = _distort(self.data.train_x[index], generator, self.config)
        return channels_last(x.to(self.device, non_blocking=True))

    def epoch(self, epoch: int) -> dict[str, float]:
        self.set_rng_state(self.global_rng)
        try:
            return self._epoch(epoch)
        finally:
            self.global_rng = self.get_rng_state()

    def _epoch(self, epoch: int) -> dict[str, float]:
        config, data = self.config, self.data
        epoch_start = time.monotonic()
        self.model.train()
        order = torch.randperm(len(data.train_y), generator=self.generator)
        total = 0.0
        for b in range(self.batches):
            self.check_time(f"at epoch {epoch} batch {b}")
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            x, y = self.images(index, self.generator), data.train_y[index].to(self.device, non_blocking=True)
            loss = F.cross_entropy(self.model(x), y, label_smoothing=config.label_smoothing)
            value = float(loss.detach())
            self.check_loss(value, epoch, b)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            total += value
        self.recalibrate_batch_norm(order, epoch)
        val_loss, val_accuracy = self.validate(epoch)
        return {"epoch": epoch, "train_loss": total / self.batches, "val_loss": val_loss,
                "val_accuracy": val_accuracy, "lr": self.optimizer.param_groups[0]["lr"],
                "seconds": time.monotonic() - epoch_start}

    def check_loss(self, value: float, epoch: int, batch: int) -> None:
        if not math.isfinite(value):
            raise CandidateFailure("nan", f"training loss is {value} at epoch {epoch} batch {batch}")
        if self.loss_limit is None:
            # Relative to where training started, and never below chance level.
            self.loss_limit = self.config.divergence_factor * max(value, math.log(self.data.num_classes))
        elif value > self.loss_limit:
            raise CandidateFailure("diverged", f"training loss {value:.4g} exceeds {self.loss_limit:.4g} "
                                   f"(divergence_factor x initial loss) at epoch {epoch} batch {batch}")

    @torch.no_grad()
    def recalibrate_batch_norm(self, order: torch.Tensor, epoch: int) -> None:
        """Exact BN statistics of the current weights from a few training batches before validating.

        Running averages lag behind weights that move fast under a short, high-LR schedule; measured
        validation losses of 1e3-1e6 after the first epoch came from that lag, not from the network.
        (The same recalibration as Once-for-All's subnet evaluation.)"""
        batch_norms = [m for m in self.model.modules() if isinstance(m, nn.BatchNorm2d)]
        saved = [m.momentum for m in batch_norms]
        for m in batch_norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        self.model.eval()  # dropout off, so calibration draws nothing from the global RNG
        for m in batch_norms:
            m.train()
        size = self.batch_size
        for b in range(min(self.config.bn_batches, self.batches)):
            self.check_time(f"while calibrating batch norm after epoch {epoch}")
            index = order[b * size:(b + 1) * size]
            # Distorted like training, but from a fixed stream, so calibration does not shift the
            # training draws and every epoch is calibrated on the same kind of images.
            self.model(self.images(index, torch.Generator().manual_seed(self.config.seed + b)))
        for m, momentum in zip(batch_norms, saved):
            m.momentum = momentum

    @torch.no_grad()
    def validate(self, epoch: int) -> tuple[float, float]:
        self.model.eval()
        loss_sum, correct, n = 0.0, 0, len(self.val_y)
        for b in range(0, n, VAL_BATCH):
            self.check_time(f"while validating epoch {epoch}")
            logits = self.model(channels_last(self.val_x[b:b + VAL_BATCH]))
            labels = self.val_y[b:b + VAL_BATCH]
            loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(1) == labels).sum())
        val_loss = loss_sum / n
        if not math.isfinite(val_loss):
            raise CandidateFailure("nan", f"validation loss is {val_loss} after epoch {epoch}")
        return val_loss, correct / n


def proxy_optimizer(model: nn.Module, config: ProxyConfig) -> torch.optim.Optimizer:
    # No weight decay on BN parameters and biases (1-D tensors), as in the reference training.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0)


def proxy_scheduler(optimizer: torch.optim.Optimizer, config: ProxyConfig, steps: int):
    if config.schedule == "onecycle":
        # Momentum cycles with the LR (the one-cycle recipe) unless plain SGD has none to cycle.
        cycle = config.optimizer == "adamw" or config.momentum > 0
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=max(1, steps),
                                                   cycle_momentum=cycle)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
    return None
