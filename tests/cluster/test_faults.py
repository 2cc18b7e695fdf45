"""Faults that need no cluster: candidates that blow up, an unwritable run folder, a full disk, a Ray
address with nothing listening; and `connect(None)`'s private Ray staying on 127.0.0.1."""
from __future__ import annotations

import os
import shutil
import socket
import time

import pytest

from mixsearch.controller.preflight import (
    DEFAULT_MIN_FREE_BYTES, PreflightError, check_free_space, check_run_folder, preflight)
from mixsearch.controller.ray_cluster import RayClusterError, check_listening, connect, parse_address
from mixsearch.controller.search import SearchConfig, run_search
from mixsearch.evaluator import ProxyConfig
from mixsearch.search_space.errors import MixsearchError

TINY = dict(dataset="digits", epochs=1, data_fraction=0.1, resolution=16, width_mult=0.25, threads=1, repeats=1, time_limit_s=60.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.parametrize("proxy_change, kinds", [
    ({"lr": 1e9}, ("nan", "diverged")),        # the loss explodes in the first batches
    ({"time_limit_s": 1e-6}, ("timeout",)),     # the candidate overruns its time limit at once
])
def test_failing_candidates_are_recorded_with_their_reason_and_the_search_goes_on(tmp_path, proxy_change, kinds):
    result = run_search(SearchConfig(name="fails", runs_dir=str(tmp_path), target_flops=300_000_000, trials=3,
                                     proxy=ProxyConfig(**{**TINY, **proxy_change}), progress=False,
                                     sampler="random", early_stopping=False))
    finished = [r for r in result.records if r.finished]
    assert len(finished) == 3  # every trial of the budget was tried
    for record in finished:
        assert record.status == "failed"
        assert record.failure.split(":")[0] in kinds, record.failure
    assert result.best is None and (tmp_path / "fails" / "trials.csv").is_file()


def test_run_folder_under_a_regular_file_is_refused_before_anything_is_written(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the runs folder should go\n")
    with pytest.raises(PreflightError) as caught:
        check_run_folder(blocker / "runs" / "x")
    message = str(caught.value)
    assert str(blocker) in message and "not a folder" in message and "\n" not in message
    with pytest.raises(MixsearchError):  # the search itself refuses too, root or not
        run_search(SearchConfig(name="x", runs_dir=str(blocker / "runs"), target_flops=300_000_000, trials=1,
                                proxy=ProxyConfig(**TINY), progress=False))
    assert _tree(tmp_path) == ["not-a-folder"] and blocker.read_text().startswith("a file")


def test_run_folder_checks_leave_nothing_behind(tmp_path):
    assert check_run_folder(tmp_path / "runs" / "new") == tmp_path  # probed the deepest existing folder
    (tmp_path / "runs").mkdir()
    check_run_folder(tmp_path / "runs")
    assert _tree(tmp_path) == ["runs"]


def test_a_full_disk_is_refused_with_the_path_and_the_free_space(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(PreflightError) as caught:
        check_free_space(tmp_path / "runs" / "x", min_free_bytes=free + 2**40)
    message = str(caught.value)
    assert str(tmp_path / "runs" / "x") in message and "free" in message and "GiB" in message
    assert check_free_space(tmp_path / "runs" / "x", min_free_bytes=1) >= 1
    assert DEFAULT_MIN_FREE_BYTES <= free  # this machine passes the default


def test_preflight_refuses_a_ray_address_with_nothing_listening(tmp_path):
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(RayClusterError) as caught:
        preflight(tmp_path / "runs" / "x", ray_address=f"127.0.0.1:{port}")
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "ray start --head" in message and "\n" not in message
    assert time.monotonic() - started < 5
    assert _tree(tmp_path) == []


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:", ":6379", "127.0.0.1:0", "127.0.0.1:70000", "h:p"])
def test_malformed_ray_addresses_are_refused(address):
    with pytest.raises(RayClusterError, match="HOST:PORT"):
        parse_address(address)


def test_connect_to_a_dead_address_starts_no_ray(tmp_path):
    import ray

    with pytest.raises(RayClusterError, match="nothing is listening"):
        with connect(f"127.0.0.1:{_free_port()}"):
            pass
    assert not ray.is_initialized()


def test_check_listening_accepts_a_live_listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert check_listening(f"127.0.0.1:{port}") == ("127.0.0.1", port)


def test_local_ray_is_pinned_to_loopback_and_shut_down(monkeypatch):
    import ray

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with connect(None, num_cpus=1):
        nodes = [n for n in ray.nodes() if n["Alive"]]
        assert [n["NodeManagerAddress"] for n in nodes] == ["127.0.0.1"]
        assert ray.get(ray.remote(lambda: os.getpid()).remote()) != os.getpid()  # a real Ray worker ran it
    assert not ray.is_initialized()
    assert "RAY_AUTH_MODE" not in os.environ  # Ray's own setting did not leak out of the block


def test_in_process_driver_killed_then_resumed_trains_no_candidate_twice(tmp_path, proxy_file, driver, wait_until):
    """The kill lands while trial 2 trains (its parameters complete), so the resumed sampler's first
    fresh proposals are exactly where a sampler replaying its seed would repeat trials 0 and 1."""
    from mixsearch.controller.trials import load_trials

    run_dir = tmp_path / "runs" / "local-kill"
    # Trials of a few seconds each (all the digits, 3 epochs): the half-second poll sees trial 2 training.
    args = ("run", "--name", "local-kill", "--runs-dir", str(tmp_path / "runs"), "--trials", "5", "--proxy",
            str(proxy_file(epochs=3, data_fraction=1.0)), "--target-flops", "300M", "--sampler", "random", "--seed", "3",
            "--no-progress", "--no-early-stopping")
    first = driver(*args)

    def finished():
        try:
            return [r for r in load_trials(run_dir) if r.finished]
        except (MixsearchError, KeyError):
            return []

    def two_finished_and_one_training():
        try:
            records = load_trials(run_dir)
        except (MixsearchError, KeyError):
            return False
        return (sum(r.finished for r in records) >= 2 and any(r.status == "running" and r.pid for r in records)
                or first.process.poll() is not None)

    # Trial 2 training means its parameters are all drawn: the kill cannot land mid-proposal.
    wait_until(two_finished_and_one_training, 120, "two finished trials and a third training")
    first.kill()
    before = {r.number: r for r in finished()}
    assert 2 <= len(before) < 5, first.output()[-3000:]
    resumed = driver("run", "--name", "local-kill", "--runs-dir", str(tmp_path / "runs"), "--resume",
                     "--no-progress")
    assert resumed.wait() == 0, resumed.output()[-3000:]
    records = [r for r in load_trials(run_dir) if r.finished]
    assert len(records) == 5
    for record in records:
        if record.number in before:
            old = before[record.number]
            assert (record.params, record.values, record.accuracy, record.started) == \
                   (old.params, old.values, old.accuracy, old.started)
    trained = [tuple(sorted(r.params.items())) for r in records]
    assert len(set(trained)) == 5, "a candidate was trained twice after --resume"
