"""Bounded stratified samples: disjoint, per-class counts as asked, seeded, and each part
independent of the settings of the parts cut after it."""
from __future__ import annotations

import numpy as np
import pytest

from mixsearch.evaluator import ProxyConfig, ProxyConfigError
from mixsearch.evaluator.sampling import parse_size, quotas, stratified_sample

LABELS = np.repeat(np.arange(5), [100, 80, 60, 40, 20])  # unbalanced on purpose


def counts(labels, rows):
    return np.bincount(labels[rows], minlength=5).tolist()


def test_parts_are_disjoint_and_cover_what_was_asked():
    s = stratified_sample(LABELS, test_fraction=0.1, val_fraction=0.25, val_size="6/class", train_size=100, seed=1)
    assert not (set(s.train) & set(s.val)) and not (set(s.train) & set(s.test)) and not (set(s.val) & set(s.test))
    assert counts(LABELS, s.test) == [10, 8, 6, 4, 2]
    assert counts(LABELS, s.val) == [6, 6, 6, 6, 4]  # 25% of the rest, at most 6 per class
    assert counts(LABELS, s.train) == [33, 27, 20, 13, 7]  # 100 shared in proportion to class sizes
    assert all(np.all(np.diff(part) > 0) for part in (s.train, s.val, s.test))  # sorted, unique


def test_totals_split_by_largest_remainder():
    assert quotas(("total", 10), np.array([100, 80, 60, 40, 20])).tolist() == [3, 3, 2, 1, 1]
    assert quotas(("total", 7), np.array([10, 10, 10])).tolist() == [3, 2, 2]  # ties to the lower label
    assert quotas(("per_class", 4), np.array([10, 1])).tolist() == [4, 4]
    assert quotas(None, np.array([3])) is None


def test_seeded_and_each_part_independent_of_later_parts():
    base = dict(test_fraction=0.2, val_fraction=0.3, seed=7)
    a = stratified_sample(LABELS, **base, train_size=50)
    b = stratified_sample(LABELS, **base, train_size="3/class", val_size=20)
    c = stratified_sample(LABELS, **base, train_size=50)
    assert np.array_equal(a.test, b.test)                 # test rows never move with val/train settings
    assert np.array_equal(a.val, stratified_sample(LABELS, **base).val)  # val never moves with train settings
    assert all(np.array_equal(x, y) for x, y in zip((a.train, a.val, a.test), (c.train, c.val, c.test)))
    other = stratified_sample(LABELS, **{**base, "seed": 8})
    assert not np.array_equal(a.test, other.test)


@pytest.mark.parametrize("value", [0, -5, "0/class", "5 per class", 2.5, True, "abc"])
def test_bad_sizes_are_refused_with_the_field(value):
    with pytest.raises(ValueError):
        parse_size(value)
    with pytest.raises(ProxyConfigError, match="proxy.train_size"):
        ProxyConfig(train_size=value)
