"""`mixsearch latency build|predict|validate`: latency lookup tables (latency/FORMAT.md)."""
from __future__ import annotations

import argparse
import json
import os

from mixsearch.search_space.arch_io import load_arch
from mixsearch.search_space.safe_io import check_output, write_atomic
from mixsearch.search_space.space import load_space

from .values import check_seed

DEVICE_RUNTIMES = {"cpu": ("eager", "onnxruntime", "xnnpack"), "cuda": ("cuda",)}


def _runtime_options(parser: argparse.ArgumentParser, defaults_from_table: bool) -> None:
    note = " (default: the table's)" if defaults_from_table else ""
    parser.add_argument("--device", choices=tuple(DEVICE_RUNTIMES), default=None,
                        help="where to measure: cpu (default) or cuda" + note)
    parser.add_argument("--runtime", choices=("eager", "onnxruntime", "xnnpack", "cuda"), default=None,
                        help="eager PyTorch (cpu default), onnxruntime (torch.onnx export, ORT CPU session), "
                             "xnnpack (ExecuTorch's XNNPACK delegate, the kernels a phone runs; "
                             "pip install 'mixsearch[xnnpack]') or cuda (CUDA events)" + note)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default 1)" + note)
    parser.add_argument("--clock", choices=("wall", "cpu"), default=None,
                        help="cpu: the measuring thread's CPU time, which other processes on a shared machine "
                             "do not inflate (the default with one thread); wall: wall time (the default "
                             "with more threads and on cuda)" + note)
    parser.add_argument("--jobs", type=int, default=None,
                        help="xnnpack: processes that lower programs while nothing is timed (default 2, "
                             "or 1 on one core)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed runs before timing (default: 3; cuda 10)")
    parser.add_argument("--runs", type=int, default=None,
                        help="timed runs; the median is kept (default: 15; cuda 31)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("latency", help="build, query and validate on-device latency tables")
    commands = parser.add_subparsers(dest="latency_command", metavar="ACTION", required=True)

    build = commands.add_parser("build", help="measure every entry a search space needs (resumes/extends --out)")
    build.add_argument("--space", default="default", help="search space YAML or shipped name (default: default)")
    _runtime_options(build, defaults_from_table=False)
    build.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    build.add_argument("--granularity", choices=("op", "layer"), default="op",
                       help="op: expand/mixconv/se/project entries (default); layer: whole block layers")
    build.add_argument("--calibrate", type=int, default=48, metavar="N",
                       help="networks measured end to end to fit the calibration (0 = none; default 48, "
                            "fewer fitted worse: benchmarks/README.md)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--limit", type=int, default=None, help="measure at most this many new entries, then stop")
    build.add_argument("--out", required=True, help="table JSON; an existing one is resumed or extended")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=run_build)

    predict = commands.add_parser("predict", help="predicted latency of architectures")
    predict.add_argument("archs", nargs="+", help="arch YAML files or preset names")
    predict.add_argument("--table", required=True)
    predict.add_argument("--space", default=None, help="also check the table was built for this space")
    predict.set_defaults(func=run_predict)

    validate = commands.add_parser("validate", help="predicted vs measured latency of random archs of the space")
    validate.add_argument("--table", required=True)
    validate.add_argument("--space", default=None, help="default: the space the table was built for")
    _runtime_options(validate, defaults_from_table=True)
    validate.add_argument("--archs", type=int, default=100,
                          help="archs to measure, spread over the space's FLOPs range (default 100)")
    validate.add_argument("--uniform", action="store_true", help="draw the archs uniformly instead "
                                                                  "(they cluster mid-range)")
    validate.add_argument("--seed", type=int, default=0)
    validate.add_argument("--plot", default=None, help="scatter plot PNG (default: TABLE.validation.png)")
    validate.add_argument("--out", default=None, help="also write the figures and points as JSON")
    validate.add_argument("--quiet", action="store_true")
    validate.set_defaults(func=run_validate)


