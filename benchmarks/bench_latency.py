"""Latency tables of the default space: build time, prediction error per FLOPs band, throughput.

For each runtime: build the full default table from scratch (timed), validate it on --archs archs
spread over the space's FLOPs range (median |error|, share within ±5%/±10% overall and per band
< 100M / 100-250M / > 250M; raw = before calibration too), scatter plot, and time predict() on
10,000 distinct random specs (cold caches, then warm). Then MixNet-S, MobileNetV2 and
EfficientNet-B0 end to end on every runtime, in the same run (ratios against XNNPACK). The load
average and the reference layer's load (measure.py) are printed, so figures taken under load say so.
Goals (issue 15): >= 95% within ±10% in every band for every CPU runtime, build <= 5 min on 2 cores
(XNNPACK <= 15 min), >= 10,000 specs/s.

Final (quiet machine) run:
    .venv/bin/python benchmarks/bench_latency.py --runtimes eager onnxruntime xnnpack --out-dir bench_latency_out
Quick check on a busy machine (fewer archs):
    .venv/bin/python benchmarks/bench_latency.py --archs 12 --calibrate 8 --out-dir /tmp/bench_latency
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from mixsearch.latency import Settings, build_table, load_table, make_runtime, scatter_plot, validate_table
from mixsearch.latency.measure import measure_archs
from mixsearch.latency.runtimes import default_clock
from mixsearch.search_space.arch_io import load_preset, write_atomic
from mixsearch.search_space.cost import count_flops

PRESETS = ("mixnet_s", "mobilenet_v2", "efficientnet_b0")
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
    runtime = make_runtime(name, args.threads, args.clock or default_clock(name, args.threads))
    settings = Settings(warmup=args.warmup, runs=args.runs, group=args.group)
    stem = f"{space.name}_{name}_{granularity}_t{args.threads}"
    path = out_dir / f"{stem}.json"
    path.unlink(missing_ok=True)  # the build time is of a full table from scratch
    start = time.perf_counter()
    calibrate = args.calibrate if args.calibrate is not None else (16 if name == "xnnpack" else 48)
    table = build_table(space, runtime, path, space_source=args.space, settings=settings, granularity=granularity,
                        calibration_archs=calibrate, seed=0, progress=not args.quiet)
    build_s = time.perf_counter() - start
    validation = validate_table(table, space, runtime, args.archs, seed=args.seed, settings=settings,
                                progress=not args.quiet)
    presets = [t.stats.ms for t in measure_archs([load_preset(p) for p in PRESETS], runtime, 1, settings)]
    runtime.close()
    scatter_plot(validation, out_dir / f"{stem}.png", f"{name}, {args.threads} thread(s), {granularity}, {space.name}")
    summary = validation.summary()
    scale, offset = (table.calibration["scale"], table.calibration["offset_ms"]) if table.calibration else (1.0, 0.0)
    raw = (np.asarray(validation.predicted_ms) - offset) / scale
    raw_errors = np.abs(raw / np.asarray(validation.measured_ms) - 1)
    return {"runtime": name, "granularity": granularity, "entries": len(table.entries), "build_s": round(build_s, 1),
            "calibration": table.calibration, **{k: v for k, v in summary.items()},
            "raw_median_abs_error": float(np.median(raw_errors)),
            "raw_within_10pct": float(np.mean(raw_errors <= 0.10)),
            **predictor_throughput(path, space), "clock": runtime.clock, "presets_ms": dict(zip(PRESETS, presets)),
            "points": {"predicted_ms": validation.predicted_ms, "measured_ms": validation.measured_ms,
                       "flops": validation.flops, "loads": validation.loads}}


def print_presets(results: list[dict]) -> None:
    names = [r["runtime"] for r in results]
    print("\nnetwork (224x224, batch 1) | MAdds | " + " | ".join(f"{n} ms" for n in names)
          + ("| xnnpack / " + " | xnnpack / ".join(n for n in names if n != "xnnpack") if "xnnpack" in names else ""))
    for preset in PRESETS:
        ms = {r["runtime"]: r["presets_ms"][preset] for r in results}
        ratios = [f"{ms['xnnpack'] / ms[n]:.2f}" for n in names if n != "xnnpack"] if "xnnpack" in ms else []
        print(f"{preset} | {count_flops(load_preset(preset)) / 1e6:.0f}M | "
              + " | ".join(f"{ms[n]:.2f}" for n in names) + (" | " + " | ".join(ratios) if ratios else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="default")
    parser.add_argument("--runtimes", nargs="+", default=["eager", "onnxruntime"])
    parser.add_argument("--granularities", nargs="+", default=["op"], choices=("op", "layer"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default=None,
                        help="default: cpu with one thread, wall otherwise (runtimes.default_clock)")
    parser.add_argument("--archs", type=int, default=100)
    parser.add_argument("--calibrate", type=int, default=None, help="default: 48 (xnnpack 16)")
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
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for name, granularity in [(n, g) for n in args.runtimes for g in args.granularities]:
        result = bench_runtime(name, granularity, args, space, out_dir)
        results.append(result)
        print(f"{name} {granularity} ({result['clock']} clock): {result['entries']} entries built in "
              f"{result['build_s']:.0f} s | {result['archs']} archs: median |err| {result['median_abs_error']:.1%} "
              f"(raw {result['raw_median_abs_error']:.1%}), within ±5% {result['within_5pct']:.0%}, "
              f"within ±10% {result['within_10pct']:.0%} (raw {result['raw_within_10pct']:.0%}) | "
              f"predict {result['specs_per_s_cold']:,.0f} specs/s cold, {result['specs_per_s_warm']:,.0f} warm | "
              f"reference load {result['load']:.2f} (at the calibration's load: within ±10% "
              f"{result['at_build_load']['within_10pct']:.0%}), load average {os.getloadavg()[0]:.1f}", flush=True)
        for band, figures in result["bands"].items():
            if figures["archs"]:
                print(f"    {band:>9}: {figures['archs']:>3} archs, median |err| {figures['median_abs_error']:.1%}, "
                      f"within ±10% {figures['within_10pct']:.0%}, median error {figures['median_error']:+.1%}",
                      flush=True)
    print_presets(results)
    write_atomic(out_dir / "bench_latency.json", json.dumps({"args": vars(args), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
