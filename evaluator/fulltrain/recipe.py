"""TrainRecipe: every setting of the final training of one architecture, each default written down.

The defaults are a standard mobile-CNN recipe (MobileNetV2 / MnasNet / MixNet papers, timm's
EfficientNet scripts), shortened for small data sets:
- SGD with Nesterov momentum 0.9, lr 0.1 at batch 128, weight decay 1e-4 on conv/linear weights
  only (none on BN parameters and biases); `optimizer: rmsprop` is the MnasNet/MixNet choice
  (decay 0.9, momentum 0.9, eps 1e-3; lr 0.016 per 256 images there).
- one epoch of linear warm-up, then cosine decay to 0, per step.
- label smoothing 0.1; an EMA of the weights and BN buffers (decay 0.999, warmed up as TF's
  num_updates rule) that is the model validated, tested and exported.
- augmentation 'crop-flip' (random crop of the image padded by 1/8 of its side, horizontal flip);
  'crop-flip-cutout' adds one zeroed square of half the side (DeVries & Taylor 2017).
- drop-path (MixNet's drop-connect) 0.1 at the last block, rising linearly from 0 at the first;
  the arch's own dropout before the classifier.
- BN momentum 0.1 (torch's default; the reference's 0.01 lags over short runs).
- bfloat16 autocast and channels-last memory on CUDA (ignored on CPU).
- resolution None: the data's own image size, at most the arch's (fulltrain/shape.py); stem
  stride None: 1 below 64 px, else the arch's own.
- data: 10% of every class held out as the test sample (final accuracy only), validation at most
  2,000 images of the rest (val_fraction 0.1), the remainder trained on (train_size caps it).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping

from mixsearch.evaluator.sampling import parse_size
from mixsearch.search_space import checks

from .errors import RecipeError

OPTIMIZERS = ("sgd", "rmsprop")
AUGMENTS = ("none", "crop-flip", "crop-flip-cutout")
MAX_SEED = 2 ** 31 - 1
def _expected(check: checks.Check) -> checks.Check:
    """A shared check, its phrase worded as this module's errors are ("expected ...")."""
    return lambda value: None if (expected := check(value)) is None else f"expected {expected}"


def _allowed(*choices: Any) -> checks.Check:
    return lambda value: None if value in choices else f"allowed: {', '.join(map(str, choices))}"


def _device(value: Any) -> str | None:
    ok = isinstance(value, str) and re.fullmatch(r"cpu|auto|cuda(:\d+)?", value)
    return None if ok else "allowed: cpu, cuda, cuda:N, auto"


def _integer(lo: int, hi: int) -> checks.Check:
    return _expected(checks.integer(lo, hi))


def _number(lo: float, hi: float) -> checks.Check:
    return _expected(checks.number(lo, hi))


# field -> what is wrong with a value, or None; optional fields may also be None (= automatic).
RULES: dict[str, checks.Check] = {
    "resolution": checks.optional(_integer(8, 1024)), "stem_stride": checks.optional(_allowed(1, 2)),
    "width_mult": _number(0.05, 8.0), "epochs": _integer(1, 10_000), "batch_size": _integer(2, 8192),
    "optimizer": _allowed(*OPTIMIZERS), "lr": _number(1e-9, 100.0), "momentum": _number(0.0, 0.999),
    "weight_decay": _number(0.0, 1.0), "warmup_epochs": _number(0.0, 10_000.0),
    "label_smoothing": _number(0.0, 0.5), "ema_decay": _number(0.0, 0.99999), "augment": _allowed(*AUGMENTS),
    "crop_padding": _number(0.0, 0.5), "cutout": _number(0.0, 1.0), "drop_path": _number(0.0, 0.9),
    "bn_momentum": _number(0.0, 1.0), "mixed_precision": _expected(checks.boolean),
    "channels_last": _expected(checks.boolean), "test_fraction": _number(0.0, 0.9),
    "val_fraction": _number(1e-6, 0.9), "split_seed": _integer(0, MAX_SEED), "seed": _integer(0, MAX_SEED),
    "device": _device, "threads": checks.optional(_integer(1, 1024)),
}


@dataclass(frozen=True)
class TrainRecipe:
    """How one architecture is trained for real. `width_mult` scales the arch's own width (1.0 =
    the arch itself; below 1 only for stated reduced settings). lr is the rate at `batch_size`."""

    dataset: str = "cifar10-mini"
    resolution: int | None = None
    stem_stride: int | None = None
    width_mult: float = 1.0
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    ema_decay: float = 0.999
    augment: str = "crop-flip"
    crop_padding: float = 0.125
    cutout: float = 0.5
    drop_path: float = 0.1
    bn_momentum: float = 0.1
    mixed_precision: bool = True
    channels_last: bool = True
    test_fraction: float = 0.1
    val_fraction: float = 0.1
    val_size: int | str | None = 2000
    train_size: int | str | None = None
    split_seed: int = 0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset:
            raise RecipeError(f"recipe.dataset: got {self.dataset!r}; expected 'cifar10-mini', 'digits' or a path")
        for name, check in RULES.items():
            value = getattr(self, name)
            problem = check(value)
            if problem:
                raise RecipeError(f"recipe.{name}: got {value!r}; {problem}")
        for name in ("val_size", "train_size"):
            try:
                parse_size(getattr(self, name))
            except ValueError as err:
                raise RecipeError(f"recipe.{name}: {err}") from None

    def replace(self, **changes: Any) -> "TrainRecipe":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainRecipe":
        if not isinstance(data, Mapping):
            raise RecipeError(f"recipe: expected a mapping of training settings, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names), key=str)
        if unknown:
            raise RecipeError(f"recipe.{unknown[0]}: unknown key; allowed keys: {', '.join(names)}")
        return cls(**data)

    def outcome_fields(self) -> dict[str, Any]:
        """The settings that decide the trained weights; device and threads only decide the speed
        (and on a GPU the rounding), so a run may resume under other ones."""
        return {k: v for k, v in self.to_dict().items() if k not in ("device", "threads")}