def _runtime(args, table_metadata: dict | None = None):
    from mixsearch.latency import LatencyTableError, make_runtime
    from mixsearch.latency.runtimes import default_clock

    meta = table_metadata or {}
    runtime = args.runtime or meta.get("runtime") or ("cuda" if args.device == "cuda" else "eager")
    device = args.device or ("cuda" if runtime == "cuda" else "cpu")
    if runtime not in DEVICE_RUNTIMES[device]:
        raise LatencyTableError(f"--runtime {runtime} does not run on --device {device}; "
                                f"use one of: {', '.join(DEVICE_RUNTIMES[device])}")
    threads = args.threads if args.threads is not None else meta.get("threads", 1)
    clock = args.clock or meta.get("clock") or default_clock(runtime, threads)
    if args.jobs is not None and args.jobs < 1:
        raise LatencyTableError(f"--jobs: got {args.jobs}, expected an integer >= 1")
    return make_runtime(runtime, threads, clock, jobs=args.jobs)


def _settings(args):
    from mixsearch.latency import LatencyTableError, Settings

    if (args.warmup is not None and args.warmup < 0) or (args.runs is not None and args.runs < 1):
        raise LatencyTableError(f"--warmup/--runs: got {args.warmup}/{args.runs}, expected >= 0 / >= 1")
    return Settings(warmup=args.warmup, runs=args.runs)


def run_build(args) -> int:
    from mixsearch.latency import build_table

    check_seed("--seed", args.seed)
    check_output(args.out, inputs=[args.space])  # --out itself is read too: the build resumes it
    space = load_space(args.space)
    table = build_table(space, _runtime(args), args.out, space_source=args.space, batch=args.batch,
                        granularity=args.granularity, settings=_settings(args), calibration_archs=args.calibrate,
                        seed=args.seed, limit=args.limit, progress=not args.quiet)
    missing = len(table.missing(space.possible_layers()))
    state = f"{missing} entries still missing (run again to resume)" if missing else "complete"
    calibration = table.calibration or {"kind": "none", "scale": 1.0, "offset_ms": 0.0}
    print(f"{args.out}: {len(table.entries)} entries, {state}; calibration {calibration['kind']} "
          f"(ms = {calibration['scale']:g} x sum + {calibration['offset_ms']:g})")
    return 0


def run_predict(args) -> int:
    from mixsearch.latency import load_table

    table = load_table(args.table)
    if args.space:
        table.check_space(load_space(args.space))
    for name in args.archs:
        print(f"{name}: {table.predict(load_arch(name)):.3f} ms")
    return 0


def run_validate(args) -> int:
    from mixsearch.latency import LatencyTableError, load_table, scatter_plot, validate_table
    from mixsearch.latency.validate import describe

    check_seed("--seed", args.seed)
    table = load_table(args.table)
    space_source = args.space or table.metadata["space"].get("source") or table.metadata["space"]["name"]
    space = load_space(space_source)
    plot = f"{args.table}.validation.png" if args.plot is None else args.plot
    for output in (plot, args.out):  # refused now, not after the measurements
        if output is not None:
            check_output(output, inputs=[args.table, space_source])
    if args.out is not None and os.path.realpath(args.out) == os.path.realpath(plot):
        raise LatencyTableError(f"--out {args.out}: the same file as the plot; give them different paths")
    runtime = _runtime(args, table.metadata)
    try:
        validation = validate_table(table, space, runtime, args.archs, args.seed, _settings(args),
                                    progress=not args.quiet, spread=not args.uniform)
    finally:
        runtime.close()
    scatter_plot(validation, plot, f"{runtime.name}, {runtime.threads} thread(s), {space.name}")
    print("\n".join(describe(validation, table)) + f"\nplot: {plot}")
    if args.out is not None:
        write_atomic(args.out, json.dumps({"summary": validation.summary(), "predicted_ms": validation.predicted_ms,
                                           "measured_ms": validation.measured_ms, "flops": validation.flops,
                                           "loads": validation.loads}, indent=1) + "\n")
    return 0
