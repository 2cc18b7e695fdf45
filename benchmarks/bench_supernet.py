"""How well does a supernet rank candidates, and how fast? (issue 14)

The panel (supernet_panel.py: presets inside the default space + seeded samples, each trained
stand-alone by the default proxy, rows committed under rows/) against the same archs' supernet
scores: Kendall tau, Spearman rho and the top-10% hit rate, beside the zero-cost proxies, params
and FLOPs, and (when its rows exist) the proxy under other training seeds, the ceiling of any
score's agreement with one proxy run. Also: supernet training time and candidates scored per hour.

    python benchmarks/supernet_panel.py --dataset /work/shared/data/cifar10/train --shard 0/2 &   # the panel
    python benchmarks/supernet_panel.py --dataset /work/shared/data/cifar10/train --shard 1/2 &
    python benchmarks/bench_supernet.py --dataset /work/shared/data/cifar10/train --supernet /tmp/sn.pt \
        --epochs 12 --snapshots 3,6 --out benchmarks/results_supernet.md
(trains the supernet first when --supernet does not exist, keeping the --snapshots epochs' checkpoints)
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import shutil
import sys
import time

import numpy as np
import torch
from bench_proxy import load_rows, save_row, tau  # this script's folder: run it as benchmarks/bench_supernet.py
from scipy.stats import spearmanr
from supernet_panel import ROWS, panel_config, panel_key

from mixsearch.evaluator import ZERO_COST_PROXIES, ProxyConfig
from mixsearch.evaluator.proxy import load_data
from mixsearch.evaluator.proxy_shape import ProxyShape
from mixsearch.evaluator.supernet import (SuperNet, SupernetRecipe, SupernetScorer, dataset_label, load_supernet,
                                          train_supernet)
from mixsearch.evaluator.supernet.resume import load_checkpoint
from mixsearch.search_space import ArchSpec, default_space
from mixsearch.search_space.arch_io import write_atomic


SCORES = os.path.join(os.path.dirname(ROWS), "supernet_scores_cifar10.jsonl")


def load(now: float) -> str:
    return f"load {os.getloadavg()[0]:.1f} ({time.strftime('%H:%M', time.gmtime(now))} UTC)"


def train(args: argparse.Namespace, config: ProxyConfig) -> None:
    recipe = SupernetRecipe(epochs=args.epochs, random_archs=args.random_archs, seed=0)
    snapshots = {int(e) for e in args.snapshots.split(",") if e}

    def keep(epoch: int, metrics: dict) -> None:
        print(f"epoch {epoch + 1}: {metrics} {load(time.time())}", flush=True)
        if epoch + 1 in snapshots:
            shutil.copy(f"{args.supernet}.ckpt", f"{args.supernet}.e{epoch + 1}.ckpt")

    train_supernet(default_space(), config, recipe, args.supernet, resume=os.path.exists(f"{args.supernet}.ckpt"),
                   progress=False, report=keep)


def snapshot(path: str, config: ProxyConfig) -> SuperNet:
    """The supernet of a kept epoch checkpoint (its training finished later)."""
    state = load_checkpoint(path, {})["model"]
    supernet = SuperNet(default_space(), ProxyShape.of(config, load_data(config)), dataset=dataset_label(config),
                        bn_momentum=config.bn_momentum, crop_to_input=config.crop_kernels)
    supernet.load_state_dict(state)
    return supernet


def file_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def score_all(make_scorer, archs: list[ArchSpec], cache: str, weights: str) -> tuple[list[float], list[float], float]:
    """Supernet accuracy and -val_loss of the panel; scores of the same weights file (by hash) are
    read from / appended to the `cache` rows, so a rerun only recomputes the tables."""
    key = {"weights": file_hash(weights)}
    done = load_rows(cache, key)
    scorer, accuracies, losses, start = None, [], [], time.monotonic()
    for arch in archs:
        if arch.name not in done:
            scorer = scorer or make_scorer()
            result = scorer.score(arch)
            done[arch.name] = {"name": arch.name, "accuracy": result.accuracy, "val_loss": result.val_loss,
                               "failure": result.failure}
            save_row(cache, key, done[arch.name])
        row = done[arch.name]
        accuracies.append(row["accuracy"])
        losses.append(-row["val_loss"] if row["failure"] is None else -math.inf)
    return accuracies, losses, time.monotonic() - start


def hit_rate(score: list[float], reference: list[float], share: float = 0.1) -> float:
    """Share of the reference's top `share` that the score also puts in its top `share`."""
    k = max(1, math.ceil(share * len(reference)))
    top = lambda values: set(np.argsort(-np.asarray(values), kind="stable")[:k])  # noqa: E731
    return len(top(score) & top(reference)) / k


