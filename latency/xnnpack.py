"""ExecuTorch with its XNNPACK delegate: the CPU kernels a phone runs (TFLite's are XNNPACK too).

The one module that touches executorch (an optional extra: `pip install mixsearch[xnnpack]`).
A network is lowered as a user deploys it: `torch.export` -> `to_edge_transform_and_lower` with the
XNNPACK partitioner -> `.pte` -> `executorch.runtime`; ops XNNPACK does not take (MixConv's
channel split) run as portable CPU kernels between delegate calls, with the layout transposes
around each call that this costs.

Lowering is slow (seconds per op, most of it fixed cost per export), so table entries are lowered
in groups: one program runs a group's entries one after another, each entry partitioned into its
own delegate call (`EntrywisePartitioner`), and the runtime's own event tracer (ETDump) times every
instruction: an entry's time is that of its instructions, as they run inside a forward pass, less
the layout conversions a delegate call makes on the entry's own inputs and outputs that a network,
one delegate call across many entries, does not make (`entry_times_ms`). Without that, op entries
summed to 1.2-1.6x a small network's time (measured: benchmarks/README.md).
"""
from __future__ import annotations

import logging
import operator
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from .errors import LatencyTableError

INSTALL = "pip install 'mixsearch[xnnpack]' (ExecuTorch with its XNNPACK delegate)"
TIMED_EVENTS = ("DELEGATE_CALL", "OPERATOR_CALL")  # one per instruction; the others nest inside
LAYOUT_OPERATOR = "Transpose"  # XNNPACK's NCHW <-> NHWC conversions at a delegate call's edges


def load_executorch():
    """The executorch modules this runtime uses; a missing or unusable package is one clear error."""
    # Import-time chatter of its dependencies (torchao's optional CUDA kernels, a torch pytree
    # deprecation) says nothing about a CPU latency table.
    quiet = [logging.getLogger(name) for name in ("torchao", "torch.utils._pytree")]
    levels = [logger.level for logger in quiet]
    try:
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import executorch
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
            from executorch.devtools.etdump.serialize import deserialize_from_etdump_flatcc
            from executorch.exir import to_edge_transform_and_lower
            from executorch.exir.backend.partitioner import Partitioner, PartitionResult
            from executorch.extension.pybindings import portable_lib
            from executorch.runtime import Runtime
    except ModuleNotFoundError as err:
        raise LatencyTableError(f"--runtime xnnpack: {err.name} is not installed; {INSTALL}") from None
    except (ImportError, OSError) as err:
        # Its compiled runtime links against libtorch: a torch other than the one it was built
        # for fails here (undefined symbols).
        raise LatencyTableError(
            f"--runtime xnnpack: executorch does not load with torch {torch.__version__} "
            f"({str(err).splitlines()[0][:160]}); install the executorch release built for this torch") from None
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
    from importlib.metadata import version

    return {"version": version("executorch"), "XnnpackPartitioner": XnnpackPartitioner,
            "to_edge_transform_and_lower": to_edge_transform_and_lower, "Partitioner": Partitioner,
            "PartitionResult": PartitionResult, "portable_lib": portable_lib, "Runtime": Runtime,
            "deserialize_etdump": deserialize_from_etdump_flatcc, "module": executorch}


def set_threads(et: dict, threads: int) -> int:
    """Resize the runtime's threadpool (it follows neither torch.set_num_threads nor OMP_NUM_THREADS:
    by default it takes one thread per core); returns the count it reports afterwards."""
    lib = et["portable_lib"]
    if lib._threadpool_get_thread_count() != threads:
        lib._unsafe_reset_threadpool(threads)
    return int(lib._threadpool_get_thread_count())


class Group(nn.Module):
    """Runs independent (module, inputs) entries one after another: one program for many entries."""

    def __init__(self, modules: Sequence[nn.Module], arities: Sequence[int]):
        super().__init__()
        self.entries = nn.ModuleList(modules)
        self.arities = tuple(arities)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs, start = [], 0
        for module, arity in zip(self.entries, self.arities):
            outputs.append(module(*inputs[start:start + arity]))
            start += arity
        return tuple(outputs)


def _component_of_inputs(graph, user_inputs: Sequence[str], arities: Sequence[int]) -> dict:
    """Node -> entry index: the entry whose user inputs share a connected piece of the graph with
    the node (entries share no data; undirected, because an out-variant kernel's result flows
    through a buffer node that has no inputs of its own)."""
    parent: dict = {}

    def root(node):
        while parent.setdefault(node, node) is not node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for node in graph.nodes:
        if node.op != "output":
            for source in node.all_input_nodes:
                parent[root(source)] = root(node)
    entry_of_root, start, by_name = {}, 0, {n.name: n for n in graph.nodes if n.op == "placeholder"}
    for index, arity in enumerate(arities):
        for name in user_inputs[start:start + arity]:
            key = root(by_name[name])
            if entry_of_root.setdefault(key, index) != index:
                raise LatencyTableError(f"internal: entries {entry_of_root[key]} and {index} share a graph")
        start += arity
    return {node: entry_of_root[root(node)] for node in graph.nodes
            if node.op != "output" and root(node) in entry_of_root}


