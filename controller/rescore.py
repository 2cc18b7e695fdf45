"""Two-stage search: once the search ends, its k best candidates (by the search's own reward) are
scored again by proxy training, and the run's best is chosen among them by that second score.

The second scores are the study's user attribute "rescored" ({trial number: accuracy, reward,
seconds, failure}), apart from the trials' own records, so a supernet score is never mistaken for a
proxy-trained one; `load_trials` shows them as `rescore_accuracy` / `rescore_reward`. A resumed run
re-scores only what it has not yet.
"""
from __future__ import annotations

import math
from typing import Any

import optuna

from .objective import Scoring
from .records import Measures, TrialRecord

RESCORED_ATTR = "rescored"


def rescore_best(study: optuna.Study, records: list[TrialRecord], k: int, scoring: Scoring,
                 progress: bool = False) -> dict[str, dict[str, Any]]:
    from mixsearch.evaluator import evaluate

    done: dict[str, dict[str, Any]] = dict(study.user_attrs.get(RESCORED_ATTR) or {})
    ranked = sorted((r for r in records if r.scored), key=lambda r: (-r.reward, r.number))[:k]
    todo = [r for r in ranked if str(r.number) not in done]
    for index, record in enumerate(todo):
        if progress:
            print(f"mixsearch: re-scoring trial {record.number} by proxy training ({index + 1}/{len(todo)})",
                  flush=True)
        result = evaluate(record.spec, scoring.proxy)
        measures = Measures(record.flops, record.num_params, record.latency_ms)
        ok = result.ok and math.isfinite(result.accuracy)
        done[str(record.number)] = {
            "accuracy": float(result.accuracy) if ok else None,
            "reward": scoring.reward(result.accuracy, measures) if ok else None,
            "seconds": float(result.seconds),
            "failure": None if ok else f"{result.failure.kind}: {result.failure.message}" if result.failure else "nan"}
        study.set_user_attr(RESCORED_ATTR, done)  # after each, so an interruption keeps what was done
    return done
