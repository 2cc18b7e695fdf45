"""How well can anything rank these archs? The proxy's tau against the reproducibility of the reference.

bench_proxy.py reports tau on one sample of 12 archs; with archs that differ by about one training's
seed noise that tau moves by +-0.16 from sample to sample. This pools the rows of several samples
(`--rows` files of bench_proxy.py, each run's seeds merged per arch) and draws many 12-arch sets,
so it prints expected values instead of one draw:
- the proxy (one run = `repeats` seeds) against the mean of `--ref-seeds` seeds of the longer training;
- the longer training itself, `repeats` seeds of it against `--ref-seeds` other seeds: how well the
  reference agrees with itself at the proxy's number of seeds. A proxy near this line ranks as well
  as the 3x longer training does; the gap to tau 0.5 is then the task's seed noise, not the proxy.

    .venv/bin/python benchmarks/proxy_ceiling.py --sample benchmarks/rows/s0_seeds0-3.jsonl,benchmarks/rows/s0_seeds4-5.jsonl \
        --sample benchmarks/rows/s1_seeds0-3.jsonl,benchmarks/rows/s1_seeds4-5.jsonl
"""
from __future__ import annotations

import argparse
import json

import numpy as np
from bench_proxy import spread_points  # this script's folder: run it as benchmarks/proxy_ceiling.py
from scipy.stats import kendalltau


def load_sample(paths: list[str]) -> dict[str, dict[str, dict[int, float]]]:
    """arch name -> {"proxy": {first seed: accuracy}, "long": {seed: accuracy}} over the files' rows."""
    archs: dict[str, dict[str, dict[int, float]]] = {}
    for path in paths:
        for line in open(path):
            if not line.strip():
                continue
            record = json.loads(line)
            settings, row = record["settings"], record["row"]
            if row.get("failure"):
                continue
            arch = archs.setdefault(row["name"], {"proxy": {}, "long": {}})
            for i, accuracy in enumerate(row["proxy_accuracies"]):
                arch["proxy"][settings["seed"] + i * settings["repeats"]] = accuracy
            for i, accuracy in enumerate(row["long_accuracies"]):
                arch["long"][settings["seed"] + i] = accuracy
    return archs


def pooled(samples: list[dict]) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Proxy runs and long seeds that every arch of every sample has: (archs x runs), (archs x seeds)."""
    archs = [arch for sample in samples for arch in sample.values()]
    proxy_seeds = sorted(set.intersection(*(set(a["proxy"]) for a in archs)))
    long_seeds = sorted(set.intersection(*(set(a["long"]) for a in archs)))
    proxy = np.array([[a["proxy"][s] for s in proxy_seeds] for a in archs])
    long = np.array([[a["long"][s] for s in long_seeds] for a in archs])
    return proxy, long, proxy_seeds, long_seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", action="append", required=True, metavar="ROWS[,ROWS...]",
                        help="the rows files of one arch sample (bench_proxy.py --seed S --rows ...)")
    parser.add_argument("--archs", type=int, default=12, help="archs per drawn set (the benchmark's 12)")
    parser.add_argument("--ref-seeds", type=int, default=4, help="long-training seeds averaged for the reference")
    parser.add_argument("--repeats", type=int, default=2, help="seeds per proxy run (the default proxy's repeats)")
    parser.add_argument("--draws", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    proxy, long, proxy_seeds, long_seeds = pooled([load_sample(paths.split(",")) for paths in args.sample])
    n_archs, n_long = long.shape
    if n_long < args.ref_seeds + args.repeats:
        parser.error(f"need {args.ref_seeds + args.repeats} long seeds per arch for the reproducibility line; "
                     f"every arch has {n_long} ({long_seeds})")
    rng = np.random.default_rng(args.seed)
    one_run, two_runs, longer = (("default proxy (3 epochs)", args.repeats),
                                 ("default proxy, two runs averaged", 2 * args.repeats),
                                 ("the longer training itself, other seeds", args.repeats))
    rows: dict[tuple[str, int], list[float]] = {one_run: [], two_runs: [], longer: []}
    for _ in range(args.draws):
        chosen = rng.choice(n_archs, args.archs, replace=False)
        order = rng.permutation(n_long)
        ref = long[chosen][:, order[:args.ref_seeds]].mean(1)
        other = long[chosen][:, order[args.ref_seeds:args.ref_seeds + args.repeats]].mean(1)
        runs = rng.permutation(proxy.shape[1])
        rows[one_run].append(kendalltau(proxy[chosen, runs[0]], ref).statistic)
        if proxy.shape[1] > 1:
            rows[two_runs].append(kendalltau(proxy[chosen][:, runs[:2]].mean(1), ref).statistic)
        rows[longer].append(kendalltau(other, ref).statistic)

    seed_sd, arch_sd = spread_points(long)
    print(f"{n_archs} archs from {len(args.sample)} samples; proxy runs (first seeds) {proxy_seeds}, "
          f"long seeds {long_seeds}; longer training: seed sd {seed_sd:.2f}, arch sd {arch_sd:.2f} points")
    print(f"{args.draws} random sets of {args.archs} archs; reference: mean of {args.ref_seeds} long seeds "
          "(drawn per set)\n")
    print("| score (Kendall tau vs the reference) | seeds | mean tau | sd | share of sets with tau >= 0.5 |")
    print("|---|---|---|---|---|")
    for (label, seeds), values in rows.items():
        if values:
            taus = np.array(values)
            print(f"| {label} | {seeds} | {taus.mean():+.3f} | {taus.std():.3f} | {np.mean(taus >= 0.5):.2f} |")


if __name__ == "__main__":
    main()
