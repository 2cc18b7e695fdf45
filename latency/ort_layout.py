"""ONNX Runtime's layout reorders that a table entry makes and a network does not.

ONNX Runtime's CPU provider runs convolutions in a blocked layout (NCHWc): a session converts its
inputs with `ReorderInput` and its outputs back with `ReorderOutput`. An entry alone pays both on
its own inputs and outputs; inside a network those tensors pass between NCHWc ops and are never
converted (op entries summed to ~1.4x a small network's time here, a third of it these reorders).
Reorders inside an entry are real, and where an entry reorders the pieces of a MixConv's channel
split (`Split` runs in NCHW), its producer's conversion back to NCHW before the split and its
consumer's conversion after the concat are real in a network too: they count once more. An
entry's residual `Add` runs as a kernel of its own (its other operand arrives as an input), while
in a network it fuses into the projection's NCHWc convolution (whose profile shows no Add): it is
taken away too. Times come from ONNX Runtime's own profiler (per-kernel events).
"""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

REORDERS = ("ReorderInput", "ReorderOutput")
FUSED_IN_A_NETWORK = ("Add",)


def _shape(argument: Any) -> tuple[int, ...] | None:
    """The shape in a profiler event's input_type_shape / output_type_shape ([{"float": [...]}])."""
    try:
        (only,) = argument
        (dims,) = only.values()
        return tuple(int(d) for d in dims)
    except (TypeError, ValueError, AttributeError):
        return None


def layout_shift_ms(events: Sequence[dict], input_shapes: Sequence[tuple[int, ...]],
                    output_shapes: Sequence[tuple[int, ...]], runs: int) -> float:
    """Milliseconds per run to add to an entry's measured time (negative: to take away), from the
    profiler events of its last `runs` session runs."""
    windows = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                     if e.get("cat") == "Session" and e.get("name") == "model_run")[-runs:]
    if len(windows) < runs:
        raise ValueError(f"the profile holds {len(windows)} runs, expected at least {runs}")
    inputs, outputs = set(map(tuple, input_shapes)), set(map(tuple, output_shapes))
    edge = split_inputs = split_outputs = 0.0
    for event in events:
        args = event.get("args") or {}
        kind = args.get("op_name")
        if event.get("cat") != "Node" or kind not in REORDERS + FUSED_IN_A_NETWORK \
                or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        if not any(start <= event["ts"] <= end for start, end in windows):
            continue
        ms = event["dur"] / 1000.0
        if kind in FUSED_IN_A_NETWORK:
            edge += ms
        elif kind == "ReorderInput" and _shape(args.get("input_type_shape")) in inputs:
            edge += ms
        elif kind == "ReorderOutput" and _shape(args.get("output_type_shape")) in outputs:
            edge += ms
        elif kind == "ReorderInput":
            split_inputs += ms
        else:
            split_outputs += ms
    # Internal reorders of inputs happen only after a split: then both of its neighbours' count.
    doubled = split_inputs + split_outputs if split_inputs else 0.0
    return (doubled - edge) / runs


def profiled_shift_ms(session_factory, feeds: dict, outputs: Sequence[tuple[int, ...]], warmup: int,
                      runs: int) -> float:
    """Profile `runs` runs (after `warmup`) of a session made by `session_factory(profile_prefix)`
    and return layout_shift_ms for them; the profile file is removed."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        session = session_factory(os.path.join(folder, "profile"))
        for _ in range(warmup + runs):
            session.run(None, feeds)
        path = session.end_profiling()
        with open(path) as f:
            events = json.load(f)
    return layout_shift_ms(events, [tuple(x.shape) for x in feeds.values()], outputs, runs)
