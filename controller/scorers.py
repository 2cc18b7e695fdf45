"""What scores a candidate in a search: proxy training (`evaluator.evaluate`, a few epochs from
scratch) or a trained weight-sharing supernet (`evaluator.supernet.SupernetScorer`: inherited
weights, BatchNorm recalibrated, validated; one scorer per process, loaded once)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

EVALUATORS = ("proxy", "supernet")


@dataclass(frozen=True)
class CandidateScorer:
    """kind: "proxy" or "supernet"; supernet: the saved supernet's path (kind "supernet")."""

    kind: str = "proxy"
    supernet: str | None = None

    def epochs(self, proxy: Any) -> int:
        """How many reports a candidate's scoring makes (a supernet score is one)."""
        return 1 if self.kind == "supernet" else proxy.epochs

    def __call__(self, arch, proxy, space, report: Callable[[int, dict], None] | None = None):
        if self.kind == "supernet":
            return supernet_scorer(self.supernet, proxy, space).score(arch, report=report)
        from mixsearch.evaluator import evaluate
        return evaluate(arch, proxy, report=report)


@lru_cache(maxsize=2)
def supernet_scorer(path: str, proxy: Any, space: Any):
    """The process's scorer of one supernet: its data and weights are loaded once (a supernet of
    another space, proxy shape or dataset is refused: SupernetError)."""
    from mixsearch.evaluator.supernet import SupernetScorer
    return SupernetScorer(path, proxy, space=space)