def speed(scorer: SupernetScorer, threads: int, count: int) -> tuple[float, float, float, str]:
    """Candidates scored per hour on `threads` threads (`count` fresh samples of the space, timed),
    per hour of this process's CPU time (what an unshared machine would give on one thread), and the
    share of the time spent cutting the subnet out (what a dynamic forward could save at most)."""
    rng = np.random.default_rng(123)
    archs = [scorer.supernet.space.sample(rng) for _ in range(count)]
    scorer.config = scorer.config.replace(threads=threads)
    scorer.score(archs[0])  # warm-up
    start, cpu = time.monotonic(), time.process_time()
    for arch in archs:
        scorer.score(arch)
    seconds, cpu = time.monotonic() - start, time.process_time() - cpu
    torch.set_num_threads(threads)
    extract = time.monotonic()
    for arch in archs:
        scorer.subnet(arch)
    extract = time.monotonic() - extract
    torch.set_num_threads(1)
    return 3600 * count / seconds, 3600 * count / cpu, extract / seconds, load(time.time())


def table(signals: dict[str, list[float]], reference: list[float]) -> list[str]:
    lines = ["| score | Kendall tau | Spearman rho | top-10% hit rate |", "|---|---|---|---|"]
    for name, values in signals.items():
        rho = spearmanr(values, reference).statistic
        lines.append(f"| {name} | {tau(values, reference):+.3f} | {rho:+.3f} | {hit_rate(values, reference):.2f} |")
    return lines


