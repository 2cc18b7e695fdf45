"""The shape of the proxy task a candidate is scaled to: input size, classes, channels, width, stem.

One rule, used by proxy training (`proxy.proxy_arch`) and by the supernet, so a supernet's subnets
are exactly the networks proxy training would build. Plain data: it is saved with a supernet and
compared when one is loaded.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mixsearch.search_space import ArchSpec

if TYPE_CHECKING:  # only for the annotation of `of`: no data loading is needed to use a shape
    from .config import ProxyConfig
    from .datasets import SplitData

# Below this input size the stem keeps full resolution (the "first stride removed"):
# at 32 px a stride-2 stem leaves 1x1 maps before the last stage.
SMALL_INPUT = 64


@dataclass(frozen=True)
class ProxyShape:
    """stem_stride None: 1 below SMALL_INPUT px, else the candidate's own. width_mult scales the
    candidate's own multiplier (clamped to the range an ArchSpec accepts)."""

    resolution: int
    num_classes: int
    in_chans: int
    width_mult: float = 0.5
    stem_stride: int | None = None

    @classmethod
    def of(cls, config: "ProxyConfig", data: "SplitData") -> "ProxyShape":
        return cls(resolution=config.resolution, num_classes=data.num_classes, in_chans=data.channels,
                   width_mult=config.width_mult, stem_stride=config.stem_stride)

    def apply(self, arch: ArchSpec) -> ArchSpec:
        """The candidate's blocks unchanged; input, classes, width and stem stride of the proxy task."""
        stem_stride = self.stem_stride or (1 if self.resolution < SMALL_INPUT else arch.stem_stride)
        width = min(8.0, max(0.05, arch.width_mult * self.width_mult))
        return arch.replace(resolution=self.resolution, num_classes=self.num_classes, in_chans=self.in_chans,
                            width_mult=width, stem_stride=stem_stride)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
