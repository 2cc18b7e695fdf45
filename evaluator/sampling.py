"""Stratified, seeded, bounded samples of a labelled dataset: disjoint test, validation and training rows.

Each class's members are shuffled once by the split seed and cut in order: the first
`test_fraction` of them are the test sample, the next ones (`val_fraction` of what is left, at most
the class's share of `val_size`) the validation sample, then (`data_fraction` of the remainder, at
most its share of `train_size`) the training sample. So the test rows never depend on the
validation or training settings, the validation rows never on the training settings, and no row is
in two samples. A size is a total (`5000`, shared between classes in proportion to their sizes) or a
per-class count (`"500/class"`); None means no bound beyond the fractions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

SIZE_PATTERN = re.compile(r"(\d+)/class")


@dataclass(frozen=True)
class Sample:
    """Sorted row indices of each part."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def parse_size(value: int | str | None) -> tuple[str, int] | None:
    """('total', n), ('per_class', n) or None; a ValueError says what is allowed."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return "total", value
    if isinstance(value, str) and (match := SIZE_PATTERN.fullmatch(value.strip())) and int(match.group(1)) >= 1:
        return "per_class", int(match.group(1))
    raise ValueError(f"got {value!r}; expected a positive total such as 5000, a per-class count such as "
                     "'500/class', or null for no bound")


def quotas(size: tuple[str, int] | None, class_sizes: np.ndarray) -> np.ndarray | None:
    """Each class's share of `size`: a total in proportion to the class sizes (largest remainders
    round up, ties to the lower label), a per-class count as is."""
    if size is None:
        return None
    kind, n = size
    if kind == "per_class":
        return np.full(len(class_sizes), n, dtype=np.int64)
    exact = n * class_sizes / class_sizes.sum()
    base = np.floor(exact).astype(np.int64)
    short = n - int(base.sum())
    order = np.lexsort((np.arange(len(exact)), -(exact - base)))
    base[order[:short]] += 1
    return base


def stratified_sample(labels: np.ndarray, *, test_fraction: float = 0.0, val_fraction: float = 0.2,
                      data_fraction: float = 1.0, val_size: int | str | None = None,
                      train_size: int | str | None = None, seed: int = 0) -> Sample:
    classes, class_sizes = np.unique(labels, return_counts=True)
    val_quota = quotas(parse_size(val_size), class_sizes)
    train_quota = quotas(parse_size(train_size), class_sizes)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c, label in enumerate(classes):
        members = rng.permutation(np.flatnonzero(labels == label))
        n = len(members)
        n_test = int(round(n * test_fraction)) if n > 2 else 0  # a class of 1-2 images trains
        rest = n - n_test
        n_val = int(round(rest * val_fraction)) if rest > 1 else 0
        if val_quota is not None:
            n_val = min(n_val, int(val_quota[c]))
        remainder = rest - n_val
        n_train = max(1, int(round(remainder * data_fraction))) if remainder else 0
        if train_quota is not None:
            n_train = min(n_train, int(train_quota[c]))
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:n_test + n_val + n_train])
    return Sample(**{k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in parts.items()})
