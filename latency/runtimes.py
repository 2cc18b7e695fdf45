"""The runtimes a table can be measured on, behind one small interface.

A runtime turns (module, example inputs) into a zero-argument callable that runs one inference,
and times such callables round-robin; `time_entries` times a group of table entries (by default
each prepared alone). eager = PyTorch on the CPU, onnxruntime = the module exported with torch.onnx
and run by an ONNX Runtime CPU session, xnnpack = ExecuTorch's XNNPACK delegate (latency/xnnpack.py,
an optional extra), cuda = PyTorch on a GPU timed with CUDA events.
"""
from __future__ import annotations

import io
import os
import time
import warnings
from typing import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

from .errors import LatencyTableError
from .table import MAX_THREADS

RUNTIMES = ("eager", "onnxruntime", "xnnpack", "cuda")
CLOCKS = ("wall", "cpu")
ONNX_OPSET = 17


Made = tuple[nn.Module, tuple[torch.Tensor, ...]]  # a module and its example inputs


class Runtime:
    name = ""
    # Entries timed round-robin in groups of this size (latency/measure.py); chosen per runtime by
    # measured prediction error: eager 20 (a hot loop flatters a module), ORT 1 (cycling through
    # many sessions penalises each: sums came out ~40% above the end-to-end time).
    default_group = 1
    # Untimed and timed runs of each entry or network (the median is kept).
    default_warmup = 3
    default_runs = 15
    # Whether each entry pays a per-call cost that a network pays once (measure.py subtracts it).
    per_call_overhead = False
    # How an entry's time is counted, where a runtime has changed it (metadata.entry_timing): a
    # table resumes or serves from the cache only with entries counted the same way.
    entry_timing = ""

    def __init__(self, threads: int, clock: str = "wall"):
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
            raise LatencyTableError(f"--threads: got {threads!r}, expected an integer in [1, {MAX_THREADS}]")
        if clock not in CLOCKS:
            raise LatencyTableError(f"--clock: got {clock!r}, allowed: {', '.join(CLOCKS)}")
        if clock == "cpu" and threads != 1:
            raise LatencyTableError(f"--clock cpu: needs --threads 1 (got {threads}); the CPU time of the "
                                    "calling thread is the latency only when it does all the work")
        self.threads = threads
        self.clock = clock
        # "cpu": CPU time of the calling thread, which all work runs on with one thread (torch
        # and ORT both). Unlike wall time it does not count the time the OS gives to other
        # processes, so a table can be measured on a shared machine; cache contention remains.
        self.now_ns = time.thread_time_ns if clock == "cpu" else time.perf_counter_ns

    def version(self) -> str:
        raise NotImplementedError

    def device(self) -> str:
        from .device_info import cpu_model

        return cpu_model()

    def prepare(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> Callable[[], object]:
        raise NotImplementedError

    def time_ms(self, run: Callable[[], object], warmup: int, runs: int) -> list[float]:
        """Wall time of each of `runs` calls after `warmup` untimed ones, in milliseconds."""
        for _ in range(warmup):
            run()
        samples = []
        for _ in range(runs):
            start = self.now_ns()
            run()
            samples.append((self.now_ns() - start) / 1e6)
        return samples

    def round_robin(self, runs: Sequence[Callable[[], object]], warmup: int, count: int) -> list[list[float]]:
        """Samples (ms) of each callable, timed in rounds that call every one of them once."""
        samples: list[list[float]] = [[] for _ in runs]
        for round_index in range(warmup + count):
            for run, timings in zip(runs, samples):
                start = self.now_ns()
                run()
                if round_index >= warmup:
                    timings.append((self.now_ns() - start) / 1e6)
        return samples

    def prepare_many(self, made: Sequence[Made]) -> list[Callable[[], object]]:
        return [self.prepare(module, inputs) for module, inputs in made]

    def time_entries(self, made: Sequence[Made], warmup: int, runs: int) -> list[list[float]]:
        """Samples (ms) of each of a group of table entries."""
        return self.round_robin(self.prepare_many(made), warmup, runs)

    def time_entry_groups(self, groups: Iterable[Sequence[Made]], warmup: int, runs: int, reference: Made
                          ) -> Iterator[list[list[float]]]:
        """Samples of each group's entries, then of the reference timed right after the group."""
        prepared = self.prepare(*reference)
        for made in groups:
            yield self.time_entries(made, warmup, runs) + self.round_robin([prepared], warmup, runs)

    def close(self) -> None:
        """Release what the runtime holds beyond the process (worker processes)."""


class EagerRuntime(Runtime):
    name = "eager"
    default_group = 20

    def __init__(self, threads: int, clock: str = "wall"):
        super().__init__(threads, clock)
        torch.set_num_threads(threads)

    def version(self) -> str:
        return f"torch {torch.__version__}"

    def prepare(self, module, inputs):
        module = module.eval()

        def run():
            with torch.inference_mode():
                return module(*inputs)
        return run


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    # Every entry is a session.run (bindings, feeds, output allocation), a network one: summed over
    # a network's dozens of op entries, a visible share of a small network (benchmarks/README.md).
    per_call_overhead = True
    entry_timing = "without-edge-reorders"  # latency/ort_layout.py

    def __init__(self, threads: int, clock: str = "wall"):
        super().__init__(threads, clock)
        import onnxruntime  # local: only this runtime needs it

        self.ort = onnxruntime
        torch.set_num_threads(threads)  # the exporter's tracing runs in torch

    def version(self) -> str:
        return f"onnxruntime {self.ort.__version__} (torch.onnx {torch.__version__}, opset {ONNX_OPSET})"

    def session(self, model_bytes: bytes, profile_prefix: str | None = None):
        options = self.ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if profile_prefix:
            options.enable_profiling = True
            options.profile_file_prefix = profile_prefix
        return self.ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])

    def export(self, module, inputs) -> tuple[bytes, dict]:
        """The module as ONNX bytes, and its feeds."""
        module = module.eval()
        names = [f"input{i}" for i in range(len(inputs))]
        buffer = io.BytesIO()
        # The TorchScript exporter (dynamo=False): 0.1 s per block here against 1.6 s for the
        # dynamo exporter, with the same ONNX graph for these conv/BN/act modules.
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=ONNX_OPSET,
                              input_names=names, do_constant_folding=True)
        return buffer.getvalue(), {name: x.numpy() for name, x in zip(names, inputs)}

    def prepare(self, module, inputs):
        model, feeds = self.export(module, inputs)
        session = self.session(model)
        return lambda: session.run(None, feeds)

    def time_entries(self, made, warmup, runs):
        """Samples of each entry, less the layout reorders on its own inputs and outputs that a
        network does not make (latency/ort_layout.py), from a profiled session of the entry."""
        from .ort_layout import profiled_shift_ms

        exported = [self.export(module, inputs) for module, inputs in made]
        sessions = [(self.session(model), feeds) for model, feeds in exported]
        calls = [lambda session=session, feeds=feeds: session.run(None, feeds) for session, feeds in sessions]
        samples = self.round_robin(calls, warmup, runs)
        shifted = []
        for (model, feeds), call, timings in zip(exported, calls, samples):
            outputs = [tuple(output.shape) for output in call()]
            shift = profiled_shift_ms(lambda prefix, model=model: self.session(model, prefix), feeds, outputs,
                                      warmup, max(3, runs // 3))
            shifted.append([max(0.0, ms + shift) for ms in timings])
        return shifted


class CudaRuntime(Runtime):
    name = "cuda"
    # Measured on an H200 (default space, batch 1, 100 networks of 3-10 ms): warm-up 3 / 15 runs
    # left 74% of the predictions within +-10% (the GPU's clocks still rising, a launch-bound
    # host); 10 / 31 gave 93%, median |error| 4.2%.
    default_warmup = 10
    default_runs = 31

    def __init__(self, threads: int, clock: str = "wall"):
        if clock != "wall":
            raise LatencyTableError("--clock cpu: the cuda runtime times kernels with CUDA events; use --clock wall")
        super().__init__(threads, clock)
        if not torch.cuda.is_available():
            raise LatencyTableError("--runtime cuda: no CUDA device is visible to torch "
                                    f"(torch {torch.__version__}); use --runtime eager or onnxruntime, "
                                    "or run on a machine with a GPU and a CUDA build of torch")
        torch.set_num_threads(threads)

    def version(self) -> str:
        return f"torch {torch.__version__} (CUDA {torch.version.cuda})"

    def device(self) -> str:
        return torch.cuda.get_device_name(0)

    def prepare(self, module, inputs):
        module = module.eval().cuda()
        inputs = tuple(x.cuda() for x in inputs)

        def run():
            with torch.inference_mode():
                return module(*inputs)
        return run

    def round_robin(self, runs, warmup, count):
        # CUDA events need their own synchronised loop per callable.
        return [self.time_ms(run, warmup, count) for run in runs]

    def time_ms(self, run, warmup, runs):
        # CUDA events time the kernels on the stream, not the host's launch loop.
        for _ in range(warmup):
            run()
        torch.cuda.synchronize()
        samples = []
        for _ in range(runs):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
        return samples


class XnnpackRuntime(Runtime):
    name = "xnnpack"
    entry_timing = "etdump-without-edge-transposes"  # xnnpack.entry_times_ms
    # Entries lowered into one program: lowering costs seconds of fixed work per export plus a
    # share per op that grows with the program (32 entries cost more per entry than 8).
    default_group = 12

    def __init__(self, threads: int, clock: str = "wall", jobs: int | None = None):
        super().__init__(threads, clock)
        from . import xnnpack

        self.xnnpack = xnnpack
        self.et = xnnpack.load_executorch()
        got = xnnpack.set_threads(self.et, threads)
        if got != threads:
            raise LatencyTableError(f"--threads {threads}: the ExecuTorch threadpool reports {got} threads")
        torch.set_num_threads(threads)  # torch.export traces in torch
        self.jobs = max(1, min(2, os.cpu_count() or 1)) if jobs is None else jobs
        self._pool = None

    def version(self) -> str:
        return f"executorch {self.et['version']} (XNNPACK delegate; torch.export {torch.__version__})"

    def pool(self):
        """Worker processes that lower programs (CPU-bound Python) while nothing is being timed."""
        if self._pool is None and self.jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.jobs, multiprocessing.get_context("spawn"),
                                             initializer=torch.set_num_threads, initargs=(1,))
        return self._pool

    def _map(self, function, items: Sequence) -> list:
        pool = self.pool()
        return list(pool.map(function, items)) if pool else [function(item) for item in items]

    def prepare(self, module, inputs):
        return self.xnnpack.prepare(self.et, module, inputs)

    def prepare_many(self, made):
        # Lowered in the workers, loaded and timed here one after another, so no timing shares
        # the cores with a lowering.
        buffers = self._map(self.xnnpack.lower_network, list(made))
        return [self.xnnpack.load_program(self.et, buffer, inputs) for buffer, (_, inputs) in zip(buffers, made)]

    def time_entries(self, made, warmup, runs):
        buffer, owners = self.xnnpack.lower_group(made)
        inputs = tuple(x for _, entry_inputs in made for x in entry_inputs)
        return self.xnnpack.time_group(self.et, buffer, owners, inputs, len(made), warmup, runs, self.now_ns)

    def time_entry_groups(self, groups, warmup, runs, reference):
        # The reference is one more entry of every group's program: timed inside the same passes.
        groups = (list(made) + [reference] for made in groups)
        while True:
            batch = [made for _, made in zip(range(self.jobs), groups)]
            if not batch:
                return
            for made, (buffer, owners) in zip(batch, self._map(self.xnnpack.lower_group, batch)):
                inputs = tuple(x for _, entry_inputs in made for x in entry_inputs)
                yield self.xnnpack.time_group(self.et, buffer, owners, inputs, len(made), warmup, runs, self.now_ns)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def default_clock(runtime: str, threads: int) -> str:
    """CPU time where it is the latency (one thread does all the work), so that a table built on a
    machine shared with other jobs is not inflated by them; wall time otherwise."""
    return "cpu" if threads == 1 and runtime != "cuda" else "wall"


def make_runtime(name: str, threads: int = 1, clock: str = "wall", jobs: int | None = None) -> Runtime:
    classes = {"eager": EagerRuntime, "onnxruntime": OnnxRuntime, "xnnpack": XnnpackRuntime, "cuda": CudaRuntime}
    if name not in classes:
        raise LatencyTableError(f"--runtime: got {name!r}, allowed: {', '.join(RUNTIMES)}")
    if name == "xnnpack":
        return XnnpackRuntime(threads, clock, jobs)
    return classes[name](threads, clock)
