"""The XNNPACK runtime for real (ExecuTorch installed: `pip install -e ".[xnnpack]"`), on a micro space."""
from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from mixsearch.latency import Settings, build_table, load_table, make_runtime, validate_table
from mixsearch.search_space import build_model
from mixsearch.search_space.space import loads_space

pytestmark = pytest.mark.skipif(importlib.util.find_spec("executorch") is None,
                                reason="the xnnpack extra (executorch) is not installed")

# One stage, two kernel choices: the MixConv split (run between two delegate calls) and a plain
# depthwise conv; seven entries, one lowered program.
MICRO_SPACE = """
name: micro
resolution: 16
num_classes: 10
stem_chs: 8
head_chs: 16
stages:
- stride: 2
  depth: [1]
  width: [8]
  kernels: [[3], [3, 5]]
  exp_ratio: [3]
"""


@pytest.fixture(scope="module")
def runtime():
    runtime = make_runtime("xnnpack", 1, "cpu", jobs=1)
    yield runtime
    runtime.close()


def test_threads_are_pinned_in_the_runtime_and_the_table(runtime, tmp_path):
    lib = runtime.et["portable_lib"]
    assert lib._threadpool_get_thread_count() == 1
    space = loads_space(MICRO_SPACE, "micro.yaml")
    table = build_table(space, runtime, tmp_path / "t.json", settings=Settings(warmup=1, runs=3),
                        calibration_archs=1, progress=False)
    saved = load_table(tmp_path / "t.json")
    assert saved.metadata["runtime"] == "xnnpack" and saved.metadata["threads"] == 1
    assert saved.metadata["runtime_version"].startswith("executorch ")
    assert not table.missing(space.possible_layers()) and table.calibration["fitted_on"] == 1
    assert all(entry["ms"] > 0 and math.isfinite(entry["ms"]) for entry in table.entries.values())
    assert saved.metadata["reference"]["ms"] > 0
    validation = validate_table(table, space, runtime, 2, seed=3, settings=Settings(warmup=1, runs=3),
                                progress=False)
    assert all(0.1 < p / m < 10 for p, m in zip(validation.predicted_ms, validation.measured_ms))


def test_a_lowered_network_computes_what_eager_computes(runtime):
    space = loads_space(MICRO_SPACE, "micro.yaml")
    arch = space.decode([1] * len(space.choice_sizes))  # the k3.5 MixConv
    model = build_model(arch).eval()
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    out = runtime.prepare(model, (x,))()[0]
    with torch.no_grad():
        assert torch.allclose(out, model(x), atol=1e-5)


def test_group_timing_gives_every_entry_its_own_instructions(runtime):
    from mixsearch.latency.entries import entries_of

    space = loads_space(MICRO_SPACE, "micro.yaml")
    entries = list(entries_of(space.possible_layers(), "op").values())
    made = [entry.make(1, torch.Generator().manual_seed(0)) for entry in entries]
    samples = runtime.time_entries(made, warmup=1, runs=3)
    assert len(samples) == len(entries) and all(len(s) == 3 and min(s) > 0 for s in samples)