def make_entrywise_partitioner(et: dict, arities: Sequence[int]):
    """XNNPACK's own partitioning, with each partition cut along entry boundaries: every entry of a
    group gets its own delegate call, as if it had been lowered alone."""
    base = et["Partitioner"]

    class EntrywisePartitioner(base):
        def __init__(self):
            super().__init__()
            self.inner = et["XnnpackPartitioner"]()

        def ops_to_not_decompose(self, exported_program):
            return self.inner.ops_to_not_decompose(exported_program)

        def partition(self, exported_program):
            result = self.inner.partition(exported_program)
            program = result.tagged_exported_program
            owner = _component_of_inputs(program.graph, program.graph_signature.user_inputs, arities)
            tags = {}
            for node in program.graph.nodes:
                tag = node.meta.get("delegation_tag")
                if tag is None:
                    continue
                entry = owner.get(node)
                node.meta["delegation_tag"] = f"{tag}_entry{entry}"
                tags[node.meta["delegation_tag"]] = result.partition_tags[tag]
            return et["PartitionResult"](tagged_exported_program=program, partition_tags=tags)

    return EntrywisePartitioner()


def lower(et: dict, module: nn.Module, inputs: tuple[torch.Tensor, ...], partitioner=None):
    """The ExecuTorch program manager of `module` lowered to XNNPACK."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        exported = torch.export.export(module.eval(), inputs)
        edge = et["to_edge_transform_and_lower"](exported, partitioner=[partitioner or et["XnnpackPartitioner"]()])
        return edge.to_executorch()


def instruction_owners(program_manager, inputs_per_entry: Sequence[int]) -> list[int]:
    """The entry each instruction of the lowered group belongs to, in execution order."""
    program = program_manager.exported_program()
    owner = _component_of_inputs(program.graph, program.graph_signature.user_inputs, inputs_per_entry)
    # The emitter turns every call except getitem and memory planning's alloc into one instruction,
    # in graph order; the count is checked against the executed instructions.
    calls = [n for n in program.graph.nodes if n.op == "call_function" and n.target is not operator.getitem
             and getattr(n.target, "__name__", "") != "alloc"]
    missing = [n.name for n in calls if n not in owner]
    if missing:
        raise LatencyTableError(f"internal: instructions {missing[:3]} belong to no entry")
    return [owner[n] for n in calls]


def lower_group(made: Sequence[tuple[nn.Module, tuple[torch.Tensor, ...]]]) -> tuple[bytes, list[int]]:
    """(program bytes, entry of each instruction) of a group of entries; picklable, for worker processes."""
    et = load_executorch()
    arities = [len(inputs) for _, inputs in made]
    group = Group([module for module, _ in made], arities)
    inputs = tuple(x for _, entry_inputs in made for x in entry_inputs)
    manager = lower(et, group, inputs, make_entrywise_partitioner(et, arities))
    return manager.buffer, instruction_owners(manager, arities)


def time_group(et: dict, buffer: bytes, owners: Sequence[int], inputs: tuple[torch.Tensor, ...], entries: int,
               warmup: int, runs: int, now_ns: Callable[[], int]) -> list[list[float]]:
    """Samples (ms) of each entry of a lowered group: one forward pass per round, every instruction
    timed by ETDump (the runtime's steady clock), each entry's time as `entry_times_ms` counts it.
    With a CPU-time `now_ns`, each round's times are scaled by the pass's CPU time over its wall
    time, so that time the OS gave to other processes is not counted."""
    program = et["Runtime"].get().load_program(buffer, enable_etdump=True, debug_buffer_size=0)
    method = program.load_method("forward")
    cpu_clock = now_ns is not time.perf_counter_ns
    shares = []
    for round_index in range(warmup + runs):
        wall, cpu = time.perf_counter_ns(), now_ns()
        method.execute(inputs)
        wall, cpu = time.perf_counter_ns() - wall, now_ns() - cpu
        if round_index >= warmup:
            shares.append(min(1.0, cpu / wall) if cpu_clock and wall > 0 else 1.0)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "group.etdp")
        program.write_etdump_result_to_file(path, os.path.join(folder, "debug.bin"))
        with open(path, "rb") as f:
            dump = et["deserialize_etdump"](f.read())
    executes = [run for run in dump.run_data if any(
        e.profile_event and e.profile_event.name in TIMED_EVENTS for e in run.events)]
    if len(executes) != warmup + runs:
        raise LatencyTableError(f"internal: ETDump holds {len(executes)} timed passes, expected {warmup + runs}")
    samples: list[list[float]] = [[] for _ in range(entries)]
    for run, share in zip(executes[warmup:], shares):
        events = [Event.of(e.profile_event) for e in run.events if e.profile_event is not None]
        for timings, ms in zip(samples, entry_times_ms(events, owners, entries)):
            timings.append(ms * share)
    return samples


@dataclass(frozen=True)
class Event:
    """One ETDump profile event: an instruction (`name` in TIMED_EVENTS) or, with `name` None, one
    XNNPACK operator inside a delegate call (`operator`, e.g. "Transpose (ND, X32) #1")."""

    name: str | None
    operator: str
    instruction: int
    start: int
    end: int

    @classmethod
    def of(cls, profile) -> "Event":
        return cls(profile.name, profile.delegate_debug_id_str or "",
                   -1 if profile.instruction_id is None else profile.instruction_id,
                   profile.start_time, profile.end_time)

    @property
    def ms(self) -> float:
        return (self.end - self.start) / 1e6


def entry_times_ms(events: Sequence[Event], owners: Sequence[int], entries: int) -> list[float]:
    """Each entry's time in one pass, as it would run inside a network: the time of its instructions,
    less XNNPACK's layout conversions (NCHW <-> NHWC transposes) on the entry's own inputs and
    outputs, which in a network pass between delegated ops in NHWC and are never converted; where an
    entry starts with a portable op (a MixConv's channel split), the conversions of the delegate
    after it are real, and counted once more for the producer, which converts the split's input
    back to NCHW in a network (alone, the entry's input arrives in NCHW)."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for instruction, entry in enumerate(owners):
        first.setdefault(entry, instruction)
        last[entry] = instruction
    per_entry = [0.0] * entries
    kinds: dict[int, str] = {}
    inside: dict[int, list[Event]] = {}
    for event in events:
        if not 0 <= event.instruction < len(owners):
            if event.name in TIMED_EVENTS:
                raise LatencyTableError(f"internal: instruction {event.instruction} of {len(owners)} timed")
            continue
        if event.name in TIMED_EVENTS:
            kinds[event.instruction] = event.name
            per_entry[owners[event.instruction]] += event.ms
        elif event.name is None:
            inside.setdefault(event.instruction, []).append(event)
    if len(kinds) != len(owners):
        raise LatencyTableError(f"internal: {len(kinds)} instructions timed, the program has {len(owners)}")
    for instruction, operators in inside.items():
        entry = owners[instruction]
        operators = sorted(operators, key=lambda e: e.start)
        layout = [LAYOUT_OPERATOR in e.operator for e in operators]
        work = [i for i, is_layout in enumerate(layout) if not is_layout]
        first_work, last_work = (work[0], work[-1]) if work else (len(operators), -1)
        starts_portable = kinds[first[entry]] == "OPERATOR_CALL"
        for i, event in enumerate(operators):
            if not layout[i]:
                continue
            if i < first_work:  # converts an input of the delegate call
                if instruction == first[entry]:
                    per_entry[entry] -= event.ms
                elif starts_portable and instruction == first[entry] + 1:
                    per_entry[entry] += event.ms
            elif i > last_work and instruction == last[entry]:  # converts an output of the entry
                per_entry[entry] -= event.ms
    return [max(0.0, ms) for ms in per_entry]


def prepare(et: dict, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> Callable[[], Any]:
    """One network lowered alone and loaded: a call runs one forward pass."""
    return load_program(et, lower(et, module, inputs).buffer, inputs)


class LoadedProgram:
    """A loaded program whose call runs one forward pass. The method points into the program and
    its buffer (freeing either under it crashes the runtime), so this object holds all three."""

    def __init__(self, et: dict, buffer: bytes, inputs: tuple[torch.Tensor, ...]):
        self.buffer, self.inputs = buffer, inputs
        self.program = et["Runtime"].get().load_program(buffer)
        self.method = self.program.load_method("forward")

    def __call__(self) -> Any:
        return self.method.execute(self.inputs)


def load_program(et: dict, buffer: bytes, inputs: tuple[torch.Tensor, ...]) -> Callable[[], Any]:
    return LoadedProgram(et, buffer, inputs)


def lower_network(made: tuple[nn.Module, tuple[torch.Tensor, ...]]) -> bytes:
    """Program bytes of one network; picklable, for worker processes."""
    return lower(load_executorch(), *made).buffer
