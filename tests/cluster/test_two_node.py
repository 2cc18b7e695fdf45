"""A real two-node Ray cluster (head + worker, separate `ray start` processes on 127.0.0.1): a search
through `mixsearch run --ray-address` uses both nodes, and survives the faults clusters have —
a Ray worker killed mid-trial, the driver killed mid-search."""
from __future__ import annotations

import os
import signal

from mixsearch.controller.trials import load_trials
from mixsearch.search_space.errors import MixsearchError

COMMON = ("--target-flops", "300M", "--sampler", "random", "--seed", "3", "--no-progress", "--no-early-stopping",
          "--cpus-per-trial", "1")


def _run_args(cluster, tmp_path, name, proxy, trials, *extra):
    return ("run", "--name", name, "--runs-dir", str(tmp_path / "runs"), "--ray-address", cluster.address,
            "--trials", str(trials), "--proxy", str(proxy), *COMMON, *extra)


def _records_so_far(run_dir):
    """The run's records while its driver writes them; [] before the study exists."""
    try:
        return load_trials(run_dir)
    except (MixsearchError, KeyError):  # no study.db yet / the study row not committed yet
        return []


def _finished(run_dir):
    return [r for r in _records_so_far(run_dir) if r.finished]


def test_cluster_has_two_alive_nodes_all_on_loopback(two_node_cluster):
    nodes = two_node_cluster.nodes()
    alive = [n for n in nodes if n["Alive"]]
    assert len(alive) == 2 and len({n["NodeID"] for n in alive}) == 2
    assert {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}
    assert [n["Resources"].get("CPU") for n in alive] == [1.0, 1.0]
    assert two_node_cluster.listening_hosts() == {"127.0.0.1"}  # no port open beyond loopback


def test_search_uses_both_nodes_and_survives_a_worker_killed_mid_trial(two_node_cluster, tmp_path, proxy_file,
                                                                        driver, wait_until):
    node_ids = {n["NodeID"] for n in two_node_cluster.nodes() if n["Alive"]}
    run_dir = tmp_path / "runs" / "two"
    # Trials long enough (~3 s: 3 epochs on half the data) that the 0.5 s poll sees one training and
    # the kill lands mid-trial; at ~1 s a whole search could finish between two polls.
    run = driver(*_run_args(two_node_cluster, tmp_path, "two", proxy_file(epochs=3, data_fraction=0.5), 4),
                 env=two_node_cluster.env)

    def a_training_process():
        if run.process.poll() is not None:
            return "the search ended"
        ours = set(two_node_cluster.processes())
        return next((r for r in _records_so_far(run_dir) if r.status == "running" and r.pid in ours), None)

    victim = wait_until(a_training_process, 180, "a trial to start training on the cluster")
    assert victim != "the search ended", f"no trial was seen training: {run.output()[-3000:]}"
    assert victim.node_id in node_ids
    os.kill(victim.pid, signal.SIGKILL)  # the Ray worker process training that candidate
    assert run.wait() == 0, run.output()[-3000:]

    records = {r.number: r for r in load_trials(run_dir)}
    finished = [r for r in records.values() if r.finished]
    assert len(finished) == 4  # the budget, the killed trial included
    killed = records[victim.number]
    assert killed.status == "failed" and "died" in killed.failure
    assert [r.status for r in finished].count("complete") == 3
    assert {r.node_id for r in finished} == node_ids  # each node trained candidates
    assert all(r.pid and r.hostname for r in finished)
    assert (run_dir / "best.yaml").is_file()


def test_driver_killed_mid_search_resumes_without_losing_or_rerunning(two_node_cluster, tmp_path, proxy_file,
                                                                      driver, wait_until):
    run_dir = tmp_path / "runs" / "kill-driver"
    # One trial at a time, so the kill leaves a known shape: 2 finished, 1 training, 2 never proposed.
    args = _run_args(two_node_cluster, tmp_path, "kill-driver", proxy_file(epochs=2), 5, "--concurrency", "1")
    first = driver(*args, env=two_node_cluster.env)
    def two_finished_and_one_training():
        records = _records_so_far(run_dir)
        return (sum(r.finished for r in records) >= 2 and any(r.status == "running" and r.pid for r in records)
                or first.process.poll() is not None)

    # Trial 2 training on a node means its parameters are all drawn: the kill cannot land mid-proposal.
    wait_until(two_finished_and_one_training, 180, "two finished trials and a third training")
    first.kill()  # SIGKILL: no handler of the driver runs
    before = {r.number: r for r in _finished(run_dir)}
    assert 2 <= len(before) < 5, first.output()[-3000:]

    resumed = driver("run", "--name", "kill-driver", "--runs-dir", str(tmp_path / "runs"), "--resume",
                     "--ray-address", two_node_cluster.address, "--no-progress", env=two_node_cluster.env)
    assert resumed.wait() == 0, resumed.output()[-3000:]
    after = load_trials(run_dir)
    finished = [r for r in after if r.finished]
    assert len(finished) == 5
    by_number = {r.number: r for r in after}
    for number, old in before.items():  # intact: same candidate, same measured values, same process
        new = by_number[number]
        assert (new.status, new.params, new.values, new.accuracy, new.reward, new.started, new.pid) == \
               (old.status, old.params, old.values, old.accuracy, old.reward, old.started, old.pid)
    # None re-run: no candidate was trained twice (a resumed sampler replaying its seed would do that).
    trained = [tuple(sorted(r.params.items())) for r in finished]
    assert len(set(trained)) == len(trained), [r.number for r in finished]
