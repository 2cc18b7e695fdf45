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


def test_without_a_table_the_cached_one_is_built_once_and_used(tmp_path, tiny_proxy, tiny_table, monkeypatch):
    from mixsearch.latency.cache import table_on_demand

    space_path, _, space = tiny_table
    monkeypatch.setenv("MIXSEARCH_CACHE", str(tmp_path / "cache"))
    config = dict(runs_dir=str(tmp_path), space=str(space_path), target_latency_ms=100.0, latency_runtime="eager",
                  trials=2, proxy=tiny_proxy, progress=False)
    first = run_search(SearchConfig(name="a", **config))
    cached = list((tmp_path / "cache" / "latency").glob("*.json"))
    assert len(cached) == 1 and "eager" in cached[0].name
    built = cached[0].read_text()
    second = run_search(SearchConfig(name="b", **config))
    assert cached[0].read_text() == built  # reused: a rebuild would have measured other numbers
    table = table_on_demand(space, str(space_path), "eager", log=lambda line: None)
    for record in first.records + second.records:
        assert record.latency_ms == pytest.approx(table.predict(loads_arch(record.arch)))


def test_run_prints_predicted_beside_measured_for_the_best_and_the_front(tmp_path, tiny_proxy, tiny_table, capsys):
    import yaml

    from mixsearch.cli.app import run_cli

    space_path, table_path, _ = tiny_table
    proxy = tmp_path / "proxy.yaml"
    fields = ("epochs", "data_fraction", "resolution", "width_mult", "threads", "repeats")
    proxy.write_text(yaml.safe_dump({k: v for k, v in tiny_proxy.to_dict().items() if k in fields}))
    code = run_cli(["run", "--runs-dir", str(tmp_path / "runs"), "--space", str(space_path), "--proxy", str(proxy),
                    "--target-latency", "100ms", "--latency-table", str(table_path), "--trials", "2",
                    "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "predicted by the table and measured now" in out
    rows = out.split("measured now:")[1].splitlines()[2:]
    predicted, measured = (float(v) for v in rows[0].split()[1:3])
    assert predicted > 0 and measured > 0 and 0.1 < predicted / measured < 10
