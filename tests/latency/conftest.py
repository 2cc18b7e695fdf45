"""A tiny search space (32x32, 10 classes) and real eager tables of it, measured once per session."""
from __future__ import annotations

import pytest

from mixsearch.latency import Settings, build_table, make_runtime
from mixsearch.latency.runtimes import EagerRuntime
from mixsearch.search_space.space import loads_space

TINY_SPACE = """
name: tiny
resolution: 32
num_classes: 10
stem_chs: 8
head_chs: 32
stages:
- stride: 2
  depth: [1, 2]
  width: [8, 16]
  kernels: [[3], [3, 5]]
  exp_ratio: [1, 3]
  se_ratio: [0, 0.25]
  act: [relu, swish]
- stride: 2
  depth: [1]
  width: [24]
  kernels: [[3], [3, 5, 7]]
  exp_ratio: [3]
  exp_groups: [1, 2]
"""

# Few runs: tests check behaviour, never timing figures. The CPU-time clock keeps the sanity
# checks on measured numbers meaningful while other processes load the machine.
FAST = Settings(warmup=1, runs=3, group=8)
CLOCK = "cpu"


@pytest.fixture(scope="session")
def fast_settings():
    return FAST


@pytest.fixture(scope="session")
def tiny_space_text():
    return TINY_SPACE


@pytest.fixture(scope="session")
def tiny_space():
    return loads_space(TINY_SPACE, "tiny.yaml")


@pytest.fixture(scope="session")
def eager_table_path(tiny_space, tmp_path_factory):
    path = tmp_path_factory.mktemp("latency") / "tiny_eager.json"
    build_table(tiny_space, make_runtime("eager", 1, CLOCK), path, space_source="tiny.yaml", settings=FAST,
                calibration_archs=2, progress=False)
    return path


class ScriptedRuntime(EagerRuntime):
    """Whole networks at scripted loads: the i-th timing of a network takes `loads[i]` x 5 ms and the
    reference layer timed after it `loads[i]` ms (measure_archs prepares the reference alone and the
    networks through prepare_many)."""

    def __init__(self, loads):
        super().__init__(1, "cpu")
        self.loads, self.timings = iter(loads), 0

    def prepare(self, module, inputs):
        return "reference"

    def prepare_many(self, made):
        return ["network"] * len(made)

    def time_ms(self, run, warmup, runs):
        if run == "network":
            self.load, self.timings = next(self.loads), self.timings + 1
            return [5.0 * self.load] * runs
        return [self.load] * runs
