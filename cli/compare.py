"""`mixsearch compare ARCH... --dataset D`: train the found arch, the baseline presets and random
archs of the same FLOPs band under one recipe and the same seeds; print the table, write
OUT/summary.json, table.md and accuracy_vs_flops.png. Resumes: finished trainings are reused,
half-done ones continue from their checkpoints."""
from __future__ import annotations

import argparse
from pathlib import Path

from mixsearch.controller.compare import (BASELINES, comparison_entries, format_table, run_compare, summarise,
                                          verdict, write_outputs)
from mixsearch.search_space import load_space

from .train import add_recipe_arguments, recipe_from_args
from .values import check_seed


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="train found vs baseline vs random archs; print the table",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("archs", nargs="+", help="the found arch first (run folder, YAML or preset), then any others")
    p.add_argument("--out", default="compare", help="folder of the trainings and the table (default: compare)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default 0 1 2)")
    p.add_argument("--baselines", nargs="*", default=list(BASELINES),
                   help=f"presets trained beside (default: {' '.join(BASELINES)}; none: --baselines)")
    p.add_argument("--random", type=int, default=3, help="random archs of --space in the found arch's FLOPs band "
                                                         "(0.9-1.0 x its FLOPs; default 3)")
    p.add_argument("--random-seed", type=int, default=0)
    p.add_argument("--space", default="default", help="search space of the random archs (name or YAML)")
    p.add_argument("--latency-table", help="latency table JSON: adds predicted latency to the table")
    p.add_argument("--ray", action="store_true", help="one Ray task per training on a private local Ray")
    p.add_argument("--ray-address", help="HOST:PORT of a running Ray cluster (one task per training)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the private local Ray")
    p.add_argument("--no-progress", action="store_true")
    add_recipe_arguments(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    seeds = [check_seed("--seeds", s) for s in args.seeds]
    recipe = recipe_from_args(args)
    latency = None
    if args.latency_table:
        from mixsearch.latency import load_table

        latency = load_table(args.latency_table).predict
    space = load_space(args.space) if args.random else None
    entries = comparison_entries(args.archs, args.baselines, args.random, space, check_seed("--random-seed",
                                                                                            args.random_seed))
    out = Path(args.out)
    print(f"comparing {len(entries)} archs x {len(seeds)} seed(s) on {recipe.dataset}, {recipe.epochs} epochs -> {out}",
          flush=True)
    rows = run_compare(entries, recipe, seeds, out, ray_address=args.ray_address, use_ray=args.ray,
                       num_cpus=args.num_cpus, progress=not args.no_progress,
                       report=lambda r: print(f"{r['label']} seed {r['seed']}: {_accuracy(r)}", flush=True))
    summary = summarise(entries, rows, latency)
    print(format_table(summary))
    line = verdict(summary)
    if line:
        print(line)
    paths = write_outputs(out, summary)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _accuracy(row: dict) -> str:
    if row["test_accuracy"] is None:
        return f"no test sample (test_fraction 0); val accuracy {100 * row['val_accuracy']:.2f}%"
    return f"test accuracy {100 * row['test_accuracy']:.2f}%"
