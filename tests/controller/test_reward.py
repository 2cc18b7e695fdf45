import math

import pytest

from mixsearch.controller.reward import REWARD_PRESETS, reward, reward_exponents
from mixsearch.search_space.errors import UsageError


def paper_reward(acc, lat, target, alpha, beta):
    """MnasNet eq. 2: ACC(m) x [LAT(m)/T]^w, w = alpha if LAT <= T else beta."""
    return acc * (lat / target) ** (alpha if lat <= target else beta)


def test_soft_reward_doubling_latency_costs_about_five_percent():
    alpha, beta = reward_exponents("soft")
    at_target = reward(0.75, 75.0, 75.0, alpha, beta)
    doubled = reward(0.75, 150.0, 75.0, alpha, beta)
    assert at_target == pytest.approx(0.75)
    assert 1 - doubled / at_target == pytest.approx(1 - 2 ** -0.07) == pytest.approx(0.047, abs=0.001)
    # Soft is symmetric: halving the cost earns the same factor back.
    assert reward(0.75, 37.5, 75.0, alpha, beta) / at_target == pytest.approx(2 ** 0.07)


def test_hard_reward_no_bonus_under_target_and_acc_times_t_over_lat_above():
    alpha, beta = reward_exponents("hard")
    assert reward(0.7, 10.0, 75.0, alpha, beta) == pytest.approx(0.7)
    assert reward(0.7, 75.0, 75.0, alpha, beta) == pytest.approx(0.7)
    assert reward(0.7, 100.0, 75.0, alpha, beta) == pytest.approx(0.7 * 75.0 / 100.0)


@pytest.mark.parametrize("kind", list(REWARD_PRESETS))
@pytest.mark.parametrize("acc, cost", [(0.1, 1e6), (0.5, 2.9e8), (0.9, 3e8), (0.99, 3.1e8), (0.3, 9e8)])
def test_reward_matches_the_paper_formula(kind, acc, cost):
    alpha, beta = reward_exponents(kind)
    assert reward(acc, cost, 3e8, alpha, beta) == pytest.approx(paper_reward(acc, cost, 3e8, alpha, beta), rel=1e-12)


def test_exponents_are_overridable_and_unknown_presets_refused():
    assert reward_exponents("soft", alpha=-0.1) == (-0.1, -0.07)
    assert reward_exponents("hard", beta=-2) == (0.0, -2.0)
    with pytest.raises(UsageError, match="soft, hard"):
        reward_exponents("medium")


def test_reward_of_nan_accuracy_is_nan_and_bad_costs_raise():
    assert math.isnan(reward(float("nan"), 1.0, 1.0))
    with pytest.raises(ValueError):
        reward(0.5, 0.0, 1.0)
