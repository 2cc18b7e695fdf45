"""The runtimes a table can be measured on, behind one small interface.

A runtime turns (module, example inputs) into a zero-argument callable that runs one inference,
and times such a callable. eager = PyTorch on the CPU, onnxruntime = the module exported with
torch.onnx and run by an ONNX Runtime CPU session, cuda = PyTorch on a GPU timed with CUDA events.
"""
from __future__ import annotations

import io
import time
import warnings
from typing import Callable

import torch
from torch import nn

from .errors import LatencyTableError
from .table import MAX_THREADS

RUNTIMES = ("eager", "onnxruntime", "cuda")
CLOCKS = ("wall", "cpu")
ONNX_OPSET = 17


class Runtime:
    name = ""
    # Entries timed round-robin in groups of this size (latency/measure.py); chosen per runtime by
    # measured prediction error: eager 20 (a hot loop flatters a module), ORT 1 (cycling through
    # many sessions penalises each: sums came out ~40% above the end-to-end time).
    default_group = 1
    # Untimed and timed runs of each entry or network (the median is kept).
    default_warmup = 3
    default_runs = 15

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

    def __init__(self, threads: int, clock: str = "wall"):
        super().__init__(threads, clock)
        import onnxruntime  # local: only this runtime needs it

        self.ort = onnxruntime
        torch.set_num_threads(threads)  # the exporter's tracing runs in torch

    def version(self) -> str:
        return f"onnxruntime {self.ort.__version__} (torch.onnx {torch.__version__}, opset {ONNX_OPSET})"

    def session(self, model_bytes: bytes):
        options = self.ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return self.ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])

    def prepare(self, module, inputs):
        module = module.eval()
        names = [f"input{i}" for i in range(len(inputs))]
        buffer = io.BytesIO()
        # The TorchScript exporter (dynamo=False): 0.1 s per block here against 1.6 s for the
        # dynamo exporter, with the same ONNX graph for these conv/BN/act modules.
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=ONNX_OPSET,
                              input_names=names, do_constant_folding=True)
        session = self.session(buffer.getvalue())
        feeds = {name: x.numpy() for name, x in zip(names, inputs)}
        return lambda: session.run(None, feeds)


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


def make_runtime(name: str, threads: int = 1, clock: str = "wall") -> Runtime:
    classes = {"eager": EagerRuntime, "onnxruntime": OnnxRuntime, "cuda": CudaRuntime}
    if name not in classes:
        raise LatencyTableError(f"--runtime: got {name!r}, allowed: {', '.join(RUNTIMES)}")
    return classes[name](threads, clock)
