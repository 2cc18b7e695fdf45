"""Checks of command-line values that no library call sees before it starts work."""
from __future__ import annotations

from mixsearch.search_space.errors import MixsearchError

MAX_SEED = 2 ** 32 - 1  # as ProxyConfig's seeds: every generator we seed (numpy, torch) takes it


class BadValueError(MixsearchError):
    """A command-line value out of its range."""


def check_seed(flag: str, value: int) -> int:
    if not 0 <= value <= MAX_SEED:
        raise BadValueError(f"{flag}: got {value}; expected an integer in [0, {MAX_SEED}]")
    return value
