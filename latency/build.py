"""Build, resume or extend a latency table for a search space.

Only entries the file at `out` lacks are measured, so an interrupted build resumes where it stopped
and a table of a grown space measures just the new entries. The file is rewritten atomically every
`save_every_s` seconds, so a kill loses at most that much work.
"""
from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .calibrate import calibrate_table
from .entries import Entry, entries_of
from .errors import LatencyTableError
from .measure import REFERENCE_LAYER, Settings, Stats, call_overhead_ms, reference_entry, summarize
from .runtimes import Runtime
from .signature import layer_signature
from .table import MAX_BATCH, SCHEMA_VERSION, LatencyTable, load_table

# Settings a resumed table must share with the new measurements, or its entries are not comparable.
MUST_MATCH = ("runtime", "threads", "batch", "resolution", "granularity", "device", "clock", "entry_timing")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def new_metadata(space, space_source: str, runtime: Runtime, batch: int, granularity: str,
                 settings: Settings) -> dict[str, Any]:
    return {
        "runtime": runtime.name, "runtime_version": runtime.version(), "device": runtime.device(),
        "threads": runtime.threads, "clock": runtime.clock, "batch": batch, "resolution": space.resolution,
        "granularity": granularity, **({"entry_timing": runtime.entry_timing} if runtime.entry_timing else {}),
        "space": {"name": space.name, "fingerprint": space.fingerprint(), "source": space_source},
        "created": _now(), "updated": _now(), "unit": "ms", "statistic": "median", "spread": "iqr",
        "measurement": settings.to_dict(),
        "host": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "schema_version": SCHEMA_VERSION,
    }


def _existing(out: Path, metadata: dict[str, Any]) -> LatencyTable | None:
    if not out.exists():
        return None
    table = load_table(out)
    for field in MUST_MATCH:
        if table.metadata.get(field) != metadata.get(field):
            raise LatencyTableError(
                f"{out}: metadata.{field} is {table.metadata.get(field)!r} but this build uses {metadata.get(field)!r}; "
                f"its entries cannot be reused: pass another --out, or delete {out} to start afresh")
    return table


def measure_entries(entries: list[Entry], runtime: Runtime, batch: int, settings: Settings, seed: int,
                    on_group=None, progress: bool = True, reference_ms: float | None = None,
                    overhead_ms: float = 0.0) -> tuple[dict[str, dict[str, Any]], float | None]:
    """Measure entries in round-robin groups, each followed by the reference layer; `on_group(results,
    reference_ms)` after each group. Entries are scaled to the table's reference time (`reference_ms`,
    or for a new table the median of the reference's times over the groups so far, so that one
    group under other load — or a cold first one — does not skew every other group), and lose
    `overhead_ms`, the runtime's per-call cost that a network pays once, not per entry.
    Returns (results, reference_ms)."""
    from tqdm import tqdm

    settings = settings.for_runtime(runtime)
    generator = torch.Generator().manual_seed(seed)
    timed_entries: dict[str, tuple[Stats, float]] = {}  # signature -> (stats, the reference in its group)
    group_references: list[float] = []
    results: dict[str, dict[str, Any]] = {}
    groups = [entries[start:start + settings.group] for start in range(0, len(entries), settings.group)]

    def made(group: list[Entry]):
        return [entry.make(batch, generator) for entry in group]

    with tqdm(total=len(entries), desc=f"latency {runtime.name}", unit="entry", disable=not progress,
              file=sys.stderr) as bar:
        timed = runtime.time_entry_groups((made(group) for group in groups), settings.warmup, settings.runs,
                                          reference_entry(batch, generator))
        fixed_reference = reference_ms
        for group, samples in zip(groups, timed):
            *stats, reference = [summarize(s) for s in samples]
            group_references.append(reference.ms)
            timed_entries.update((entry.signature, (entry_stats, reference.ms)) for entry, entry_stats in zip(group, stats))
            reference_ms = fixed_reference or float(np.median(group_references))
            results = scaled_to_reference(timed_entries, reference_ms, overhead_ms)
            bar.update(len(group))
            if on_group:
                on_group(results, reference_ms)
    return results, reference_ms


def scaled_to_reference(timed: dict[str, tuple[Stats, float]], reference_ms: float,
                        overhead_ms: float) -> dict[str, dict[str, Any]]:
    """Each entry's time as if its group had run at the reference's table time; its record keeps
    that group's `load` (reference in the group / the table's)."""
    results = {}
    for signature, (stats, group_reference_ms) in timed.items():
        load = group_reference_ms / reference_ms
        results[signature] = {**Stats(max(0.0, stats.ms / load - overhead_ms), stats.iqr_ms / load,
                                      stats.runs).to_dict(), "load": round(load, 4)}
    return results


def build_table(space, runtime: Runtime, out: str | os.PathLike, *, space_source: str = "", batch: int = 1,
                granularity: str = "op", settings: Settings = Settings(), calibration_archs: int = 48,
                seed: int = 0, save_every_s: float = 5.0, progress: bool = True,
                limit: int | None = None) -> LatencyTable:
    """Measure every entry the space needs that `out` lacks, fit the calibration, save `out`.

    limit: stop after measuring this many new entries (the table stays resumable); None = all.
    """
    out = Path(out)
    settings = settings.for_runtime(runtime)
    if not 1 <= batch <= MAX_BATCH:
        raise LatencyTableError(f"--batch: got {batch}, expected an integer in [1, {MAX_BATCH}]")
    metadata = new_metadata(space, space_source or space.name, runtime, batch, granularity, settings)
    table = _existing(out, metadata)
    known: dict[str, dict[str, Any]] = dict(table.entries) if table else {}
    if table:
        metadata["created"] = table.metadata.get("created", metadata["created"])
    needed = entries_of(space.possible_layers(), granularity)
    missing = [entry for signature, entry in needed.items() if signature not in known]
    # A fixed shuffle, so each round-robin group mixes early (large) and late (small) layers.
    order = np.random.default_rng(seed).permutation(len(missing))
    missing = [missing[i] for i in order][:limit]
    same_space = table is not None and table.metadata["space"].get("fingerprint") == space.fingerprint()
    calibration = table.calibration if same_space else None
    reference_ms = (table.metadata.get("reference") or {}).get("ms") if table else None
    overhead = table.metadata.get("call_overhead_ms", 0.0) if table else None  # older tables: none
    metadata["call_overhead_ms"] = round(call_overhead_ms(runtime, settings) if overhead is None else overhead, 5)
    last_save = time.monotonic()

    def save(results: dict[str, dict[str, Any]], reference: float | None, final: bool = False) -> LatencyTable:
        nonlocal last_save
        if reference:
            metadata["reference"] = {"layer": layer_signature(REFERENCE_LAYER), "ms": round(reference, 5)}
        current = LatencyTable({**metadata, "updated": _now()}, {**known, **results}, calibration, str(out))
        if final or time.monotonic() - last_save >= save_every_s:
            current.save(out)
            last_save = time.monotonic()
        return current

    try:
        results, reference_ms = measure_entries(missing, runtime, batch, settings, seed, on_group=save,
                                                progress=progress, reference_ms=reference_ms,
                                                overhead_ms=metadata["call_overhead_ms"])
        table = save(results, reference_ms, final=True)
        complete = not table.missing(space.possible_layers())
        if complete and (calibration is None or results):
            table.set_calibration(calibrate_table(table, space, runtime, calibration_archs, seed, settings))
            table.save(out)
    finally:
        runtime.close()
    return table
