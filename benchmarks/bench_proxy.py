"""How fast and how faithful is the default proxy? (issue 4)

For N random archs of the default space: seconds per candidate of the default proxy, Kendall tau
between the default proxy and a training `--long-factor` times longer of the same archs (same
task, same seed), and tau of each zero-cost proxy and of params/FLOPs against that longer training.

    .venv/bin/python benchmarks/bench_proxy.py                        # 12 archs, writes results_proxy.md
    .venv/bin/python benchmarks/bench_proxy.py --archs 4 --quick      # a smoke run while developing
    .venv/bin/python benchmarks/bench_proxy.py --set noise=0.3 --set lr=0.05   # try other settings
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


def sample_archs(count: int, seed: int) -> list[ArchSpec]:
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


def load_rows(path: str, config: ProxyConfig) -> dict[str, dict]:
    """Rows saved by an earlier run with the same proxy settings (threads and time limit aside)."""
    if not os.path.exists(path):
        return {}
    key = _settings(config)
    rows = [json.loads(line) for line in open(path) if line.strip()]
    return {r["row"]["name"]: r["row"] for r in rows if r["settings"] == key}


def save_row(path: str, config: ProxyConfig, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps({"settings": _settings(config), "row": {**row, "failure": _failure(row)}}) + "\n")


def _settings(config: ProxyConfig) -> dict:
    return {k: v for k, v in config.to_dict().items() if k not in ("threads", "time_limit_s")}


def _failure(row: dict):
    failure = row["failure"]
    return failure.to_dict() if hasattr(failure, "to_dict") else failure


def summarize(rows: list[dict], command: str, args: argparse.Namespace, config: ProxyConfig,
              long_config: ProxyConfig, partial: bool) -> str:
    ok = [r for r in rows if r["failure"] is None]
    reference = [r["long_accuracy"] for r in ok]
    signals = {"proxy accuracy": [r["accuracy"] for r in ok],
               "proxy -val_loss": [-r["val_loss"] for r in ok]}
    signals.update({name: [r[name] for r in ok] for name in (*ZERO_COST_PROXIES, "params", "flops")})
    seconds = np.array([r["seconds"] for r in rows])
    lines = [
        f"# Proxy benchmark (benchmarks/bench_proxy.py {command})",
        "",
        *(["**Partial: the run is still going or was interrupted.**", ""] if partial else []),
        f"{len(rows)} random archs of the default space (seed {args.seed}); {len(ok)} trained without failure. "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} thread(s); "
        f"load average {os.getloadavg()[1]:.1f} (5 min) when written: above the thread count means shared cores.",
        f"Default proxy: {config.epochs} epochs, {config.resolution}px, width x{config.width_mult}, "
        f"dataset {config.dataset}, data_fraction {config.data_fraction}; reference: {long_config.epochs} epochs.",
        "",
        f"Seconds per candidate (default proxy): median {np.median(seconds):.1f}, min {seconds.min():.1f}, "
        f"max {seconds.max():.1f}; longer training median "
        f"{np.median([r['long_seconds'] for r in rows]):.1f}; zero-cost (all three) median "
        f"{np.median([r['zero_cost_seconds'] for r in rows]):.1f}.",
        f"Accuracy range: proxy {min(signals['proxy accuracy'], default=0):.3f}-"
        f"{max(signals['proxy accuracy'], default=0):.3f}, longer {min(reference, default=0):.3f}-"
        f"{max(reference, default=0):.3f}.",
        "",
        f"| score | Kendall tau vs {long_config.epochs}-epoch accuracy | vs {long_config.epochs}-epoch -val_loss |",
        "|---|---|---|",
        *(f"| {name} | {tau(values, reference):+.3f} | {tau(values, [-r['long_val_loss'] for r in ok]):+.3f} |"
          for name, values in signals.items()),
        "",
        "| arch | params | MACs | proxy s | proxy acc | proxy val loss | long acc | long val loss | synflow | naswot "
        "| grad_norm |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(f"| {r['name']} | {r['params'] / 1e6:.2f}M | {r['flops'] / 1e6:.0f}M | {r['seconds']:.1f} | "
          f"{r['accuracy']:.3f} | {_round(r['val_loss'])} | {r['long_accuracy']:.3f} | {_round(r['long_val_loss'])} | "
          f"{r['synflow']:.1f} | {r['naswot']:.1f} | {r['grad_norm']:.1f} |" for r in rows),
    ]
    return "\n".join(lines) + "\n"


def _round(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="seed of the arch sample")
    parser.add_argument("--long-factor", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a third of the training data (smoke test only)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a ProxyConfig field (YAML value) for both trainings")
    parser.add_argument("--out", default=None, help="write the markdown table here (default: print only)")
    parser.add_argument("--rows", default=None, help="JSON-lines file of finished archs: appended after each "
                                                     "arch, and rows of the same settings are reused on a rerun")
    args = parser.parse_args(argv)

    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    if args.quick:
        overrides.setdefault("data_fraction", 0.33)
    config = ProxyConfig(threads=args.threads, time_limit_s=None, **overrides)
    long_config = config.replace(epochs=config.epochs * args.long_factor)
    archs = sample_archs(args.archs, args.seed)
    print(f"{len(archs)} archs; proxy: {config.to_dict()}", flush=True)

    rows = []
    command = " ".join(sys.argv[1:] if argv is None else argv)
    done = load_rows(args.rows, config) if args.rows else {}
    for arch in archs:
        if arch.name in done:  # evaluations are deterministic: a saved row is what a rerun would give
            rows.append(done[arch.name])
            print(f"{arch.name}: from {args.rows}", flush=True)
            continue
        zc_start = time.monotonic()
        scores = zero_cost_scores(arch, config)
        zc_seconds = time.monotonic() - zc_start
        short = evaluate(arch, config)
        long = evaluate(arch, long_config)
        rows.append({"name": arch.name, "params": count_params(arch), "flops": count_flops(arch),
                     "seconds": short.seconds, "long_seconds": long.seconds, "zero_cost_seconds": zc_seconds,
                     "accuracy": short.accuracy, "val_loss": short.val_loss, "long_accuracy": long.accuracy,
                     "long_val_loss": long.val_loss, "failure": short.failure or long.failure, **scores})
        print(f"{arch.name}: {rows[-1]['params'] / 1e6:.2f}M {rows[-1]['flops'] / 1e6:.0f}M MACs | proxy "
              f"{short.accuracy:.3f} loss {short.val_loss} {short.seconds:.1f}s | long {long.accuracy:.3f} "
              f"loss {long.val_loss} {long.seconds:.1f}s | zero-cost {zc_seconds:.1f}s "
              f"{ {k: round(v, 2) for k, v in scores.items()} }", flush=True)
        if args.rows:
            save_row(args.rows, config, rows[-1])
        if args.out:  # after every arch, so an interrupted run still leaves its figures
            write_atomic(args.out, summarize(rows, command, args, config, long_config, partial=len(rows) < len(archs)))
    print(summarize(rows, command, args, config, long_config, partial=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
