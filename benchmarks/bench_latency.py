"""Latency tables of the default space: build time, prediction error, predictor throughput.

For each runtime: build the full default table from scratch (timed), validate it on --archs random
archs (median |error|, share within ±5%/±10%, raw = before calibration too), scatter plot, and
time predict() on 10,000 distinct random specs (cold caches, then warm).
Goals (issue 3): >= 95% within ±10%, median |error| <= 5%, build <= 5 min on 2 cores, >= 10,000 specs/s.

Final (quiet machine) run:
    .venv/bin/python benchmarks/bench_latency.py --out-dir bench_latency_out
Quick check on a busy machine (CPU-time clock, fewer archs):
    .venv/bin/python benchmarks/bench_latency.py --archs 20 --clock cpu --out-dir /tmp/bench_latency
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mixsearch.latency import Settings, build_table, load_table, make_runtime, scatter_plot, validate_table
from mixsearch.search_space.arch_io import write_atomic
from mixsearch.search_space.space import load_space


def predictor_throughput(table_path: Path, space, count: int = 10_000) -> dict[str, float]:
    rng = np.random.default_rng(123)
    archs = [space.sample(rng) for _ in range(count)]
    table = load_table(table_path)  # fresh caches
    rates = {}
    for label in ("cold", "warm"):
        start = time.perf_counter()
        for arch in archs:
            table.predict(arch)
        rates[f"specs_per_s_{label}"] = count / (time.perf_counter() - start)
    return rates


def bench_runtime(name: str, granularity: str, args, space, out_dir: Path) -> dict:
    runtime = make_runtime(name, args.threads, args.clock)
    settings = Settings(warmup=args.warmup, runs=args.runs, group=args.group)
    stem = f"{space.name}_{name}_{granularity}_t{args.threads}"
    path = out_dir / f"{stem}.json"
    path.unlink(missing_ok=True)  # the build time is of a full table from scratch
    start = time.perf_counter()
    table = build_table(space, runtime, path, space_source=args.space, settings=settings, granularity=granularity,
                        calibration_archs=args.calibrate, seed=0, progress=not args.quiet)
    build_s = time.perf_counter() - start
    validation = validate_table(table, space, runtime, args.archs, seed=args.seed, settings=settings,
                                progress=not args.quiet)
    scatter_plot(validation, out_dir / f"{stem}.png", f"{name}, {args.threads} thread(s), {granularity}, {space.name}")
    summary = validation.summary()
    scale, offset = (table.calibration["scale"], table.calibration["offset_ms"]) if table.calibration else (1.0, 0.0)
    raw = (np.asarray(validation.predicted_ms) - offset) / scale
    raw_errors = np.abs(raw / np.asarray(validation.measured_ms) - 1)
    return {"runtime": name, "granularity": granularity, "entries": len(table.entries), "build_s": round(build_s, 1),
            "calibration": table.calibration, **{k: v for k, v in summary.items()},
            "raw_median_abs_error": float(np.median(raw_errors)),
            "raw_within_10pct": float(np.mean(raw_errors <= 0.10)),
            **predictor_throughput(path, space),
            "points": {"predicted_ms": validation.predicted_ms, "measured_ms": validation.measured_ms}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="default")
    parser.add_argument("--runtimes", nargs="+", default=["eager", "onnxruntime"])
    parser.add_argument("--granularities", nargs="+", default=["op"], choices=("op", "layer"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--archs", type=int, default=100)
    parser.add_argument("--calibrate", type=int, default=48)
    parser.add_argument("--warmup", type=int, default=None, help="default: the runtime's (3; cuda 10)")
    parser.add_argument("--runs", type=int, default=None, help="default: the runtime's (15; cuda 31)")
    parser.add_argument("--group", type=int, default=None, help="round-robin group size (default: per runtime)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", default="bench_latency_out")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    space = load_space(args.space)
    results = []
    for name, granularity in [(n, g) for n in args.runtimes for g in args.granularities]:
        result = bench_runtime(name, granularity, args, space, out_dir)
        results.append(result)
        print(f"{name} {granularity}: {result['entries']} entries built in {result['build_s']:.0f} s | "
              f"{result['archs']} archs: median |err| {result['median_abs_error']:.1%} "
              f"(raw {result['raw_median_abs_error']:.1%}), within ±5% {result['within_5pct']:.0%}, "
              f"within ±10% {result['within_10pct']:.0%} (raw {result['raw_within_10pct']:.0%}) | "
              f"predict {result['specs_per_s_cold']:,.0f} specs/s cold, {result['specs_per_s_warm']:,.0f} warm",
              flush=True)
    write_atomic(out_dir / "bench_latency.json", json.dumps({"args": vars(args), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
