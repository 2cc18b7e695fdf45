"""How long a dataset takes to be ready for a proxy: cold (decoded into an empty cache), cached (a
new process's first load), and without the cache (only the sampled images decoded), each in a
fresh process so nothing is served from memory (issue 12).

    .venv/bin/python benchmarks/bench_data.py ../shared/data/cifar10/train --resolution 32
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import json, resource, sys, time
from mixsearch.evaluator import load_split
args = json.loads(sys.argv[1])
start = time.perf_counter()
data = load_split(args["dataset"], args["resolution"], val_fraction=0.4, test_fraction=0.1, val_size=2000,
                  train_size=4000, use_cache=args["cache"])
print(json.dumps({"seconds": time.perf_counter() - start, "train": len(data.train_y), "val": len(data.val_y),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load(dataset: str, resolution: int, cache: bool, cache_dir: str) -> dict:
    env = {**os.environ, "MIXSEARCH_CACHE": cache_dir}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps({"dataset": dataset, "resolution": resolution,
                                                                  "cache": cache})],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--resolution", type=int, default=32)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache_dir:
        rows = [("cold (decode all into the cache)", load(args.dataset, args.resolution, True, cache_dir)),
                ("cached (a new process)", load(args.dataset, args.resolution, True, cache_dir)),
                ("no cache (decode the sample only)", load(args.dataset, args.resolution, False, cache_dir))]
    print(f"{args.dataset} at {args.resolution}px; sample 4,000 train / 2,000 val; {os.cpu_count()} cores")
    print("| load | seconds | peak RSS (MB, with torch) |")
    print("|---|---|---|")
    for label, row in rows:
        print(f"| {label} | {row['seconds']:.2f} | {row['max_rss_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
