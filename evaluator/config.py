"""ProxyConfig: every setting of the proxy training, with defaults chosen by measurement.

The defaults train a half-width copy of the candidate (stem stride 1, every residual block started
as the identity) for 3 epochs, batch 32, SGD one-cycle lr 0.02, under two seeds side by side
(`repeats: 2`, scores averaged), on the embedded real images (cifar10-mini) at 16x16: a stratified
sample of 4,000 training and 2,000 validation images (10% of the set held out first as the test
sample), random shifts and mirror flips while training, clean validation images, BN statistics
recomputed on 16 batches before scoring. How each choice was measured (seed spread vs arch spread,
Kendall tau against a 4x longer training on held-out images) and the digits recipe it replaced:
benchmarks/results_proxy.md and benchmarks/README.md.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping

from mixsearch.search_space import checks

from .errors import ProxyConfigError
from .sampling import parse_size

OPTIMIZERS = ("sgd", "adamw")
# The largest values a proxy training may ask for: beyond them it allocates or loops without end.
MAX_RESOLUTION = 1024  # the proxy trains batches of full-size images at it
MAX_SEED = 2 ** 32 - 1  # seeds seed + i go to torch and numpy generators
SCHEDULES = ("onecycle", "cosine", "constant")
SCORE_SPLITS = ("val", "test")


@dataclass(frozen=True)
class ProxyConfig:
    """How a candidate is trained and scored.

    dataset: 'cifar10-mini' (embedded real images), 'digits', a path, or 'imagefolder:'/'cifar:'/'npz:' + path
    (see datasets.py).
    resolution / width_mult: the proxy's input size and channel scale; the block structure is kept.
    stem_stride: None = 1 below 64 px (small inputs keep their detail), else the arch's own.
    test_fraction: share of each class held out first for final figures; no proxy trains or is
    scored on it unless score_split is 'test'. val_fraction: share of the rest held out for
    validation, at most val_size; data_fraction: share of the remainder trained on, at most
    train_size. Sizes are totals (5000) or per class ('500/class'); all samples are stratified and
    seeded by split_seed, and disjoint (sampling.py).
    score_split: 'val' (searching) or 'test' (a final figure, never used to choose anything).
    data_cache: decode the dataset once per machine into the cache ($MIXSEARCH_CACHE/data); off:
    decode only the sampled images in every process.
    shift / rotate / scale / noise / flip: random distortion of training images each epoch, and one fixed
    draw on the validation images when distort_val (augment.py); val_draws > 1 scores the validation
    images under that many fixed draws (a larger, less noisy validation set from the same images;
    ignored without distort_val, where every draw would be the same image).
    divergence_factor: a batch loss above this many times max(first loss, ln classes) is divergence.
    time_limit_s: per candidate, checked between batches; None = no limit.
    bn_batches: training batches that recompute BN statistics before each validation (0 = off).
    crop_kernels: depthwise kernels are cut to the taps that can reach the input (MixConv.crop_to_input;
    exact, and faster at 16 px, where 9x9 kernels meet 2x2 and 1x1 maps: benchmarks/README.md).
    zero_init_residual: the last BN of every residual block starts at gamma 0 for training, so each
    block starts as the identity (the zero-cost scores keep the reference initialisation).
    repeats: trainings under seeds seed, seed+1, ... run side by side; each epoch's report and the
    final score are their means (seed noise shrinks as 1/sqrt(repeats), time grows as repeats).
    threads: torch.set_num_threads for the evaluation (restored after); None = leave as is.
    device: where the proxy trains: 'cpu', 'cuda', 'cuda:N', or 'auto' (cuda when torch sees a GPU).
    Images are drawn and distorted on the CPU from the same seeded streams on every device, so a
    seed trains the same candidate on the same batches anywhere; only float rounding differs.
    """

    dataset: str = "cifar10-mini"
    resolution: int = 16
    epochs: int = 3
    batch_size: int = 32
    width_mult: float = 0.5
    stem_stride: int | None = None
    data_fraction: float = 1.0
    val_fraction: float = 0.4
    test_fraction: float = 0.1
    val_size: int | str | None = 2000
    train_size: int | str | None = 4000
    score_split: str = "val"
    data_cache: bool = True
    shift: float = 0.125
    rotate: float = 0.0
    scale: float = 0.0
    noise: float = 0.0
    flip: bool = True
    distort_val: bool = False
    val_draws: int = 2
    optimizer: str = "sgd"
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 5e-5
    schedule: str = "onecycle"
    label_smoothing: float = 0.0
    bn_momentum: float = 0.1
    bn_batches: int = 16
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
        _number("test_fraction", self.test_fraction, 0.0, 0.9)
        for name in ("val_size", "train_size"):
            try:
                parse_size(getattr(self, name))
            except ValueError as err:
                raise ProxyConfigError(f"proxy.{name}: {err}") from None
        _choice("score_split", self.score_split, SCORE_SPLITS)
        _bool("data_cache", self.data_cache)
        _number("shift", self.shift, 0.0, 0.5)
        _number("rotate", self.rotate, 0.0, 180.0)
        _number("scale", self.scale, 0.0, 0.9)
        _number("noise", self.noise, 0.0, 10.0)
        _bool("flip", self.flip)
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
            raise ProxyConfigError(f"proxy.dataset: got {self.dataset!r}; expected 'cifar10-mini', 'digits' or a "
                                   "dataset path")

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


def _require(name: str, value: Any, check: checks.Check) -> None:
    expected = check(value)
    if expected is not None:
        raise ProxyConfigError(f"proxy.{name}: got {value!r}; expected {expected}")


def _int(name: str, value: Any, minimum: int, maximum: int) -> None:
    _require(name, value, checks.integer(minimum, maximum))


def _number(name: str, value: Any, lo: float, hi: float) -> None:
    _require(name, value, checks.number(lo, hi))


def _bool(name: str, value: Any) -> None:
    _require(name, value, checks.boolean)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    _require(name, value, checks.one_of(allowed))
