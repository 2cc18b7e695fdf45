"""The stand-alone side of bench_supernet.py: a panel of archs of the default space, each trained
with the default proxy (one row per arch and proxy seed in a JSON-lines file, appended after each
arch and reused on a rerun with the same settings), plus its zero-cost scores, params and FLOPs.

    # two processes of one thread each into one rows file, then bench_supernet.py reads the rows
    python benchmarks/supernet_panel.py --dataset /work/shared/data/cifar10/train --shard 0/2 &
    python benchmarks/supernet_panel.py --dataset /work/shared/data/cifar10/train --shard 1/2 &
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from bench_proxy import load_rows, save_row  # this script's folder: run it as benchmarks/supernet_panel.py

from mixsearch.evaluator import ProxyConfig, evaluate, zero_cost_scores
from mixsearch.search_space import ArchSpec, count_flops, count_params, default_space, load_preset, preset_names

ROWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rows", "supernet_panel_cifar10.jsonl")
# The presets of the issue; only those inside the default space join the panel (MixNet-S today).
PRESETS = ("mixnet_s", "mobilenet_v2", "efficientnet_b0")


def panel_archs(count: int, seed: int) -> list[ArchSpec]:
    """The presets inside the default space, then `count` seeded samples of it."""
    space, rng = default_space(), np.random.default_rng(seed)
    presets = [load_preset(name).replace(name=name) for name in PRESETS
               if name in preset_names() and space.contains(load_preset(name))]
    return presets + [space.sample(rng).replace(name=f"arch{i}") for i in range(count)]


def panel_config(dataset: str | None, seed: int, threads: int) -> ProxyConfig:
    overrides = {"dataset": dataset} if dataset else {}
    return ProxyConfig(threads=threads, time_limit_s=None, seed=seed, **overrides)


def panel_key(config: ProxyConfig, panel_seed: int) -> dict:
    """Rows are reused only under the same proxy settings (threads and time limit aside) and sample."""
    proxy = {k: v for k, v in config.to_dict().items() if k not in ("threads", "time_limit_s")}
    return {**proxy, "panel_seed": panel_seed}


def measure(arch: ArchSpec, config: ProxyConfig) -> dict:
    start = time.monotonic()
    scores = zero_cost_scores(arch, config)
    zero_cost_seconds = time.monotonic() - start
    result = evaluate(arch, config)
    return {"name": arch.name, "arch": arch.to_dict(), "params": count_params(arch), "flops": count_flops(arch),
            "accuracy": result.accuracy, "val_loss": result.val_loss, "seconds": result.seconds,
            "zero_cost_seconds": zero_cost_seconds, "failure": result.failure, **scores}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default=None, help="the proxy's dataset (default: ProxyConfig's)")
    parser.add_argument("--archs", type=int, default=30, help="random archs beside the presets inside the space")
    parser.add_argument("--seed", type=int, default=0, help="seed of the arch sample")
    parser.add_argument("--proxy-seed", type=int, default=0, help="the proxy's training seed (repeats: seed, seed+1)")
    parser.add_argument("--rows", default=ROWS)
    parser.add_argument("--threads", type=int, default=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--shard", default=None, metavar="K/N", help="measure only archs K, K+N, ...")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = panel_config(args.dataset, args.proxy_seed, args.threads)
    archs = panel_archs(args.archs, args.seed)
    if args.shard:
        shard, shards = (int(v) for v in args.shard.split("/"))
        archs = archs[shard::shards]
    key = panel_key(config, args.seed)
    done = load_rows(args.rows, key)
    for arch in archs:
        if arch.name in done:
            continue
        row = measure(arch, config)
        save_row(args.rows, key, row)
        print(f"{arch.name}: acc {row['accuracy']:.4f} loss {row['val_loss']} {row['seconds']:.1f}s "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
    print(json.dumps({"archs": len(archs), "rows": args.rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
