"""Cost counting and MixConv speed, measured on this machine.

    .venv/bin/python benchmarks/bench_cost.py            # full run (~1-2 min on one core)
    .venv/bin/python benchmarks/bench_cost.py --quick    # fewer specs and repeats

1. Analytic multiply-adds + params (`count_flops`, `count_params`: pure functions of the spec)
   against fvcore's FlopCountAnalysis on the built model, in specs per second on one core, for
   fresh specs sampled from the default search space at 224x224. "cold" clears the per-row and
   per-layer caches first; "warm" is a search's steady state: other specs already met the layers.
2. MixConv forward+backward, batch 32, 56x56, 96 channels: the naive split/conv/cat path against
   the fused path (one depthwise conv, kernels zero-padded to the largest), ratio from the same run.
   Why models are built with the split path (`MixConv(impl="split")`, the default).
Times are CPU seconds of this process (time.process_time, one torch thread by default), so a
machine shared with other jobs disturbs them less than wall-clock time would.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import time
import warnings

import numpy as np
import torch

from mixsearch.search_space import MixConv, build_model, count_flops, count_params
from mixsearch.search_space import cost, layers
from mixsearch.search_space.space import default_space


def clear_caches() -> None:
    layers._cached_block_layers.cache_clear()
    cost._layer_cost.cache_clear()
    cost._row_cost.cache_clear()
    cost._arch_cost.cache_clear()


def analytic_specs_per_s(specs: list) -> float:
    start = time.process_time()
    for arch in specs:
        count_flops(arch)
        count_params(arch)
    return len(specs) / (time.process_time() - start)


def fvcore_specs_per_s(specs: list) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis
        start = time.process_time()
        for arch in specs:
            model = build_model(arch).eval()
            analysis = FlopCountAnalysis(model, torch.zeros(1, 3, arch.resolution, arch.resolution))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            analysis.total()
            sum(p.numel() for p in model.parameters())
        return len(specs) / (time.process_time() - start)


def mixconv_ms(kernels: tuple[int, ...], impl: str, repeats: int, batch: int = 32, size: int = 56,
               channels: int = 96, device: str = "cpu", backward: bool = True) -> float:
    """Median milliseconds of one forward (+backward): CPU time of this process on the CPU, CUDA
    event time of the kernels on a GPU."""
    torch.manual_seed(0)
    conv = MixConv(channels, kernels, impl=impl).to(device)
    x = torch.randn(batch, channels, size, size, device=device, requires_grad=backward)
    times = []
    for i in range(repeats + 1):  # the first run warms up the allocator and kernels
        if device == "cuda":
            start_event, end_event = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start_event.record()
        start = time.process_time()
        if backward:
            conv(x).sum().backward()
        else:
            with torch.no_grad():
                conv(x)
        if device == "cuda":
            end_event.record()
            torch.cuda.synchronize()
            elapsed = start_event.elapsed_time(end_event)
        else:
            elapsed = (time.process_time() - start) * 1e3
        if i:
            times.append(elapsed)
        x.grad = None
        conv.zero_grad(set_to_none=True)
    return statistics.median(times)


def mixconv_table(device: str, repeats: int) -> None:
    cases = [(32, 56, True)] if device == "cpu" else [(32, 56, True), (1, 56, False), (1, 14, False)]
    for batch, size, backward in cases:
        what = "forward+backward" if backward else "forward"
        print(f"\nMixConv {what}, batch {batch}, {size}x{size}, 96 channels, {device} "
              f"(median of {repeats}, {'CPU' if device == 'cpu' else 'CUDA event'} ms)")
        print(f"{'kernels':14s} {'split':>9s} {'fused':>9s} {'fused/split':>12s}")
        for kernels in ((3, 5, 7, 9), (3, 5), (3, 5, 7, 9, 11), (3,)):
            split = mixconv_ms(kernels, "split", repeats, batch, size, 96, device, backward)
            fused = split  # one kernel: the same path either way
            if len(kernels) > 1:
                fused = mixconv_ms(kernels, "fused", repeats, batch, size, 96, device, backward)
            print(f"{'.'.join(map(str, kernels)):14s} {split:9.3f} {fused:9.3f} {fused / split:12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer specs and repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: one core)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where MixConv is timed; cuda times only MixConv (the cost part is device-free)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_specs, n_fvcore, repeats = (2000, 3, 3) if args.quick else (10000, 10, 5)
    if args.device == "cuda":
        mixconv_table("cuda", repeats=repeats * 10)
        return

    space = default_space()
    rng = np.random.default_rng(0)
    warm_up, specs, fresh = ([space.sample(rng) for _ in range(n_specs)] for _ in range(3))
    # The 30,000 specs held here would make every full garbage collection rescan them; a search
    # holds a few at a time. Freezing what exists now keeps the timing about the cost functions.
    gc.collect()
    gc.freeze()
    clear_caches()
    cold = analytic_specs_per_s(specs)
    clear_caches()
    analytic_specs_per_s(warm_up)
    warm = analytic_specs_per_s(fresh)  # specs never seen, rows and layers mostly seen
    fv = fvcore_specs_per_s(specs[:n_fvcore])

    print(f"Cost of {space.name} specs at {space.resolution}x{space.resolution}, torch threads {args.threads}")
    print(f"{'method':44s} {'specs/s':>10s} {'vs fvcore':>10s}")
    print(f"{'analytic flops+params, cold caches':44s} {cold:10.0f} {cold / fv:9.0f}x")
    print(f"{'analytic flops+params, warm layer caches':44s} {warm:10.0f} {warm / fv:9.0f}x")
    print(f"{'fvcore FlopCountAnalysis + numel (built)':44s} {fv:10.2f} {1:9.0f}x")
    mixconv_table("cpu", repeats)


if __name__ == "__main__":
    main()
