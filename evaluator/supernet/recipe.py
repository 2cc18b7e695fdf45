"""SupernetRecipe: how a supernet is trained, beside the ProxyConfig that fixes its task (data,
resolution, width, batch, augmentation, optimiser, schedule). Plain data, saved with the supernet."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from mixsearch.search_space import checks

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
        for name, check in _RULES.items():
            value = getattr(self, name)
            expected = check(value)
            if expected is not None:
                raise SupernetError(f"supernet recipe {name}: got {value!r}; expected {expected}")

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


_RULES = {
    "epochs": checks.integer(1, 10_000), "random_archs": checks.integer(0, 100), "seed": checks.integer(0, 2 ** 32 - 1),
    "distill": checks.boolean, "kernel_transform": checks.boolean, "temperature": checks.number(0.1, 100),
    "lr": checks.optional(checks.number(0, 10, open_low=True)),  # None: the proxy's
}
