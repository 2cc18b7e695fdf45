"""Where mixsearch keeps what it measures or decodes once per machine (latency tables, datasets)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$MIXSEARCH_CACHE, else $XDG_CACHE_HOME/mixsearch, else ~/.cache/mixsearch."""
    root = os.environ.get("MIXSEARCH_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mixsearch"
