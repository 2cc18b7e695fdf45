"""Whole networks timed with the reference layer after each: a burst of load is timed again."""
from __future__ import annotations

import numpy as np

from mixsearch.latency.measure import RETRIES, Settings, measure_archs
from mixsearch.search_space.spread import sample_across_flops

from .conftest import ScriptedRuntime as Scripted


def _archs(tiny_space, count):
    return sample_across_flops(tiny_space, count, np.random.default_rng(0))


def test_a_network_timed_under_a_burst_is_timed_again(tiny_space):
    runtime = Scripted([1.6, 1.02, 1.0])  # the first network's first timing fell in a burst
    timings = measure_archs(_archs(tiny_space, 2), runtime, 1, Settings(warmup=0, runs=3), reference_ms=1.0)
    assert [t.stats.ms for t in timings] == [5.1, 5.0] and runtime.timings == 3


def test_a_lasting_load_costs_at_most_the_retries_and_keeps_the_nearest(tiny_space):
    runtime = Scripted([1.5, 1.3, 1.4])
    (timing,) = measure_archs(_archs(tiny_space, 1), runtime, 1, Settings(warmup=0, runs=3), reference_ms=1.0)
    assert runtime.timings == 1 + RETRIES and timing.stats.ms == 6.5 and timing.reference_ms == 1.3


def test_without_an_expected_reference_nothing_is_timed_twice(tiny_space):
    runtime = Scripted([1.6, 1.0])
    timings = measure_archs(_archs(tiny_space, 2), runtime, 1, Settings(warmup=0, runs=3))
    assert [t.stats.ms for t in timings] == [8.0, 5.0] and runtime.timings == 2
