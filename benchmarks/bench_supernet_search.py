"""One-shot vs proxy-training search at equal wall time (issue 14).

Two `mixsearch run --target-flops 300M` searches run side by side, one thread each, for the same
time budget on the same data and seed: one scores candidates by proxy training (the default), the
other by a trained supernet (`--evaluator supernet --supernet PATH`; its training time is reported
apart, from the supernet's metadata). Both bests are then re-scored by the same longer training
(4x the proxy's epochs, scored on the held-out test sample, `--seeds` seeds, one thread each).

    .venv/bin/python benchmarks/bench_supernet_search.py --supernet supernet.pt \\
        --dataset ../shared/data/cifar10/train --minutes 10 --runs-dir /tmp/bss
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml

from mixsearch.controller.trials import load_trials
from mixsearch.evaluator import ProxyConfig, evaluate
from mixsearch.search_space import count_flops, load_arch

ENTRY = "import sys; from mixsearch.cli import main; sys.exit(main())"


def search(name: str, runs_dir: Path, proxy_file: Path, minutes: float, seed: int, extra: list[str]) -> subprocess.Popen:
    command = [sys.executable, "-c", ENTRY, "run", "--target-flops", "300M", "--name", name, "--runs-dir",
               str(runs_dir), "--proxy", str(proxy_file), "--time-budget", f"{minutes}m", "--trials", "100000",
               "--seed", str(seed), "--no-progress", "--no-latency-check", *extra]
    log = open(runs_dir / f"{name}.log", "w")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def rescore(job: tuple[str, str, int, int, str]) -> tuple[str, int, float]:
    label, arch_path, seed, long_factor, dataset = job
    base = ProxyConfig(dataset=dataset, threads=1, time_limit_s=None)
    config = base.replace(epochs=base.epochs * long_factor, repeats=1, seed=seed, score_split="test")
    return label, seed, evaluate(load_arch(arch_path), config).accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--supernet", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--long-factor", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-dir", default="/tmp/bench-supernet-search")
    args = parser.parse_args(argv)
    runs_dir = Path(args.runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    proxy_file = runs_dir / "proxy.yaml"
    proxy_file.write_text(yaml.safe_dump({"dataset": args.dataset, "threads": 1}))
    stamp = time.strftime("%H%M%S")
    names = {"proxy": f"proxy-{stamp}", "supernet": f"supernet-{stamp}"}
    start, load_start = time.time(), os.getloadavg()[0]
    processes = {"proxy": search(names["proxy"], runs_dir, proxy_file, args.minutes, args.seed, []),
                 "supernet": search(names["supernet"], runs_dir, proxy_file, args.minutes, args.seed,
                                    ["--evaluator", "supernet", "--supernet", args.supernet])}
    codes = {kind: process.wait() for kind, process in processes.items()}
    wall = time.time() - start
    if any(codes.values()):
        print(f"a search failed: {codes}; see {runs_dir}/*.log")
        return 1
    jobs, rows = [], {}
    for kind, name in names.items():
        records = load_trials(runs_dir / name)
        scored = [r for r in records if r.finished]
        best = runs_dir / name / "best.yaml"
        rows[kind] = (len(scored), sum(r.status == "complete" for r in records), best)
        jobs += [(kind, str(best), seed, args.long_factor, args.dataset) for seed in range(args.seeds)]
    with ProcessPoolExecutor(2) as pool:
        rescored = list(pool.map(rescore, jobs))
    print(f"searches side by side, 1 thread each, {args.minutes:g} min budget each ({wall / 60:.1f} min wall), "
          f"load average {load_start:.1f} at start / {os.getloadavg()[0]:.1f} at the end; dataset {args.dataset}")
    print(f"re-scored: {args.long_factor}x the proxy's epochs, held-out test sample, seeds 0..{args.seeds - 1}")
    print("| search | candidates scored | complete | best MAdds | best's search score | re-scored accuracy (mean ± sd) |")
    print("|---|---|---|---|---|---|")
    for kind, (scored, complete, best) in rows.items():
        accs = [a for k, _, a in rescored if k == kind]
        arch = load_arch(best)
        metadata = yaml.safe_load(best.read_text()).get("metadata", {})
        print(f"| {kind} | {scored} | {complete} | {count_flops(arch) / 1e6:.0f}M | "
              f"{100 * metadata.get('proxy_accuracy', float('nan')):.1f} | "
              f"{100 * np.mean(accs):.1f} ± {100 * np.std(accs, ddof=1):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
