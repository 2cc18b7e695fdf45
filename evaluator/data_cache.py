"""Decoded datasets kept on disk, so every process on the machine decodes a dataset once.

An entry is a folder `<cache>/data/<key>/` holding `images.npy` (uint8 N x C x H x W, every image
of the dataset at one stored size), `labels.npy` and `meta.json` (shapes, class names and a CRC-32
of each array file). The key hashes the source's identity (its path, kind and every file's name,
size and modification time) and the stored size, so an edited dataset gets a new entry and a stale
one is never served. Entries are written to a temp folder, checked, and renamed into place in one
step; a lock file (flock, released by the kernel when its holder dies) makes the processes of a
search wait for one decoder instead of decoding side by side. An entry that fails its checks
(truncated, edited, half-deleted) is moved aside and rebuilt. Readers map `images.npy` and copy
out only the rows they sample, so memory follows the sample, not the dataset.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
import zlib
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from mixsearch.search_space.cache_root import cache_root

from .errors import DatasetError
from .formats import Source

VERSION = 1
FREE_MARGIN = 64 << 20       # keep this much of the cache's disk free
LOCK_WAIT_S = 1800.0         # another process decoding a large folder; past this, decode without the lock
CHUNK = 1 << 24              # CRC and copies in 16 MiB pieces
FIX = "set MIXSEARCH_CACHE to a writable folder with room, or pass --no-data-cache"


def cache_folder() -> Path:
    return cache_root() / "data"


@dataclass(frozen=True, eq=False)
class Cached:
    """Every image of a dataset (a read-only uint8 memory map, N x C x H x W), labels and class names."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]


def entry_key(identity: str, size: int | None) -> str:
    return hashlib.sha256(f"{VERSION}|{identity}|{size}".encode()).hexdigest()[:24]


def cached(identity: str, size: int | None, open_source: Callable[[], Source]) -> Cached:
    """The dataset of `identity` decoded (image files at `size`; arrays, size None, as stored):
    from the cache, or decoded from `open_source()` on the first call on this machine."""
    folder = cache_folder()
    key = entry_key(identity, size)
    entry = folder / key
    found = _load(entry)
    if found is not None:
        return found
    _make_folder(folder)
    with _locked(folder / f"{key}.lock"):
        found = _load(entry)  # another process may have written it while we waited
        if found is None:
            _write(entry, open_source(), size)
            found = _load(entry)
    if found is None:
        raise DatasetError(f"{entry}: the cached copy of the dataset fails its check right after it was "
                           f"written; check the disk, or {FIX}")
    return found


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)  # a unique name per caller
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise DatasetError(f"{folder}: the dataset cache folder is not writable ({err.strerror}); {FIX}") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        handle = open(path, "a+b")
    except OSError as err:
        raise DatasetError(f"{path}: cannot create the cache lock ({err.strerror}); {FIX}") from None
    with handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:  # a stuck holder: decode our own copy rather than hang
                    yield
                    return
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _crc(path: Path) -> int:
    value = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            value = zlib.crc32(chunk, value)
    return value


def _load(entry: Path) -> Cached | None:
    """The entry, or None when it is missing or fails a check (then it is moved aside)."""
    meta_file = entry / "meta.json"
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
        images_file, labels_file = entry / "images.npy", entry / "labels.npy"
        if meta.get("version") != VERSION or _crc(images_file) != meta["images_crc"] or \
                _crc(labels_file) != meta["labels_crc"]:
            raise ValueError("checksum or version differs")
        images = np.load(images_file, mmap_mode="r", allow_pickle=False)
        labels = np.load(labels_file, allow_pickle=False)
        names = tuple(str(n) for n in meta["class_names"])
        if images.dtype != np.uint8 or list(images.shape) != meta["shape"] or labels.shape != (len(images),):
            raise ValueError("shape differs")
        return Cached(images, labels, names)
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        _discard(entry)
        return None


def _discard(entry: Path) -> None:
    aside = entry.with_name(f".stale-{entry.name}-{os.getpid()}-{time.monotonic_ns()}")
    with contextlib.suppress(OSError):
        os.rename(entry, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _write(entry: Path, source: Source, size: int | None) -> None:
    count = len(source.labels)
    stored = source.native_size or (size, size)
    shape = (count, source.channels, *stored)
    needed = int(np.prod(shape)) + count * 8 + (1 << 20)
    free = shutil.disk_usage(entry.parent).free
    if free - needed < FREE_MARGIN:
        raise DatasetError(f"{entry.parent}: {free >> 20:,} MiB free; caching {source.name} needs "
                           f"{needed >> 20:,} MiB; {FIX}")
    temp = entry.with_name(f".tmp-{entry.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        temp.mkdir()
        images_file = temp / "images.npy"
        with open(images_file, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
            written = 0
            for chunk in source.decode(np.arange(count), size or 0):
                if chunk.shape[1:] != shape[1:]:
                    raise DatasetError(f"{source.name}: decoded images of shape {chunk.shape[1:]}, expected "
                                       f"{shape[1:]}")
                f.write(np.ascontiguousarray(chunk, dtype=np.uint8).tobytes())
                written += len(chunk)
            if written != count:
                raise DatasetError(f"{source.name}: decoded {written} images of {count}")
            f.flush()
            os.fsync(f.fileno())
        np.save(temp / "labels.npy", source.labels, allow_pickle=False)
        meta = {"version": VERSION, "source": source.name, "kind": source.kind, "shape": list(shape),
                "class_names": list(source.class_names), "images_crc": _crc(images_file),
                "labels_crc": _crc(temp / "labels.npy")}
        (temp / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(temp, entry)
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Another writer (one that waited past LOCK_WAIT_S) finished first: its entry is as good.
    except OSError as err:
        raise DatasetError(f"{entry.parent}: cannot write the dataset cache ({err.strerror}); {FIX}") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
