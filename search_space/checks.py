"""The value checks every parser shares (specs, spaces, proxy settings, search settings).

A check returns None for a good value, else what was expected ("an integer in [1, 64]"), so each
parser words its one-line error its own way (a field path, a flag, a settings file) from one rule.
"""
from __future__ import annotations

from typing import Any, Callable

Check = Callable[[Any], "str | None"]


def integer(lo: int, hi: int) -> Check:
    def check(value: Any) -> str | None:
        ok = not isinstance(value, bool) and isinstance(value, int) and lo <= value <= hi
        return None if ok else f"an integer in [{lo}, {hi}]"
    return check


def number(lo: float, hi: float, open_low: bool = False) -> Check:
    """A real number in [lo, hi] (lo excluded with open_low); NaN and infinities never pass."""
    def check(value: Any) -> str | None:
        ok = (not isinstance(value, bool) and isinstance(value, (int, float))
              and (lo < value if open_low else lo <= value) and value <= hi)
        return None if ok else (f"a number > {lo:g} and <= {hi:g}" if open_low else f"a number in [{lo:g}, {hi:g}]")
    return check


def one_of(allowed: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and value in allowed else f"one of: {', '.join(allowed)}"
    return check


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) and value and "\0" not in value else "a non-empty string"


def optional(check: Check) -> Check:
    """`check`, or None (unset)."""
    return lambda value: None if value is None else check(value)
