"""SupernetRecipe: how a supernet is trained, beside the ProxyConfig that fixes its task (data,
resolution, width, batch, augmentation, optimiser, schedule). Plain data, saved with the supernet."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import SupernetError


@dataclass(frozen=True)
class SupernetRecipe:
    """epochs: passes over the proxy's training sample. random_archs: the N of the sandwich rule
    (largest, smallest and N uniformly sampled members per step). distill: in-place distillation,
    every member but the largest learns the largest's soft predictions (KL at `temperature`)
    instead of the labels. lr: None = the proxy's. kernel_transform: Once-for-All's learned
    kernel transforms. seed: the supernet's initialisation, data order, augmentation and samples."""

    epochs: int = 6
    random_archs: int = 2
    distill: bool = True
    temperature: float = 1.0
    lr: float | None = None
    kernel_transform: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low, high in (("epochs", 1, 10_000), ("random_archs", 0, 100), ("seed", 0, 2 ** 32 - 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise SupernetError(f"supernet recipe {name}: got {value!r}; expected an integer in [{low}, {high:,}]")
        for name in ("distill", "kernel_transform"):
            if not isinstance(getattr(self, name), bool):
                raise SupernetError(f"supernet recipe {name}: got {getattr(self, name)!r}; expected true or false")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or not 0.1 <= self.temperature <= 100:
            raise SupernetError(f"supernet recipe temperature: got {self.temperature!r}; expected a number in [0.1, 100]")
        if self.lr is not None and (isinstance(self.lr, bool) or not isinstance(self.lr, (int, float))
                                    or not 0 < self.lr <= 10):
            raise SupernetError(f"supernet recipe lr: got {self.lr!r}; expected null (the proxy's) or a number in (0, 10]")

    def replace(self, **changes: Any) -> "SupernetRecipe":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SupernetRecipe":
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names), key=str)
        if unknown:
            raise SupernetError(f"supernet recipe {unknown[0]}: unknown key; allowed keys: {', '.join(names)}")
        return cls(**data)
