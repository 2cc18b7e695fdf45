"""Zero-cost pre-filter: of N random candidates, only the best by zero-cost score are trained first."""
import numpy as np
from scipy.stats import rankdata

from mixsearch.controller.prefilter import RecordingTrial
from mixsearch.controller.search import SearchConfig, run_search
from mixsearch.evaluator import ZERO_COST_PROXIES, zero_cost_scores
from mixsearch.search_space import count_flops
from mixsearch.search_space.space import default_space


def test_prefilter_trains_the_best_scored_candidates_first(tmp_path, tiny_proxy):
    seed, count, cap = 7, 5, 450_000_000
    result = run_search(SearchConfig(name="pre", runs_dir=str(tmp_path), target_flops=300_000_000, trials=2,
                                     prefilter=count, proxy=tiny_proxy, progress=False, seed=seed))
    trained = [r.params for r in result.records if r.finished]
    # Independent reference: draw the same candidates, rank them with scipy.
    space, rng, drawn = default_space(), np.random.default_rng(seed), []
    while len(drawn) < count:
        trial = RecordingTrial(rng)
        arch = space.suggest(trial)
        if count_flops(arch) <= cap:
            drawn.append((trial.params, zero_cost_scores(arch, tiny_proxy, names=ZERO_COST_PROXIES)))
    mean_rank = sum(rankdata([-s[name] for _, s in drawn], method="ordinal") for name in ZERO_COST_PROXIES)
    best_two = [drawn[i][0] for i in np.argsort(mean_rank, kind="stable")[:2]]
    assert trained == best_two
