"""A latency target with a real (quickly measured) lookup table, and a Pareto search on latency."""
import numpy as np
import pytest

from mixsearch.controller.reward import reward
from mixsearch.controller.search import SearchConfig, run_search
from mixsearch.latency import Settings, build_table, load_table, make_runtime
from mixsearch.search_space import loads_arch
from mixsearch.search_space.space import load_space

# Small enough that every layer it can hold is timed in seconds.
TINY_SPACE = """
name: latency-target
resolution: 32
num_classes: 10
stem_chs: 8
head_chs: 48
stages:
- stride: 2
  depth: [1, 2]
  width: [8, 16]
  kernels: [[3], [3, 5, 7]]
  exp_ratio: [1, 6]
  act: [relu, swish]
- stride: 2
  depth: [1, 2]
  width: [32]
  kernels: [[5], [3, 5]]
  exp_ratio: [6]
  se_ratio: [0, 0.5]
"""


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("latency")
    (folder / "tiny.yaml").write_text(TINY_SPACE)
    space = load_space(folder / "tiny.yaml")
    build_table(space, make_runtime("eager", 1), folder / "table.json", space_source="tiny.yaml",
                settings=Settings(warmup=1, runs=3, group=8), calibration_archs=2, progress=False)
    return folder / "tiny.yaml", folder / "table.json", space


def test_latency_target_uses_the_table_in_reward_and_cap(tmp_path, tiny_proxy, tiny_table):
    space_path, table_path, space = tiny_table
    table = load_table(table_path)
    latencies = [table.predict(space.sample(np.random.default_rng(i))) for i in range(16)]
    target = float(np.median(latencies))
    result = run_search(SearchConfig(name="lat", runs_dir=str(tmp_path), space=str(space_path),
                                     target_latency_ms=target, latency_table=str(table_path), trials=3,
                                     proxy=tiny_proxy, progress=False))
    for record in result.records:
        assert record.latency_ms == pytest.approx(table.predict(loads_arch(record.arch)))
        if record.status == "rejected":
            assert record.latency_ms > 1.5 * target
        if record.status == "complete":
            assert record.latency_ms <= 1.5 * target
            assert record.reward == pytest.approx(reward(record.accuracy, record.latency_ms, target))


def test_pareto_on_accuracy_and_latency(tmp_path, tiny_proxy, tiny_table):
    space_path, table_path, _ = tiny_table
    result = run_search(SearchConfig(name="pl", runs_dir=str(tmp_path), space=str(space_path),
                                     objectives=("accuracy", "latency"), latency_table=str(table_path),
                                     sampler="tpe", trials=3, proxy=tiny_proxy, progress=False))
    complete = [r for r in result.records if r.status == "complete"]
    assert all(r.values == [r.accuracy, r.latency_ms] for r in complete)
    assert result.cost_metric == "latency" and result.pareto
    assert len(list((tmp_path / "pl" / "pareto").glob("*.yaml"))) == len(result.pareto)
