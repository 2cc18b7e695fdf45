"""Archs spread over a space's FLOPs range reach the small networks that uniform samples miss."""
import numpy as np

from mixsearch.search_space.cost import count_flops
from mixsearch.search_space.space import default_space
from mixsearch.search_space.spread import sample_across_flops, tilted_sample


def test_spread_covers_the_range_evenly_on_a_log_scale():
    space = default_space()
    archs = sample_across_flops(space, 30, np.random.default_rng(0))
    flops = np.array([count_flops(a) for a in archs], dtype=float)
    assert len(set(archs)) == 30 and all(space.contains(a) for a in archs)
    assert np.all(np.diff(flops) >= 0)  # increasing
    uniform = np.array([count_flops(space.sample(np.random.default_rng(i))) for i in range(30)], dtype=float)
    assert flops.min() < uniform.min() and flops.max() > uniform.max()
    assert np.sum(flops < 100e6) >= 6 > np.sum(uniform < 100e6)  # the band a latency search lands in
    steps = np.diff(np.log(flops))
    assert steps.max() < 4 * np.median(steps)  # no large hole


def test_spread_is_deterministic_and_tilt_zero_is_uniform_in_law():
    space = default_space()
    assert sample_across_flops(space, 5, np.random.default_rng(7)) == sample_across_flops(space, 5, np.random.default_rng(7))
    small = [count_flops(tilted_sample(space, np.random.default_rng(i), -4.0)) for i in range(20)]
    large = [count_flops(tilted_sample(space, np.random.default_rng(i), 4.0)) for i in range(20)]
    assert max(small) < min(large)
