"""Regularized evolution (Real et al. 2019, "aging evolution") as an Optuna sampler.

Optuna has no such sampler, so this is a small `BaseSampler` over define-by-run parameters:
- until `population_size` trials have completed, parameters are drawn at random;
- then each new trial picks `tournament_size` trials at random from the population (the last
  `population_size` completed trials — older ones age out, whatever their score), takes the best
  as the parent, copies its parameters and re-draws exactly one of them to a different value.
Parameters the parent never had (a deeper network asks for more) are drawn at random.
Single-objective only; the objective's direction decides what "best" means.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState


class RegularizedEvolutionSampler(BaseSampler):
    def __init__(self, population_size: int = 20, tournament_size: int = 5, seed: int | None = None):
        if population_size < 2 or not 1 <= tournament_size <= population_size:
            raise ValueError(f"need population_size >= 2 and 1 <= tournament_size <= population_size, "
                             f"got {population_size}, {tournament_size}")
        self.population_size = population_size
        self.tournament_size = tournament_size
        self._rng = np.random.default_rng(seed)
        self._random = RandomSampler(seed=None if seed is None else seed + 1)
        self._plans: dict[int, tuple[dict[str, Any], str | None]] = {}  # trial number -> (parent params, mutated)

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: Study, trial: FrozenTrial, search_space: dict) -> dict[str, Any]:
        return {}

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        if len(study.directions) != 1:
            raise ValueError("the evolution sampler is single-objective; use nsga2 or tpe for a Pareto search")
        population = self._population(study)
        if len(population) < self.population_size:
            self._plans[trial.number] = ({}, None)
            return
        picks = self._rng.choice(len(population), size=self.tournament_size, replace=False)
        contenders = [population[i] for i in sorted(picks)]
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        parent = max(contenders, key=lambda t: sign * t.value)
        mutable = sorted(name for name, dist in parent.distributions.items() if _choice_count(dist) != 1)
        mutated = mutable[int(self._rng.integers(len(mutable)))] if mutable else None
        self._plans[trial.number] = (dict(parent.params), mutated)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        parent_params, mutated = self._plans.get(trial.number, ({}, None))
        inherited = parent_params.get(param_name, _MISSING)
        if param_name == mutated and isinstance(param_distribution, CategoricalDistribution):
            others = [c for c in param_distribution.choices if c != inherited]
            if others:
                return others[int(self._rng.integers(len(others)))]
        elif param_name != mutated and inherited is not _MISSING and _admits(param_distribution, inherited):
            return inherited
        if isinstance(param_distribution, CategoricalDistribution):
            choices = param_distribution.choices
            return choices[int(self._rng.integers(len(choices)))]
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values) -> None:
        self._plans.pop(trial.number, None)

    def _population(self, study: Study) -> list[FrozenTrial]:
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        completed = sorted(completed, key=lambda t: t.number)
        return completed[-self.population_size:]


_MISSING = object()


def _choice_count(dist: BaseDistribution) -> int | None:
    return len(dist.choices) if isinstance(dist, CategoricalDistribution) else None


def _admits(dist: BaseDistribution, value: Any) -> bool:
    """Whether the parent's value can be inherited; the spaces' choices are all categorical, and
    any other parameter is drawn afresh."""
    return isinstance(dist, CategoricalDistribution) and value in dist.choices
