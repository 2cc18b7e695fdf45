"""Search benchmarks.

1. Samplers at an equal trial budget on a cheap deterministic objective over the real default
   space: a fixed surrogate accuracy (from multiply-adds, params and the layer choices) under the
   real MnasNet soft reward with a 300M target and the real 1.5x cap (over-cap candidates are
   rejected untrained and do not use the budget, exactly as in a search). Best reward found per
   sampler vs random search, mean +- sd over seeds.
2. --default-run: wall time of `mixsearch run --target-flops 300M` with nothing else given.

    .venv/bin/python benchmarks/bench_search.py [--trials 60] [--seeds 5]
    .venv/bin/python benchmarks/bench_search.py --default-run --runs-dir /tmp/bench-runs
"""
from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import optuna

from mixsearch.controller.objective import CostModel, propose_feasible
from mixsearch.controller.reward import reward_exponents
from mixsearch.controller.reward import reward as mnas_reward
from mixsearch.controller.samplers import SAMPLERS, make_sampler
from mixsearch.search_space import BlockLayer, count_flops, count_params, resolve_layers
from mixsearch.search_space.space import default_space

TARGET = 300_000_000


def surrogate_accuracy(arch) -> float:
    """Deterministic stand-in for proxy accuracy: capacity saturates with multiply-adds, params have
    a sweet spot, and mixed kernels / SE / swish each help a little (as in the MixNet paper)."""
    blocks = [layer for layer in resolve_layers(arch) if isinstance(layer, BlockLayer)]
    mixed = sum(len(b.kernels) > 1 for b in blocks) / len(blocks)
    se = sum(b.se_chs > 0 for b in blocks) / len(blocks)
    swish = sum(b.act == "swish" for b in blocks) / len(blocks)
    capacity = 1.0 - math.exp(-count_flops(arch) / 1.5e8)
    return (0.55 + 0.25 * capacity + 0.04 * mixed + 0.03 * se + 0.02 * swish
            - 0.03 * abs(math.log(count_params(arch) / 4e6)))


def best_reward(sampler_name: str, seed: int, trials: int) -> float:
    alpha, beta = reward_exponents("soft")
    cost_model = CostModel(metric="flops", target=TARGET, flops_cap=int(1.5 * TARGET))
    space = default_space()
    study = optuna.create_study(sampler=make_sampler(sampler_name, seed, trials), direction="maximize")
    best = -math.inf
    for _ in range(trials):
        proposal = propose_feasible(study, space, cost_model)
        value = mnas_reward(surrogate_accuracy(proposal.arch), proposal.measures.flops, TARGET, alpha, beta)
        study.tell(proposal.trial, value)
        best = max(best, value)
    return best


def bench_samplers(trials: int, seeds: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"best soft reward after {trials} trained trials (target 300M, cap 450M), {seeds} seeds")
    print(f"{'sampler':>10} {'mean':>8} {'sd':>8} {'vs random':>10} {'s/run':>7}")
    results = {}
    for name in ["random"] + [n for n in SAMPLERS if n != "random"]:
        start = time.time()
        values = [best_reward(name, seed, trials) for seed in range(seeds)]
        results[name] = values
        mean, sd = statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0
        delta = mean - statistics.mean(results["random"])
        print(f"{name:>10} {mean:8.4f} {sd:8.4f} {delta:+10.4f} {(time.time() - start) / seeds:7.1f}", flush=True)


def bench_default_run(runs_dir: str) -> None:
    name = time.strftime("bench-default-%Y%m%d-%H%M%S")
    start = time.time()
    entry = "import sys; from mixsearch.cli import main; sys.exit(main())"
    subprocess.run([sys.executable, "-c", entry, "run", "--target-flops", "300M", "--name", name,
                    "--runs-dir", runs_dir, "--no-progress"], check=True)
    print(f"default `mixsearch run --target-flops 300M`: {time.time() - start:.0f} s wall "
          f"(run folder {Path(runs_dir) / name})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--default-run", action="store_true")
    parser.add_argument("--runs-dir", default="/tmp/mixsearch-bench-runs")
    args = parser.parse_args()
    if args.default_run:
        bench_default_run(args.runs_dir)
    else:
        bench_samplers(args.trials, args.seeds)


if __name__ == "__main__":
    main()
