"""The same search on Ray Tune: a private local Ray (connect(None, num_cpus=2)), ASHA, SQLite study."""
import os

from mixsearch.controller.search import SearchConfig, run_search
from mixsearch.search_space import load_arch


def test_ray_tune_search_on_a_local_ray(tmp_path, tiny_proxy):
    proxy = tiny_proxy.replace(epochs=2)
    result = run_search(SearchConfig(name="ray", runs_dir=str(tmp_path), target_flops=300_000_000, trials=4,
                                     proxy=proxy, progress=False, workers=2, cpus_per_trial=1, seed=2))
    finished = [r for r in result.records if r.finished]
    assert len(finished) == 4
    assert {r.status for r in finished} <= {"complete", "pruned"} and result.best is not None
    for record in finished:  # trained in Ray worker processes, each located by pid, host and node
        assert record.node_id and record.hostname and record.pid and record.pid != os.getpid()
        assert record.curve and record.flops <= 450_000_000
    complete = [r for r in finished if r.status == "complete"]
    assert all(len(r.curve) == 2 and r.values == [r.reward] for r in complete)
    load_arch(result.best_yaml)
    assert (tmp_path / "ray" / "ray").is_dir()  # Ray Tune's own files stay inside the run folder
