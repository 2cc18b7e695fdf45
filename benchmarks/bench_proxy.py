"""How fast and how faithful is the default proxy? (issue 4)

For N random archs of the default space: seconds per candidate of the default proxy, Kendall tau
between the default proxy and a training `--long-factor` times longer of the same archs (same
task; its accuracy averaged over `--long-seeds` training seeds, because one short run on a small
task moves by a few points from seed to seed and a single-seed reference ranks partly by luck), and
tau of each zero-cost proxy and of params/FLOPs against that longer training. With
`--proxy-runs 2` or more it also prints how stable the proxy's own ranking is: tau between two
runs of the proxy under other training seeds, and tau of the mean of those runs. With two or more
seeds per reference it prints the spread between seeds of one arch and between archs: where the
second is not the larger, no score can rank the archs reproducibly, and a tau measures noise.

    .venv/bin/python benchmarks/bench_proxy.py                        # 12 archs, writes results_proxy.md
    .venv/bin/python benchmarks/bench_proxy.py --archs 4 --quick      # a smoke run while developing
    .venv/bin/python benchmarks/bench_proxy.py --set noise=0.3 --set lr=0.05   # try other settings
    # the real task: 16 archs + 3 presets, a 4x longer reference of 3 seeds scored on held-out images,
    # two processes of one thread each sharing one rows file, then a summary from the rows
    .venv/bin/python benchmarks/bench_proxy.py --dataset cifar10-mini --archs 16 --presets mixnet_s,mobilenet_v2,efficientnet_b0 \
        --long-factor 4 --long-seeds 3 --reference-split test --threads 1 --rows rows/cifar.jsonl --shard 0/2 &
    (... --shard 1/2 ...); then the same command without --shard and with --out results_proxy_cifar.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import yaml
from scipy.stats import kendalltau

from mixsearch.evaluator import ZERO_COST_PROXIES, ProxyConfig, evaluate, zero_cost_scores
from mixsearch.search_space import ArchSpec, count_flops, count_params, load_preset
from mixsearch.search_space.arch_io import write_atomic


def sample_archs(count: int, seed: int, presets: tuple[str, ...] = ()) -> list[ArchSpec]:
    return [load_preset(name).replace(name=name) for name in presets] + _random_archs(count, seed)


def _random_archs(count: int, seed: int) -> list[ArchSpec]:
    try:
        from mixsearch.search_space.space import default_space
    except ImportError:  # before the search space landed: presets
        return [load_preset(n) for n in ("mixnet_s", "mixnet_m", "mobilenet_v2", "efficientnet_b0")][:count]
    space, rng = default_space(), np.random.default_rng(seed)
    return [space.sample(rng).replace(name=f"arch{i}") for i in range(count)]


def tau(x: list[float], y: list[float]) -> float:
    if len(x) < 2:
        return float("nan")
    value = kendalltau(x, y).statistic
    return float("nan") if value is None else float(value)


def load_rows(path: str, key: dict) -> dict[str, dict]:
    """Rows saved by an earlier run with the same settings (threads and time limit aside)."""
    if not os.path.exists(path):
        return {}
    rows = [json.loads(line) for line in open(path) if line.strip()]
    return {r["row"]["name"]: r["row"] for r in rows if r["settings"] == key}


def save_row(path: str, key: dict, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps({"settings": key, "row": {**row, "failure": _failure(row)}}) + "\n")


def settings_key(config: ProxyConfig, args: argparse.Namespace) -> dict:
    proxy = {k: v for k, v in config.to_dict().items() if k not in ("threads", "time_limit_s")}
    key = {**proxy, "long_factor": args.long_factor, "proxy_runs": args.proxy_runs, "long_seeds": args.long_seeds}
    if args.reference_split != "val":  # rows of earlier runs (always val) keep their key
        key["reference_split"] = args.reference_split
    return key


def _failure(row: dict):
    failure = row["failure"]
    return failure.to_dict() if hasattr(failure, "to_dict") else failure


def summarize(rows: list[dict], command: str, args: argparse.Namespace, config: ProxyConfig,
              long_config: ProxyConfig, partial: bool) -> str:
    ok = [r for r in rows if r["failure"] is None]
    reference = [r["long_accuracy"] for r in ok]
    long_name = f"{long_config.epochs}-epoch" + (f" (mean of {args.long_seeds} seeds)" if args.long_seeds > 1 else "")
    signals = {"proxy accuracy": [r["accuracy"] for r in ok],
               "proxy -val_loss": [-r["val_loss"] for r in ok]}
    if all(r.get("train_loss_sum") is not None for r in ok):
        signals["proxy -sum of training losses"] = [-r["train_loss_sum"] for r in ok]
    if args.proxy_runs > 1:
        signals[f"proxy accuracy, mean of {args.proxy_runs} proxy runs"] = [np.mean(r["proxy_accuracies"]) for r in ok]
    signals.update({name: [r[name] for r in ok] for name in (*ZERO_COST_PROXIES, "params", "flops")})
    seconds = np.array([r["seconds"] for r in rows])
    stability = []
    if args.proxy_runs > 1:
        stability.append(f"proxy run 1 vs run 2 (seeds from {config.seed} / {config.seed + config.repeats}): tau "
                         f"{tau(*zip(*[r['proxy_accuracies'][:2] for r in ok])):+.3f}")
    if args.long_seeds > 1:
        stability.append(f"{long_config.epochs}-epoch training, seed {config.seed} vs seed {config.seed + 1}: tau "
                         f"{tau(*zip(*[r['long_accuracies'][:2] for r in ok])):+.3f}")
    if args.long_seeds >= 4:
        halves = [(np.mean(r["long_accuracies"][:2]), np.mean(r["long_accuracies"][2:4])) for r in ok]
        stability.append(f"mean of {long_config.epochs}-epoch seeds {config.seed},{config.seed + 1} vs mean of seeds "
                         f"{config.seed + 2},{config.seed + 3}: tau {tau(*zip(*halves)):+.3f}")
    measured = ((f"proxy (runs of {config.repeats} seed(s))", "proxy_accuracies", args.proxy_runs),
                (f"{long_config.epochs}-epoch", "long_accuracies", args.long_seeds))
    spreads = [f"{name}: {spread([r[key] for r in ok])}" for name, key, runs in measured if runs > 1]
    lines = [
        f"# Proxy benchmark (benchmarks/bench_proxy.py {command})",
        "",
        *(["**Partial: the run is still going or was interrupted.**", ""] if partial else []),
        f"{len(rows)} random archs of the default space (seed {args.seed}); {len(ok)} trained without failure. "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} thread(s); "
        f"load average {os.getloadavg()[1]:.1f} (5 min) when written: above the thread count means shared cores.",
        f"Default proxy: {config.epochs} epochs, {config.resolution}px, width x{config.width_mult}, batch "
        f"{config.batch_size}, dataset {config.dataset}, data_fraction {config.data_fraction}, seed {config.seed}, "
        f"repeats {config.repeats}, val_draws {config.val_draws}; "
        f"reference: {long_name} training, same recipe.",
        "",
        f"Seconds per candidate (default proxy): median {np.median(seconds):.1f}, min {seconds.min():.1f}, "
        f"max {seconds.max():.1f}; longer training median "
        f"{np.median([r['long_seconds'] for r in rows]):.1f}; zero-cost (all three) median "
        f"{np.median([r['zero_cost_seconds'] for r in rows]):.1f}.",
        f"Accuracy range: proxy {min(signals['proxy accuracy'], default=0):.3f}-"
        f"{max(signals['proxy accuracy'], default=0):.3f}, longer {min(reference, default=0):.3f}-"
        f"{max(reference, default=0):.3f}.",
        *([f"Ranking stability across training seeds (Kendall tau): {'; '.join(stability)}."] if stability else []),
        *([f"Spread of accuracy in points, between seeds of one arch vs between archs (of the seed means, "
           f"seed part removed): {'; '.join(spreads)}."] if spreads else []),
        "",
        f"| score | Kendall tau vs {long_name} accuracy | vs {long_name} -val_loss |",
        "|---|---|---|",
        *(f"| {name} | {tau(values, reference):+.3f} | {tau(values, [-r['long_val_loss'] for r in ok]):+.3f} |"
          for name, values in signals.items()),
        "",
        "| arch | params | MACs | proxy s | proxy acc (per run) | proxy val loss | long acc (per seed) | long val loss "
        "| synflow | naswot | grad_norm |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(f"| {r['name']} | {r['params'] / 1e6:.2f}M | {r['flops'] / 1e6:.0f}M | {r['seconds']:.1f} | "
          f"{_per_seed(r['proxy_accuracies'])} | {_round(r['val_loss'])} | {_per_seed(r['long_accuracies'])} | "
          f"{_round(r['long_val_loss'])} | {r['synflow']:.1f} | {r['naswot']:.1f} | {r['grad_norm']:.1f} |"
          for r in rows),
    ]
    return "\n".join(lines) + "\n"


def spread_points(per_arch) -> tuple[float, float]:
    """Seed sd (within an arch) and arch sd (of the seed means, less the seed noise left in a
    mean), in accuracy points: a ranking is reproducible only where the arch sd is the larger."""
    values = np.array(per_arch, dtype=float)
    seed_var = float(np.mean(np.var(values, axis=1, ddof=1)))
    arch_var = float(np.var(values.mean(axis=1), ddof=1)) - seed_var / values.shape[1]
    return 100 * seed_var ** 0.5, 100 * max(arch_var, 0.0) ** 0.5


def spread(per_arch: list[list[float]]) -> str:
    seed_sd, arch_sd = spread_points(per_arch)
    return f"seed sd {seed_sd:.2f}, arch sd {arch_sd:.2f}"


def _per_seed(values: list[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def _round(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def measure(arch: ArchSpec, config: ProxyConfig, long_config: ProxyConfig, args: argparse.Namespace) -> dict:
    """One row: zero-cost scores, the proxy under each proxy seed, the longer training under each long seed."""
    zc_start = time.monotonic()
    scores = zero_cost_scores(arch, config)
    zc_seconds = time.monotonic() - zc_start
    # A proxy with repeats R trains under seeds seed..seed+R-1; the next sample of it starts at seed+R.
    shorts = [evaluate(arch, config.replace(seed=config.seed + i * config.repeats)) for i in range(args.proxy_runs)]
    longs = [evaluate(arch, long_config.replace(seed=long_config.seed + i)) for i in range(args.long_seeds)]
    failure = next((r.failure for r in (*shorts, *longs) if r.failure is not None), None)
    short = shorts[0]
    return {"name": arch.name, "params": count_params(arch), "flops": count_flops(arch),
            "seconds": short.seconds, "long_seconds": float(np.mean([r.seconds for r in longs])),
            "zero_cost_seconds": zc_seconds, "accuracy": short.accuracy, "val_loss": short.val_loss,
            "proxy_accuracies": [r.accuracy for r in shorts],
            # Training speed (Ru et al. 2021, "Speedy performance estimation"): the sum of the
            # epochs' training losses, a score that averages over every batch of the proxy.
            "train_loss_sum": float(sum(c["train_loss"] for c in short.curve)) if not failure else None,
            "long_accuracy": float(np.mean([r.accuracy for r in longs])),
            "long_accuracies": [r.accuracy for r in longs],
            "long_val_loss": None if failure else float(np.mean([r.val_loss for r in longs])),
            "failure": failure, **scores}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=12)
    parser.add_argument("--dataset", default=None, help="the proxy's dataset (default: ProxyConfig's)")
    parser.add_argument("--presets", default="", help="comma-separated presets measured beside the random archs")
    parser.add_argument("--reference-split", choices=("val", "test"), default="val",
                        help="where the longer training is scored: test = held-out images disjoint from the "
                             "proxy's validation sample")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="measure only archs K, K+N, ... (run N processes into one --rows file)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the arch sample")
    parser.add_argument("--long-factor", type=int, default=3)
    parser.add_argument("--long-seeds", type=int, default=4, help="training seeds averaged for the reference")
    parser.add_argument("--proxy-runs", type=int, default=2,
                        help="runs of the proxy under other seeds: the first is the default proxy, the others "
                             "measure how stable its ranking is")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="where both trainings run (zero-cost scores: CPU)")
    parser.add_argument("--quick", action="store_true", help="a third of the training data (smoke test only)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a ProxyConfig field (YAML value) for both trainings")
    parser.add_argument("--out", default=None, help="write the markdown table here (default: print only)")
    parser.add_argument("--rows", default=None, help="JSON-lines file of finished archs: appended after each "
                                                     "arch, and rows of the same settings are reused on a rerun")
    args = parser.parse_args(argv)

    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    if args.dataset:
        overrides["dataset"] = args.dataset
    if args.quick:
        overrides.setdefault("data_fraction", 0.33)
    config = ProxyConfig(threads=args.threads, time_limit_s=None, **{"device": args.device, **overrides})
    # The reference: the same recipe, longer, one seed per training (averaged over --long-seeds).
    long_config = config.replace(epochs=config.epochs * args.long_factor, repeats=1,
                                 score_split=args.reference_split)
    archs = sample_archs(args.archs, args.seed, tuple(n for n in args.presets.split(",") if n))
    if args.shard:
        shard, shards = (int(v) for v in args.shard.split("/"))
        archs = archs[shard::shards]
    print(f"{len(archs)} archs; proxy: {config.to_dict()}", flush=True)

    rows = []
    command = " ".join(sys.argv[1:] if argv is None else argv)
    key = settings_key(config, args)
    done = load_rows(args.rows, key) if args.rows else {}
    for arch in archs:
        if arch.name in done:  # evaluations are deterministic: a saved row is what a rerun would give
            rows.append(done[arch.name])
            print(f"{arch.name}: from {args.rows}", flush=True)
            continue
        rows.append(measure(arch, config, long_config, args))
        r = rows[-1]
        print(f"{arch.name}: {r['params'] / 1e6:.2f}M {r['flops'] / 1e6:.0f}M MACs | proxy "
              f"{_per_seed(r['proxy_accuracies'])} loss {_round(r['val_loss'])} {r['seconds']:.1f}s | long "
              f"{_per_seed(r['long_accuracies'])} {r['long_seconds']:.1f}s | zero-cost {r['zero_cost_seconds']:.1f}s",
              flush=True)
        if args.rows:
            save_row(args.rows, key, r)
        if args.out:  # after every arch, so an interrupted run still leaves its figures
            write_atomic(args.out, summarize(rows, command, args, config, long_config, partial=len(rows) < len(archs)))
    summary = summarize(rows, command, args, config, long_config, partial=False)
    if args.out:  # also when every row came from --rows
        write_atomic(args.out, summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
