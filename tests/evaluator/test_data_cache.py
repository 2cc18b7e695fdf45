"""The data cache: decoded once, reused, rebuilt when the dataset or the cache file changes, safe
under concurrent writers, and one clear error when its folder cannot take the data."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from mixsearch.evaluator import DatasetError, load_split
from mixsearch.evaluator import data_cache, datasets, formats

from .conftest import SIZE


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("MIXSEARCH_CACHE", str(folder))
    datasets._split.cache_clear()
    yield folder / "data"
    datasets._split.cache_clear()


@pytest.fixture
def opened(monkeypatch):
    """How often a dataset was opened (listed and decoded) instead of served from the cache."""
    calls = []
    real = datasets.open_source

    def open_source(kind, path, name):
        calls.append(kind)
        return real(kind, path, name)

    monkeypatch.setattr(datasets, "open_source", open_source)
    return calls


def entries(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_second_load_is_served_from_the_cache(cache, opened, image_folder):
    first = load_split(str(image_folder), SIZE, val_fraction=0.25)
    datasets._split.cache_clear()  # as in a new process
    second = load_split(str(image_folder), SIZE, val_fraction=0.25)
    assert opened == ["imagefolder"] and len(entries(cache)) == 1
    assert torch.equal(first.train_x, second.train_x) and torch.equal(first.val_y, second.val_y)


def test_cache_and_no_cache_give_the_same_samples(cache, image_folder, npz_file):
    for name in (str(image_folder), str(npz_file)):
        on = load_split(name, 8, val_fraction=0.25, test_fraction=0.25, with_test=True)
        off = load_split(name, 8, val_fraction=0.25, test_fraction=0.25, with_test=True, use_cache=False)
        for a, b in ((on.train_x, off.train_x), (on.val_x, off.val_x), (on.test_x, off.test_x), (on.test_y, off.test_y)):
            assert torch.equal(a, b)


def test_an_edited_dataset_gets_a_new_entry(cache, opened, image_folder):
    from PIL import Image

    before = load_split(str(image_folder), SIZE, val_fraction=0.25)
    datasets._split.cache_clear()
    Image.fromarray(np.full((SIZE, SIZE, 3), 255, np.uint8)).save(image_folder / "class_0" / "zz_new.png")
    after = load_split(str(image_folder), SIZE, val_fraction=0.25)
    assert opened == ["imagefolder", "imagefolder"] and len(entries(cache)) == 2
    assert len(after.train_y) + len(after.val_y) == len(before.train_y) + len(before.val_y) + 1


def test_a_corrupt_entry_is_rebuilt(cache, opened, npz_file):
    good = load_split(str(npz_file), SIZE, val_fraction=0.25)
    datasets._split.cache_clear()
    (entry,) = entries(cache)
    images = cache / entry / "images.npy"
    images.write_bytes(images.read_bytes()[:-7])  # truncated: the CRC no longer matches
    again = load_split(str(npz_file), SIZE, val_fraction=0.25)
    assert opened == ["npz", "npz"] and entries(cache) == [entry]
    assert torch.equal(good.train_x, again.train_x)
    (cache / entry / "meta.json").write_text("{not json")
    datasets._split.cache_clear()
    assert torch.equal(load_split(str(npz_file), SIZE, val_fraction=0.25).val_x, good.val_x)
    assert len(opened) == 3


def test_concurrent_writers_leave_one_good_entry(cache, npz_file):
    """Eight threads ask at once (each flock is its own open file, so they exclude each other as
    processes do); and two writes that bypass the lock (a holder stuck past LOCK_WAIT_S) both finish."""
    identity = formats.identify("npz", npz_file)
    source = lambda: formats.npz(npz_file, "n")  # noqa: E731
    results, errors = [], []

    def worker():
        try:
            results.append(data_cache.cached(identity, None, source))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 8
    assert all(np.array_equal(r.images, results[0].images) for r in results)
    key = data_cache.entry_key(identity, None)
    data_cache._write(cache / key, source(), None)  # a second writer finds the entry there: no error
    assert entries(cache) == [key] and not [p for p in os.listdir(cache) if p.startswith(".")]


def test_unwritable_or_full_cache_is_one_clear_error(tmp_path, monkeypatch, npz_file):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MIXSEARCH_CACHE", str(blocker))
    datasets._split.cache_clear()
    with pytest.raises(DatasetError, match="not writable.*MIXSEARCH_CACHE.*--no-data-cache"):
        load_split(str(npz_file), SIZE)
    assert load_split(str(npz_file), SIZE, use_cache=False).num_classes == 3  # the way around it
    monkeypatch.setenv("MIXSEARCH_CACHE", str(tmp_path / "full"))
    monkeypatch.setattr(data_cache.shutil, "disk_usage", lambda path: type("U", (), {"free": 1 << 20})())
    datasets._split.cache_clear()
    with pytest.raises(DatasetError, match="MiB free; caching .* needs"):
        load_split(str(npz_file), SIZE)
    assert entries(tmp_path / "full" / "data") == []


def test_cli_bad_cache_folder_is_one_line(tmp_path, monkeypatch, capsys, npz_file):
    from mixsearch.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MIXSEARCH_CACHE", str(blocker))
    datasets._split.cache_clear()
    code = main(["eval", "mixnet_s", "--dataset", str(npz_file), "--epochs", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "MIXSEARCH_CACHE" in err and "Traceback" not in err
