"""The supernet's mechanics, timed: subnet extraction and the dynamic forward, against building the
proxy model the ordinary way and running it, on the same sampled architectures in the same run.

    .venv/bin/python benchmarks/bench_supernet_speed.py             # 20 archs of the default space
    .venv/bin/python benchmarks/bench_supernet_speed.py --archs 5   # quicker

Default space, proxy shape 32 px, 10 classes, width x0.5 (stem stride 1), batch 64, one thread,
channels-last input as the proxy trains. Rows (median ms over the archs):
- build_model(proxy arch): the baseline a scorer without a supernet pays to get a model;
- subnet(arch): build_model plus copying the inherited weights in (what scoring pays per candidate);
- forward, forward+backward in training mode: the supernet's dynamic forward (what supernet
  training pays per sampled candidate) against the extracted subnet's own forward.
Times are CPU seconds of this process (time.process_time), less disturbed by other jobs than wall time.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from mixsearch.evaluator.proxy_shape import ProxyShape
from mixsearch.evaluator.supernet import SuperNet
from mixsearch.search_space import build_model, default_space


def cpu_ms(step, repeats: int) -> float:
    """Median CPU milliseconds of `step()` over `repeats` calls, after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        step()
        times.append(1000 * (time.process_time() - start))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per arch and row")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    space = default_space()
    shape = ProxyShape(resolution=args.resolution, num_classes=10, in_chans=3, width_mult=0.5)
    supernet = SuperNet(space, shape).train()
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(args.archs)]
    x = torch.randn(args.batch, 3, args.resolution, args.resolution).contiguous(memory_format=torch.channels_last)

    def backward(logits: torch.Tensor) -> None:
        logits.square().mean().backward()

    rows: dict[str, list[float]] = {name: [] for name in (
        "build_model(proxy arch)", "subnet(arch)", "forward: subnet", "forward: supernet(x, arch)",
        "forward+backward: subnet", "forward+backward: supernet(x, arch)")}
    for arch in archs:
        subnet = supernet.subnet(arch).to(memory_format=torch.channels_last)
        rows["build_model(proxy arch)"].append(cpu_ms(lambda: build_model(shape.apply(arch)), args.repeats))
        rows["subnet(arch)"].append(cpu_ms(lambda: supernet.subnet(arch), args.repeats))
        with torch.no_grad():
            rows["forward: subnet"].append(cpu_ms(lambda: subnet(x), args.repeats))
            rows["forward: supernet(x, arch)"].append(cpu_ms(lambda: supernet(x, arch), args.repeats))
        rows["forward+backward: subnet"].append(cpu_ms(lambda: backward(subnet(x)), args.repeats))
        rows["forward+backward: supernet(x, arch)"].append(cpu_ms(lambda: backward(supernet(x, arch)), args.repeats))
    medians = {name: statistics.median(values) for name, values in rows.items()}
    baselines = {"subnet(arch)": "build_model(proxy arch)", "forward: supernet(x, arch)": "forward: subnet",
                 "forward+backward: supernet(x, arch)": "forward+backward: subnet"}
    print(f"default space, {args.resolution} px, width x0.5, batch {args.batch}, {args.threads} thread(s), "
          f"{args.archs} archs, median CPU ms")
    print("| step | ms | vs baseline |")
    print("|---|---|---|")
    for name, value in medians.items():
        ratio = f"{value / medians[baselines[name]]:.2f}x {baselines[name]}" if name in baselines else "baseline"
        print(f"| {name} | {value:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
