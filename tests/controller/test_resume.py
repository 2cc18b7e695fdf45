"""Resume: a driver killed with SIGKILL mid-search loses no finished trial and re-runs none."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import sqlalchemy

from mixsearch.controller.objective import propose_feasible
from mixsearch.controller.run_folder import prepare_run_folder, save_config
from mixsearch.controller.search import SearchConfig, build_problem, open_study, run_search
from mixsearch.controller.storage import open_storage
from mixsearch.controller.trials import load_trials
from mixsearch.search_space.errors import MixsearchError

CHILD = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from mixsearch.controller.search import SearchConfig, run_search
    from mixsearch.evaluator import ProxyConfig
    proxy = ProxyConfig(dataset="digits", epochs=1, data_fraction=0.1, resolution=16, width_mult=0.25, threads=1, repeats=1)
    run_search(SearchConfig(name="killed", runs_dir=sys.argv[1], target_flops=300_000_000, trials=4,
                            proxy=proxy, progress=False, sampler="random", seed=5))
""")


def test_kill_9_then_resume_keeps_every_finished_trial(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)])
    run = tmp_path / "killed"
    try:
        deadline = time.time() + 120
        before = []
        while time.time() < deadline and child.poll() is None:
            try:
                before = [r for r in load_trials(run) if r.finished]
            except (MixsearchError, sqlalchemy.exc.OperationalError):  # the child is still creating its study
                before = []
            if len(before) >= 2:
                break
            time.sleep(0.05)
        assert len(before) >= 2, "the child search never finished two trials"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    before = {r.number: r for r in load_trials(run) if r.finished}
    left_running = [r for r in load_trials(run) if r.status == "running"]

    from mixsearch.evaluator import ProxyConfig
    proxy = ProxyConfig(dataset="digits", epochs=1, data_fraction=0.1, resolution=16, width_mult=0.25, threads=1, repeats=1)
    result = run_search(SearchConfig(name="killed", runs_dir=str(tmp_path), target_flops=300_000_000, trials=4,
                                     proxy=proxy, progress=False, sampler="random", seed=5, resume=True))
    after = {r.number: r for r in result.records}
    assert sum(r.finished for r in after.values()) == 4, [(r.number, r.status, r.failure) for r in after.values()]
    for number, record in before.items():  # kept, untouched
        assert after[number].to_dict() == record.to_dict()
    rerun = [r for r in after.values() if r.finished and r.pid == child.pid and r.number not in before]
    assert rerun == []  # nothing the killed driver finished was trained again
    for stale in left_running:
        assert after[stale.number].status == "interrupted"
        # its parameters (all it had drawn, if the kill came mid-proposal) were queued and proposed
        # again: trained, or rejected untrained when the kill came while an over-cap one was costed
        again = [r for r in after.values() if r.number > stale.number
                 and all(r.params.get(k) == v for k, v in stale.params.items())]
        assert again and (again[0].finished or again[0].status == "rejected")


def test_a_trial_left_running_is_interrupted_and_requeued(tmp_path, tiny_proxy):
    config = SearchConfig(name="dead", runs_dir=str(tmp_path), target_flops=300_000_000, trials=2,
                          proxy=tiny_proxy, progress=False)
    space, scoring = build_problem(config)
    folder = prepare_run_folder(config.runs_dir, config.name, resume=False)
    save_config(folder, config.to_dict())
    study = open_study(config, open_storage(folder), scoring, 2)
    # what a driver killed mid-training leaves behind: a proposed trial, RUNNING
    orphan = propose_feasible(study, space, scoring.cost_model).trial.number
    del study
    result = run_search(config.replace(resume=True))
    by_number = {r.number: r for r in result.records}
    assert by_number[orphan].status == "interrupted" and "driver stopped" in by_number[orphan].failure
    requeued = by_number[orphan + 1]
    assert requeued.params == by_number[orphan].params and requeued.finished
    assert sum(r.finished for r in result.records) == 2
