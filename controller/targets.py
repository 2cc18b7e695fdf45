"""Parse the user's targets: FLOPs ("300M", "0.3G", "3e8", "300000k"), durations ("30m") and
latencies ("15ms"). Each parser returns a plain number or raises a one-line `TargetError`."""
from __future__ import annotations

import math
import re

from mixsearch.search_space.errors import UsageError


class TargetError(UsageError):
    """A target, budget or latency string that cannot be read."""


_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)"
_FLOPS_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_LATENCY_UNITS = {"": 1.0, "ms": 1.0, "us": 1e-3, "s": 1e3}


def _split(text: str, units: dict, what: str, example: str) -> tuple[float, float]:
    match = re.fullmatch(_NUMBER + r"\s*([a-zA-Z]*)", str(text).strip())
    unit = match.group(2).lower() if match else None
    if match is None or unit not in units:
        allowed = ", ".join(repr(u) for u in units if u)
        raise TargetError(f"{what}: cannot read {text!r}; write a positive number with an optional unit "
                          f"({allowed}), e.g. {example}")
    value = float(match.group(1))
    if not math.isfinite(value) or value <= 0:
        raise TargetError(f"{what}: got {text!r}; it must be a positive number, e.g. {example}")
    return value, units[unit]


def parse_flops(text: str | int | float) -> int:
    """Multiply-adds from "300M" / "0.3G" / "3e8" / "300000k" / 300000000 (case-insensitive units)."""
    value, scale = _split(text, _FLOPS_UNITS, "--target-flops", "300M")
    flops = round(value * scale)
    if flops < 1:
        raise TargetError(f"--target-flops: got {text!r}, which is less than one multiply-add; e.g. 300M")
    return int(flops)


def parse_duration(text: str | int | float) -> float:
    """Seconds from "90s" / "30m" / "1.5h" / "600" (bare numbers are seconds)."""
    value, scale = _split(text, _DURATION_UNITS, "--time-budget", "30m")
    return value * scale


def parse_latency(text: str | int | float) -> float:
    """Milliseconds from "15ms" / "15" / "1500us" / "0.015s" (bare numbers are milliseconds)."""
    value, scale = _split(text, _LATENCY_UNITS, "--target-latency", "15ms")
    return value * scale


def format_flops(flops: float) -> str:
    """300000000 -> "300.0M": the inverse of parse_flops, for messages and tables."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(flops) >= scale:
            return f"{flops / scale:.1f}{unit}"
    return f"{flops:.0f}"
