"""ProxyConfig: every setting of the proxy training, with defaults chosen by measurement.

The defaults train a half-width copy of the candidate (stem stride 1, every residual block started
as the identity) for 3 epochs, batch 32, SGD one-cycle lr 0.03, under two seeds side by side
(`repeats: 2`, scores averaged), on scikit-learn's digits at 16x16 (their native 8x8 upsampled
once: 32 px adds no detail) under random rotation/scale/shift and noise; 40% of the images
(stratified) are the validation split, scored under two fixed distortions. Measured with
benchmarks/bench_proxy.py on 12 random archs of the default space (benchmarks/results_proxy.md):
- 16 px: at 32 px every arch reaches 95-97% after 9 epochs and two seeds rank them at tau ~0;
  at 16 px the recipe plateaus near 91% and the archs separate about as much as seeds do.
- lr 0.03 (was 0.05): the 9-epoch training's seed sd fell from 1.6-2.5 to 0.8-0.9 points (at
  0.05 about one training in twelve collapsed).
- repeats 2: the proxy then ranks like a 4-seed 9-epoch training at tau +0.63 on one sample of
  12 archs (+0.52 with crop_kernels' float order), +0.33 on another, +0.44 expected over random sets of 12 (proxy_ceiling.py), where two
  seeds of the 9-epoch training itself reach +0.39; one seed ranked at +0.32 where two gave +0.66
  (lr 0.05). Four seeds: +0.53 expected for twice the time.
- zero-init residual blocks: seed sd of the 3-epoch accuracy 4.1 -> 0.9 points (32 px).
- two validation draws: seed-vs-seed tau 0.35 -> 0.59 for 9% more time. Batch 64 and a 20%
  split ranked worse.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ProxyConfigError

OPTIMIZERS = ("sgd", "adamw")
# The largest values a proxy training may ask for: beyond them it allocates or loops without end.
MAX_RESOLUTION = 1024  # the proxy trains batches of full-size images at it
MAX_SEED = 2 ** 32 - 1  # seeds seed + i go to torch and numpy generators
SCHEDULES = ("onecycle", "cosine", "constant")


@dataclass(frozen=True)
class ProxyConfig:
    """How a candidate is trained and scored.

    dataset: 'digits', a path, or 'imagefolder:'/'cifar:'/'npz:' + path (see datasets.py).
    resolution / width_mult: the proxy's input size and channel scale; the block structure is kept.
    stem_stride: None = 1 below 64 px (small inputs keep their detail), else the arch's own.
    data_fraction: share of the training split used; val_fraction: share held out (stratified).
    shift / rotate / scale / noise: random distortion of training images each epoch, and one fixed
    draw on the validation images when distort_val (augment.py); val_draws > 1 scores the validation
    images under that many fixed draws (a larger, less noisy validation set from the same images;
    ignored without distort_val, where every draw would be the same image).
    divergence_factor: a batch loss above this many times max(first loss, ln classes) is divergence.
    time_limit_s: per candidate, checked between batches; None = no limit.
    bn_batches: training batches that recompute BN statistics before each validation (0 = off).
    crop_kernels: depthwise kernels are cut to the taps that can reach the input (MixConv.crop_to_input;
    exact; 9% less time at 16 px, where 9x9 kernels meet 2x2 and 1x1 maps).
    zero_init_residual: the last BN of every residual block starts at gamma 0 for training, so each
    block starts as the identity (the zero-cost scores keep the reference initialisation).
    repeats: trainings under seeds seed, seed+1, ... run side by side; each epoch's report and the
    final score are their means (seed noise shrinks as 1/sqrt(repeats), time grows as repeats).
    threads: torch.set_num_threads for the evaluation (restored after); None = leave as is.
    device: where the proxy trains: 'cpu', 'cuda', 'cuda:N', or 'auto' (cuda when torch sees a GPU).
    Images are drawn and distorted on the CPU from the same seeded streams on every device, so a
    seed trains the same candidate on the same batches anywhere; only float rounding differs.
    """

    dataset: str = "digits"
    resolution: int = 16
    epochs: int = 3
    batch_size: int = 32
    width_mult: float = 0.5
    stem_stride: int | None = None
    data_fraction: float = 1.0
    val_fraction: float = 0.4
    shift: float = 0.1
    rotate: float = 15.0
    scale: float = 0.1
    noise: float = 0.3
    distort_val: bool = True
    val_draws: int = 2
    optimizer: str = "sgd"
    lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 5e-5
    schedule: str = "onecycle"
    label_smoothing: float = 0.0
    bn_momentum: float = 0.1
    bn_batches: int = 4
    zero_init_residual: bool = True
    crop_kernels: bool = True
    repeats: int = 2
    seed: int = 0
    split_seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    time_limit_s: float | None = 300.0
    divergence_factor: float = 10.0
    deterministic: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _int("resolution", self.resolution, 8, MAX_RESOLUTION)
        _int("epochs", self.epochs, 1, 10_000)
        _int("batch_size", self.batch_size, 2, 4096)
        _number("width_mult", self.width_mult, 0.05, 8.0)
        if self.stem_stride not in (None, 1, 2):
            raise ProxyConfigError(f"proxy.stem_stride: got {self.stem_stride!r}, allowed: null (auto), 1, 2")
        _number("data_fraction", self.data_fraction, 1e-6, 1.0)
        _number("val_fraction", self.val_fraction, 1e-6, 0.9)
        _number("shift", self.shift, 0.0, 0.5)
        _number("rotate", self.rotate, 0.0, 180.0)
        _number("scale", self.scale, 0.0, 0.9)
        _number("noise", self.noise, 0.0, 10.0)
        _bool("distort_val", self.distort_val)
        _int("val_draws", self.val_draws, 1, 100)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _number("lr", self.lr, 1e-9, 1e9)
        _number("momentum", self.momentum, 0.0, 0.999)
        _number("weight_decay", self.weight_decay, 0.0, 1.0)
        _choice("schedule", self.schedule, SCHEDULES)
        _number("label_smoothing", self.label_smoothing, 0.0, 0.5)
        _number("bn_momentum", self.bn_momentum, 0.0, 1.0)
        _int("bn_batches", self.bn_batches, 0, 10_000)
        _bool("zero_init_residual", self.zero_init_residual)
        _bool("crop_kernels", self.crop_kernels)
        _int("repeats", self.repeats, 1, 64)
        _int("seed", self.seed, 0, MAX_SEED)
        _int("split_seed", self.split_seed, 0, MAX_SEED)
        if self.threads is not None:
            _int("threads", self.threads, 1, 1024)
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|auto|cuda(:\d+)?", self.device):
            raise ProxyConfigError(f"proxy.device: got {self.device!r}; allowed: cpu, cuda, cuda:N, auto")
        if self.time_limit_s is not None:
            _number("time_limit_s", self.time_limit_s, 0.0, 1e9)
        _number("divergence_factor", self.divergence_factor, 1.0, 1e9)
        _bool("deterministic", self.deterministic)
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ProxyConfigError(f"proxy.dataset: got {self.dataset!r}; expected 'digits' or a dataset path")

    def replace(self, **changes: Any) -> "ProxyConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ProxyConfig":
        if not isinstance(data, Mapping):
            raise ProxyConfigError(f"proxy: expected a mapping of proxy settings, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names), key=str)
        if unknown:
            raise ProxyConfigError(f"proxy.{unknown[0]}: unknown key; allowed keys: {', '.join(names)}")
        return cls(**data)


def _int(name: str, value: Any, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ProxyConfigError(f"proxy.{name}: got {value!r}; expected an integer in [{minimum}, {maximum:,}]")


def _number(name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ProxyConfigError(f"proxy.{name}: got {value!r}; expected a number in [{lo:g}, {hi:g}]")


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ProxyConfigError(f"proxy.{name}: got {value!r}; expected true or false")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ProxyConfigError(f"proxy.{name}: got {value!r}; allowed: {', '.join(allowed)}")
