"""The found architecture against MixNet-S, MobileNetV2, EfficientNet-B0 and random archs of the
same space and FLOPs band, trained for real under one recipe and the same seeds (issue 13).

Data: CIFAR-10's 50,000 training images (an ImageFolder), a fixed stratified split: 5,000 held out
as the test sample (test_fraction 0.1, split seed 0) on which only the final accuracy is measured;
validation images and the (optionally capped) training sample come from the other 45,000. Every
arch is trained at 32 px, stem stride 1 (fulltrain/shape.py), by `mixsearch.controller.compare`.

Rows (one per arch and seed) are appended to a JSONL file as trainings finish, so a stopped bench
resumes (half-done trainings resume from their checkpoints in --work) and `--table` re-tabulates.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_found_vs_baselines.py --train-size 4000 --val-size 1000 \
        --epochs 5 --batch-size 64 --lr 0.05 --seeds 0 1 --rows benchmarks/rows/found_vs_baselines_cpu.jsonl
    .venv/bin/python benchmarks/bench_found_vs_baselines.py --rows benchmarks/rows/found_vs_baselines_cpu.jsonl \
        --table --train-size 4000 --epochs 5 --batch-size 64 --lr 0.05    # the table again from the rows
    # a GPU machine, the full 32x32 setting: all 44,000 other training images, 30 epochs, 3 seeds
    .venv/bin/python benchmarks/bench_found_vs_baselines.py --device cuda --epochs 30 --seeds 0 1 2 \
        --rows benchmarks/rows/found_vs_baselines_gpu.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from mixsearch.controller.compare import comparison_entries, format_table, summarise, train_one, verdict, write_outputs
from mixsearch.evaluator.fulltrain import TrainRecipe
from mixsearch.latency import load_table
from mixsearch.search_space import default_space

HERE = Path(__file__).resolve().parent
FOUND = HERE / "found_soft_300m_cifar10mini.yaml"
CIFAR10 = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10" / "train"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--found", default=str(FOUND))
    parser.add_argument("--dataset", default=str(CIFAR10))
    parser.add_argument("--train-size", type=int, help="training images drawn from the 45,000 (default: all but val)")
    parser.add_argument("--val-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--width", type=float, default=1.0, help="scale of every arch's own width")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate at --batch-size")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--random", type=int, default=3, help="random archs in the found arch's FLOPs band")
    parser.add_argument("--only", nargs="*", help="train only these labels (e.g. to time one)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rows", required=True, help="JSONL of finished rows (appended; read back to resume)")
    parser.add_argument("--work", default="/tmp/bench_found_vs_baselines", help="training folders (checkpoints)")
    parser.add_argument("--table", action="store_true", help="only tabulate the rows file")
    parser.add_argument("--latency-table", help="a latency table JSON: predicted latency of the archs it covers")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    recipe = TrainRecipe(dataset=args.dataset, epochs=args.epochs, width_mult=args.width, batch_size=args.batch_size,
                         lr=args.lr, train_size=args.train_size, val_size=args.val_size, device=args.device, threads=1)
    entries = comparison_entries([args.found], random_count=args.random, space=default_space(), seed=0)
    rows_path = Path(args.rows)
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()] if rows_path.exists() else []
    if not args.table:
        done = {(r["label"], r["seed"]) for r in rows}
        work = Path(args.work) / rows_path.stem
        # Seed-major: a bench stopped early still has every arch under the first seed(s).
        for seed in args.seeds:
            for entry in entries:
                if (entry.label, seed) in done or (args.only and entry.label not in args.only):
                    continue
                started = time.monotonic()
                row = train_one(entry, seed, recipe, work)
                row.update(wall_seconds=time.monotonic() - started, load_average=os.getloadavg()[0])
                rows.append(row)
                with rows_path.open("a") as f:  # one line per finished training: a crash loses no row
                    f.write(json.dumps(row) + "\n")
                print(f"{entry.label} seed {seed}: test {row['test_accuracy']:.4f} val {row['val_accuracy']:.4f} "
                      f"{row['train_seconds']:.0f} s train, load {row['load_average']:.2f}", flush=True)
    rows = [r for r in rows if r["seed"] in args.seeds]  # a table of the seeds asked for, though more may be done
    kept = [e for e in entries if any(r["label"] == e.label for r in rows)]
    summary = summarise(kept, rows, load_table(args.latency_table).predict if args.latency_table else None)
    first = rows[0] if rows else {}
    print(f"CIFAR-10 {first.get('train_images')} train / {first.get('val_images')} val / {first.get('test_images')} "
          f"test (held out), {first.get('resolution')} px, stem stride {first.get('stem_stride')}, width x{args.width:g}, "
          f"{args.epochs} epochs, seeds {sorted({r['seed'] for r in rows})}, batch {args.batch_size}, lr {args.lr:g}, "
          "one thread; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(format_table(summary))
    print(verdict(summary))
    for entry in kept:
        mine = [r for r in rows if r["label"] == entry.label]
        print(f"{entry.label}: {sum(r['train_seconds'] for r in mine) / len(mine):.0f} s a training (wall, one thread), "
              f"load average {min(r['load_average'] for r in mine):.1f}-{max(r['load_average'] for r in mine):.1f}")
    if kept:
        figures = HERE / "figures" / rows_path.stem
        figures.mkdir(parents=True, exist_ok=True)
        print(f"wrote {', '.join(str(p) for p in write_outputs(figures, summary).values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
