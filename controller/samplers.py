"""The sampler registry: one name -> one seeded Optuna sampler. Tests iterate over SAMPLERS."""
from __future__ import annotations

import warnings
from typing import Callable

import optuna
from optuna.samplers import BaseSampler

from mixsearch.search_space.errors import UsageError

from .evolution import RegularizedEvolutionSampler


def _tpe(seed: int, budget: int, multi_objective: bool) -> BaseSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # multivariate + group model the conditional (depth-dependent) parameters jointly.
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          n_startup_trials=max(3, min(10, budget // 4)))


def _nsga2(seed: int, budget: int, multi_objective: bool) -> BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, budget // 4)))


def _random(seed: int, budget: int, multi_objective: bool) -> BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def _evolution(seed: int, budget: int, multi_objective: bool) -> BaseSampler:
    if multi_objective:
        raise UsageError("--sampler evolution is single-objective; use --sampler nsga2 or tpe with --objectives")
    population = max(4, min(20, budget // 4))
    return RegularizedEvolutionSampler(population_size=population, tournament_size=max(2, population // 4), seed=seed)


SAMPLERS: dict[str, Callable[[int, int, bool], BaseSampler]] = {
    "tpe": _tpe, "nsga2": _nsga2, "random": _random, "evolution": _evolution,
}


def make_sampler(name: str, seed: int, budget: int = 50, multi_objective: bool = False) -> BaseSampler:
    """A fresh sampler seeded with `seed`, its population sizes scaled to a budget of `budget` trials."""
    if name not in SAMPLERS:
        raise UsageError(f"--sampler: got {name!r}, allowed: {', '.join(SAMPLERS)}")
    return SAMPLERS[name](seed, budget, multi_objective)
