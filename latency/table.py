"""A latency table: measured entries keyed by signature, metadata, calibration; the predictor.

The file is JSON (a subset of YAML, so any YAML reader loads it too); JSON because a table holds
thousands of entries and json loads them far faster than yaml.safe_load. Format: latency/FORMAT.md.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable

from mixsearch.search_space import safe_io
from mixsearch.search_space.arch_io import write_atomic
from mixsearch.search_space.layers import Layer, block_layers, walk_rows
from mixsearch.search_space.spec import INT_RANGES, ArchSpec

from .errors import LatencyTableError
from .signature import GRANULARITIES, entry_signatures

SCHEMA_VERSION = 1
KIND = "latency_table"
REQUIRED_METADATA = ("runtime", "threads", "batch", "resolution", "granularity", "space")
MAX_CACHED_ROWS = 1_000_000
MAX_THREADS = 1024  # what a table may record, so what a build may measure with
MAX_BATCH = 4096


def build_command(metadata: dict, out: str, space: str | None = None) -> str:
    """The exact CLI call that measures whatever the table at `out` lacks (it resumes/extends `out`)."""
    built_for = metadata.get("space", {})
    space = space or built_for.get("source") or built_for.get("name", "default")
    return (f"mixsearch latency build --space {space} --runtime {metadata.get('runtime', 'eager')} "
            f"--threads {metadata.get('threads', 1)} --clock {metadata.get('clock', 'wall')} "
            f"--batch {metadata.get('batch', 1)} --granularity {metadata.get('granularity', 'op')} --out {out}")


class LatencyTable:
    """Predicts the latency (ms) of an architecture as the calibrated sum of its entries."""

    def __init__(self, metadata: dict[str, Any], entries: dict[str, dict[str, Any]],
                 calibration: dict[str, Any] | None = None, source: str = "<table>"):
        self.metadata = metadata
        self.entries = entries
        self.calibration = calibration
        self.source = source
        self.granularity = metadata["granularity"]
        self._scale, self._offset = _calibration_terms(calibration)
        self._layer_ms: dict[Layer, float] = {}
        # (BlockSpec, in_chs, in_size, width_mult) -> summed ms of the row: predict() resolves no
        # block row it has seen before, only looks it up.
        self._row_ms: dict[tuple, float] = {}

    # ---- lookups ---------------------------------------------------------------------------------
    def entry_ms(self, signature: str) -> float:
        entry = self.entries.get(signature)
        if entry is None:
            raise LatencyTableError(
                f"{self.source}: no entry {signature!r} (runtime {self.metadata['runtime']}, "
                f"{self.metadata['threads']} thread(s), batch {self.metadata['batch']}); measure it with: "
                f"{build_command(self.metadata, self.source)} (if the architecture lies outside space "
                f"{self.metadata['space'].get('name')!r}, give a --space that contains it)")
        return entry["ms"]

    def layer_ms(self, layer: Layer) -> float:
        """Uncalibrated latency of one resolved layer: the sum of its entries."""
        ms = self._layer_ms.get(layer)
        if ms is None:
            ms = sum(self.entry_ms(s) for s in entry_signatures(layer, self.granularity))
            self._layer_ms[layer] = ms
        return ms

    def missing(self, layers: Iterable[Layer]) -> list[str]:
        """Signatures the layers need that the table lacks, sorted."""
        need = {s for layer in layers for s in entry_signatures(layer, self.granularity)}
        return sorted(need - self.entries.keys())

    @property
    def network_reference_ms(self) -> float | None:
        """The reference layer's time beside whole networks when the calibration was measured (the
        load its predictions hold at); older tables: the build's reference time, or None."""
        return (self.calibration or {}).get("reference_ms") or (self.metadata.get("reference") or {}).get("ms")

    def calibrate(self, raw_ms: float) -> float:
        return self._scale * raw_ms + self._offset

    def predict_layers_raw(self, layers: Iterable[Layer]) -> float:
        return sum(self.layer_ms(layer) for layer in layers)

    def set_calibration(self, calibration: dict[str, Any] | None) -> None:
        self.calibration = calibration
        self._scale, self._offset = _calibration_terms(calibration)

    def predict_raw(self, arch: ArchSpec) -> float:
        """Sum of the arch's entries, before calibration."""
        stem, rows, head = walk_rows(arch)
        total = self.layer_ms(stem) + self.layer_ms(head)
        for block, in_chs, in_size, path in rows:
            key = (block, in_chs, in_size, arch.width_mult)
            ms = self._row_ms.get(key)
            if ms is None:
                if len(self._row_ms) > MAX_CACHED_ROWS:  # bounded memory over endless searches
                    self._row_ms.clear()
                ms = self._row_ms[key] = sum(
                    self.layer_ms(layer) for layer in block_layers(block, in_chs, in_size, arch.width_mult, path))
            total += ms
        return total

    def predict(self, arch: ArchSpec) -> float:
        """Predicted latency of the whole network in milliseconds."""
        return self.calibrate(self.predict_raw(arch))

    # ---- compatibility ---------------------------------------------------------------------------
    def check_space(self, space) -> None:
        """Raise unless the table was built for this space (fingerprint) at its resolution."""
        built = self.metadata["space"]
        if self.metadata["resolution"] != space.resolution:
            raise LatencyTableError(
                f"{self.source}: metadata.resolution is {self.metadata['resolution']} but space {space.name!r} "
                f"uses {space.resolution}; build a table for it: "
                f"{build_command(self.metadata, 'TABLE.json', space='<that space>')}")
        if built.get("fingerprint") != space.fingerprint():
            raise LatencyTableError(
                f"{self.source}: built for space {built.get('name')!r} (fingerprint "
                f"{str(built.get('fingerprint'))[:12]}), not for space {space.name!r} (fingerprint "
                f"{space.fingerprint()[:12]}); extend it with: "
                f"{build_command(self.metadata, self.source, space='<that space>')}")

    # ---- file ------------------------------------------------------------------------------------
    def to_document(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "kind": KIND, "metadata": self.metadata,
                "calibration": self.calibration, "entries": dict(sorted(self.entries.items()))}

    def dumps(self) -> str:
        return json.dumps(self.to_document(), indent=1) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, self.dumps())


