"""A search's best against MixNet-S, MobileNetV2 and EfficientNet-B0 under the default proxy (issue 12).

Each architecture is scored by the default proxy (ProxyConfig(), repeats 2) under `--runs` seed
pairs (seeds 0+1, 2+3, ...): mean +- sd of the scores, FLOPs and params at the arch's own size.
This is the search's own yardstick (the proxy's validation sample), not a final figure: a trained
comparison on held-out images is `mixsearch compare` (issue 13).

    .venv/bin/python benchmarks/bench_found_vs_presets.py runs/NAME/best.yaml --jobs 2
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from mixsearch.evaluator import ProxyConfig, evaluate
from mixsearch.search_space import count_flops, count_params, load_arch

PRESETS = ("mixnet_s", "mobilenet_v2", "efficientnet_b0")


def score(job: tuple[str, int]) -> tuple[str, int, float, float]:
    name, run = job
    config = ProxyConfig(threads=1, time_limit_s=None)
    result = evaluate(load_arch(name), config.replace(seed=config.seed + run * config.repeats))
    return name, run, result.accuracy, result.seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archs", nargs="*", help="arch YAMLs (the search's best); the presets are added")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="processes of one thread each")
    parser.add_argument("--no-presets", action="store_true", help="only the archs given")
    args = parser.parse_args(argv)
    names = [*args.archs, *(() if args.no_presets else PRESETS)]
    jobs = [(name, run) for name in names for run in range(args.runs)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(score, jobs))
    print(f"default proxy ({ProxyConfig().dataset}, repeats {ProxyConfig().repeats}), {args.runs} runs each, "
          f"{args.jobs} processes x 1 thread")
    print("| arch | proxy accuracy (mean ± sd) | per run | FLOPs | params | s / run |")
    print("|---|---|---|---|---|---|")
    for name in names:
        accs = [a for n, _, a, _ in results if n == name]
        secs = [s for n, _, _, s in results if n == name]
        arch = load_arch(name)
        print(f"| {arch.name or name} | {100 * np.mean(accs):.1f} ± {100 * np.std(accs, ddof=1):.1f} | "
              f"{' / '.join(f'{100 * a:.1f}' for a in accs)} | {count_flops(arch) / 1e6:.0f}M | "
              f"{count_params(arch) / 1e6:.2f}M | {np.mean(secs):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