def ceiling_table(args: argparse.Namespace) -> list[str]:
    """Kendall tau etc. of the proxy under seeds ceiling_seed,+1 against seeds 0,1, on the archs both have."""
    first = load_rows(args.rows, panel_key(panel_config(args.dataset, 0, 1), args.seed))
    other = load_rows(args.rows, panel_key(panel_config(args.dataset, args.ceiling_seed, 1), args.seed))
    names = sorted(n for n in first if n in other and first[n]["failure"] is None and other[n]["failure"] is None)
    label = f"the proxy itself, training seeds {args.ceiling_seed},{args.ceiling_seed + 1} ({len(names)} archs)"
    return table({label: [other[n]["accuracy"] for n in names]}, [first[n]["accuracy"] for n in names])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--supernet", required=True, help="the supernet file; trained first when it does not exist")
    parser.add_argument("--epochs", type=int, default=12, help="supernet epochs when it is trained here")
    parser.add_argument("--random-archs", type=int, default=2)
    parser.add_argument("--snapshots", default="", help="epochs whose checkpoints are kept and scored too, e.g. 3,6")
    parser.add_argument("--archs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", default=ROWS)
    parser.add_argument("--ceiling-seed", type=int, default=2, help="proxy seed of the ceiling rows, if present")
    parser.add_argument("--speed-archs", type=int, default=40)
    parser.add_argument("--speed-threads", default="1,2")
    parser.add_argument("--out", default=None)
    parser.add_argument("--scores", default=SCORES, help="rows of supernet scores, reused for the same weights file")
    parser.add_argument("--ceiling-only", action="store_true",
                        help="only the proxy against itself under other training seeds, on the archs whose rows "
                             "both seeds have (no supernet needed)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = panel_config(args.dataset, 0, 1)
    if args.ceiling_only:
        print("\n".join(ceiling_table(args)))
        return 0
    started = time.time()
    if not os.path.exists(args.supernet):
        train(args, config)
    _, extra = load_supernet(args.supernet)
    rows = load_rows(args.rows, panel_key(config, args.seed))
    ok = [r for r in rows.values() if r["failure"] is None]
    if len(ok) < 3:
        parser.error(f"{len(ok)} panel rows in {args.rows} for these settings; run supernet_panel.py first")
    archs = [ArchSpec.from_dict(r["arch"]) for r in ok]
    reference = [r["accuracy"] for r in ok]

    scorer = SupernetScorer(args.supernet, config, space=default_space())
    accuracy, neg_loss, _ = score_all(lambda: scorer, archs, args.scores, args.supernet)
    signals = {f"supernet accuracy ({extra['recipe']['epochs']} epochs)": accuracy,
               f"supernet -val_loss ({extra['recipe']['epochs']} epochs)": neg_loss}
    for epoch in sorted(int(e) for e in args.snapshots.split(",") if e):
        path = f"{args.supernet}.e{epoch}.ckpt"
        if os.path.exists(path):
            snap_acc, snap_loss, _ = score_all(lambda: SupernetScorer(snapshot(path, config), config), archs,
                                               args.scores, path)
            signals[f"supernet accuracy after epoch {epoch} of {extra['recipe']['epochs']}"] = snap_acc
            signals[f"supernet -val_loss after epoch {epoch} of {extra['recipe']['epochs']}"] = snap_loss
    ceiling = load_rows(args.rows, panel_key(panel_config(args.dataset, args.ceiling_seed, 1), args.seed))
    complete = all(r["name"] in ceiling and ceiling[r["name"]]["failure"] is None for r in ok)
    if complete:
        signals[f"the proxy itself, training seeds {args.ceiling_seed},{args.ceiling_seed + 1} (ceiling)"] = \
            [ceiling[r["name"]]["accuracy"] for r in ok]
    signals["proxy -val_loss (same run, for scale)"] = [-r["val_loss"] for r in ok]
    signals.update({name: [r[name] for r in ok] for name in (*ZERO_COST_PROXIES, "params", "flops")})

    speeds = [(threads, *speed(scorer, threads, args.speed_archs)) for threads in
              (int(t) for t in args.speed_threads.split(",") if t)]
    proxy_seconds = np.array([r["seconds"] for r in ok])
    lines = [
        "# Supernet vs stand-alone proxy (benchmarks/bench_supernet.py)", "",
        f"Panel: {len(ok)} archs of the default space (presets inside it + seed {args.seed} samples), each trained "
        f"stand-alone by the default proxy on {config.dataset} ({config.epochs} epochs x {config.repeats} seeds, "
        f"{config.resolution}px, width x{config.width_mult}); proxy seconds per arch: median "
        f"{np.median(proxy_seconds):.0f} (1 thread, shared machine). Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}.",
        f"Supernet: recipe {extra['recipe']}; trained in {extra['seconds'] / 60:.1f} min on 1 thread; "
        f"epoch losses {[round(h['largest_loss'], 3) for h in extra['history']]} (largest), "
        f"{[round(h['smallest_loss'], 3) for h in extra['history']]} (smallest).",
        *(f"Scoring speed, {threads} thread(s): {rate:,.0f} candidates per hour of wall time, {cpu_rate:,.0f} per "
          f"hour of CPU time ({args.speed_archs} samples; subnet extraction {100 * share:.0f}% of the wall time; "
          f"{when})." for threads, rate, cpu_rate, share, when in speeds),
        f"Accuracy range: proxy {min(reference):.3f}-{max(reference):.3f}, supernet {min(accuracy):.3f}-"
        f"{max(accuracy):.3f}. Started {time.strftime('%H:%M', time.gmtime(started))} UTC.", "",
        "Reference: the proxy's accuracy (seeds 0,1).", "",
        *table(signals, reference), "",
        *([f"Reference: the mean of both proxy runs (seeds 0,1 and {args.ceiling_seed},{args.ceiling_seed + 1}), "
           "less noisy than one run.", "",
           *table({k: v for k, v in signals.items() if "ceiling" not in k},
                  [(r["accuracy"] + ceiling[r["name"]]["accuracy"]) / 2 for r in ok]), ""] if complete else []),
        "| arch | proxy acc | supernet acc | params | MACs |", "|---|---|---|---|---|",
        *(f"| {r['name']} | {r['accuracy']:.4f} | {a:.4f} | {r['params'] / 1e6:.2f}M | {r['flops'] / 1e6:.0f}M |"
          for r, a in zip(ok, accuracy)),
    ]
    text = "\n".join(lines) + "\n"
    if args.out:
        write_atomic(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