def _calibration_terms(calibration: dict | None) -> tuple[float, float]:
    if not calibration:
        return 1.0, 0.0
    return float(calibration.get("scale", 1.0)), float(calibration.get("offset_ms", 0.0))


def _fail(source: str, field: str, message: str) -> LatencyTableError:
    return LatencyTableError(f"{source}: {field}: {message}")


def table_from_document(doc: Any, source: str) -> LatencyTable:
    """Strictly validated table; errors name the file and field."""
    if not isinstance(doc, dict):
        raise _fail(source, "<root>", f"expected a JSON object (a latency table), got {type(doc).__name__}")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise _fail(source, "schema_version", f"got {version!r}, this mixsearch reads {SCHEMA_VERSION}; "
                                              f"rebuild the table with `mixsearch latency build`")
    if doc.get("kind") != KIND:
        raise _fail(source, "kind", f"got {doc.get('kind')!r}, expected {KIND!r}")
    unknown = sorted(set(doc) - {"schema_version", "kind", "metadata", "calibration", "entries"})
    if unknown:
        raise _fail(source, unknown[0], "unknown key; allowed: schema_version, kind, metadata, calibration, entries")
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        raise _fail(source, "metadata", "expected an object")
    for field in REQUIRED_METADATA:
        if field not in metadata:
            raise _fail(source, f"metadata.{field}", "required field is missing (see latency/FORMAT.md)")
    for field, low, high in (("threads", 1, MAX_THREADS), ("batch", 1, MAX_BATCH),
                             ("resolution", *INT_RANGES["resolution"])):
        value = metadata[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(source, f"metadata.{field}", f"expected an integer in [{low}, {high}], got {value!r}")
    if not isinstance(metadata["runtime"], str) or not metadata["runtime"]:
        raise _fail(source, "metadata.runtime", f"expected the runtime's name, got {metadata['runtime']!r}")
    if metadata["granularity"] not in GRANULARITIES:
        raise _fail(source, "metadata.granularity", f"got {metadata['granularity']!r}, allowed: {', '.join(GRANULARITIES)}")
    built_for = metadata["space"]
    if not isinstance(built_for, dict) or not all(isinstance(built_for.get(k), str) for k in ("name", "fingerprint")) \
            or not isinstance(built_for.get("source", ""), str):
        raise _fail(source, "metadata.space", "expected an object with the strings name, fingerprint (and source)")
    calibration = doc.get("calibration")
    if calibration is not None:
        if not isinstance(calibration, dict):
            raise _fail(source, "calibration", "expected an object or null")
        for field, default in (("scale", 1.0), ("offset_ms", 0.0)):
            value = calibration.get(field, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise _fail(source, f"calibration.{field}", f"expected a finite number, got {value!r}")
        reference_ms = calibration.get("reference_ms")
        if reference_ms is not None and (isinstance(reference_ms, bool) or not isinstance(reference_ms, (int, float))
                                         or not math.isfinite(reference_ms) or reference_ms <= 0):
            raise _fail(source, "calibration.reference_ms", f"expected a finite number > 0 or null, got {reference_ms!r}")
        if calibration.get("scale", 1.0) <= 0:  # a prediction that falls as the network grows
            raise _fail(source, "calibration.scale", f"expected a number > 0, got {calibration['scale']!r}; set "
                                                     "calibration to null, and `mixsearch latency build` on the "
                                                     "table fits it again")
    entries = doc.get("entries")
    if not isinstance(entries, dict):
        raise _fail(source, "entries", "expected an object of signature -> {ms, iqr_ms, runs}")
    for signature, entry in entries.items():
        if not isinstance(entry, dict) or "ms" not in entry:
            raise _fail(source, f"entries[{signature!r}]", f"expected an object with 'ms', got {entry!r}")
        ms = entry["ms"]
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms) or ms < 0:
            raise _fail(source, f"entries[{signature!r}].ms", f"expected a finite number >= 0, got {ms!r}")
    return LatencyTable(metadata, entries, calibration, source)


def loads_table(text: str, source: str = "<string>") -> LatencyTable:
    try:
        doc = safe_io.parse_json(text, source)  # unique keys, no NaN, bounded nesting
    except safe_io.InputFileError as err:
        raise _fail(source, "<root>", err.problem) from None
    return table_from_document(doc, source)


def load_table(path: str | os.PathLike) -> LatencyTable:
    try:
        text = safe_io.read_text(path, "a latency table (JSON)", safe_io.MAX_JSON_BYTES)
    except safe_io.InputFileError as err:
        hint = f"; build one with `mixsearch latency build --space default --out {path}`"
        raise LatencyTableError(f"{err}{hint if err.problem == 'file not found' else ''}") from None
    return loads_table(text, str(path))
