"""Latency tables built on demand and kept in a per-machine cache.

A search that targets a latency without a table asks `table_on_demand(space, ...)`: the table of
(device, runtime and its version, threads, clock, batch, granularity, space fingerprint) is loaded
from the cache when it is complete and was measured under exactly those settings; otherwise it is
built (an interrupted build resumes; a stale or foreign file under that name is rebuilt from
scratch, never trusted). Files are written atomically by `build_table`.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mixsearch.search_space.cache_root import cache_root

from .build import build_table, new_metadata
from .errors import LatencyTableError
from .measure import Settings
from .runtimes import Runtime, default_clock, make_runtime
from .table import LatencyTable, load_table

# Settings a cached table must have been measured with to be used as is.
IDENTITY = ("runtime", "runtime_version", "device", "threads", "clock", "batch", "resolution", "granularity",
            "entry_timing")


def cache_dir() -> Path:
    """Tables in latency/ of the machine's cache root (search_space.cache_root)."""
    return cache_root() / "latency"


def default_runtime() -> str:
    """xnnpack (the kernels a phone runs) when ExecuTorch is installed, else onnxruntime."""
    import importlib.util

    return "xnnpack" if importlib.util.find_spec("executorch") is not None else "onnxruntime"


def cache_path(space, runtime: Runtime, batch: int, granularity: str, folder: Path | None = None) -> Path:
    identity = "|".join([runtime.device(), runtime.version(), space.fingerprint()])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    name = f"{space.name}-{runtime.name}-t{runtime.threads}-{runtime.clock}-b{batch}-{granularity}-{digest}.json"
    return (folder or cache_dir()) / name


def why_stale(table: LatencyTable, expected: dict, space) -> str | None:
    """Why a cached table cannot serve as is (None: it can)."""
    for field in IDENTITY:
        if table.metadata.get(field) != expected.get(field):
            return f"metadata.{field} is {table.metadata.get(field)!r}, not {expected.get(field)!r}"
    if table.metadata["space"].get("fingerprint") != space.fingerprint():
        return "built for another space"
    if table.calibration and "reference_ms" not in table.calibration:
        # Calibrated by an older mixsearch against the reference interleaved with each network,
        # which read cache misses as load: its predictions ran 5-10% low (latency/measure.py).
        return "its calibration predates calibration.reference_ms"
    return None


def table_on_demand(space, space_source: str = "", runtime: str | None = None, threads: int = 1,
                    clock: str | None = None, batch: int = 1, granularity: str = "op",
                    folder: str | os.PathLike | None = None, progress: bool = True,
                    settings: Settings = Settings(), calibration_archs: int | None = None,
                    log=print) -> LatencyTable:
    """The complete, calibrated table of `space` for this machine: from the cache, or built now."""
    name = runtime or default_runtime()
    timer = make_runtime(name, threads, clock or default_clock(name, threads))
    path = cache_path(space, timer, batch, granularity, Path(folder) if folder else None)
    expected = new_metadata(space, space_source or space.name, timer, batch, granularity, settings)
    needed = space.possible_layers()
    if path.exists():
        try:
            table = load_table(path)
            stale = why_stale(table, expected, space)
        except LatencyTableError as err:
            table, stale = None, f"unreadable ({err})"
        if stale:
            log(f"latency table {path}: {stale}; rebuilding it")
            path.unlink()
        elif not table.missing(needed) and table.calibration is not None:
            timer.close()
            return table
    # XNNPACK lowers each calibration network for tens of seconds: fewer of them.
    count = calibration_archs if calibration_archs is not None else (16 if name == "xnnpack" else 48)
    log(f"latency table for space {space.name!r} on {timer.device()} ({timer.version()}, {timer.threads} "
        f"thread(s), {timer.clock} clock) is not cached: measuring it once into {path} (resumable; "
        f"the bar shows the time left, then {count} calibration networks)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        timer.close()
        raise LatencyTableError(f"latency table cache {path.parent}: cannot create it ({err.__class__.__name__}); "
                                f"set MIXSEARCH_CACHE to a writable folder or pass --latency-table") from None
    return build_table(space, timer, path, space_source=space_source, batch=batch, granularity=granularity,
                       settings=settings, calibration_archs=count, progress=progress)


__all__ = ["cache_dir", "cache_path", "default_runtime", "table_on_demand", "why_stale"]
