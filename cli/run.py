"""`mixsearch run`: search the space for architectures that meet a FLOPs or latency target."""
from __future__ import annotations

import argparse
import sys
import time

from mixsearch.controller.run_folder import check_name
from mixsearch.controller.search import SearchConfig, SearchInterrupted, parse_objectives, resume_config, run_search
from mixsearch.controller.search_config import FLAGS
from mixsearch.controller.summary import format_summary
from mixsearch.controller.targets import parse_duration, parse_flops, parse_latency
from mixsearch.search_space.errors import UsageError
from mixsearch.search_space.safe_io import parse_yaml, read_text


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="search for architectures (MnasNet reward, Optuna, optional Ray)",
                              description="Search the MixConv space. Example: mixsearch run --target-flops 300M")
    p.add_argument("--name", help="run folder name under --runs-dir (default: search-<date>-<time>)")
    p.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run --name")
    g = p.add_argument_group("what to search")
    g.add_argument("--space", help="search space name or YAML (default: default)")
    g.add_argument("--target-flops", metavar="FLOPS", help="multiply-adds target, e.g. 300M, 0.3G, 3e8")
    g.add_argument("--target-latency", metavar="LATENCY", dest="target_latency_ms", help="latency target, e.g. 15ms")
    g.add_argument("--latency-table", metavar="FILE", help="latency lookup table (mixsearch latency build); "
                   "without it, this machine's table is measured once and cached")
    g.add_argument("--latency-runtime", choices=("eager", "onnxruntime", "xnnpack"),
                   help="runtime of that cached table (default: xnnpack if installed, else onnxruntime)")
    g.add_argument("--reward", choices=("soft", "hard"), help="MnasNet reward: soft (default) or hard")
    g.add_argument("--alpha", type=float, help="reward exponent under the target (soft -0.07, hard 0)")
    g.add_argument("--beta", type=float, help="reward exponent over the target (soft -0.07, hard -1)")
    g.add_argument("--flops-cap", metavar="FLOPS",
                   help="reject untrained above this (default 1.5x target; hard: target)")
    g.add_argument("--latency-cap", metavar="LATENCY", dest="latency_cap_ms", help="same for predicted latency")
    g.add_argument("--objectives", metavar="LIST", help="accuracy,flops or accuracy,latency: a Pareto search")
    g.add_argument("--sampler", help="tpe (default), nsga2, random or evolution")
    g.add_argument("--seed", type=int)
    g.add_argument("--evaluator", choices=("proxy", "supernet"),
                   help="what scores a candidate: proxy training (default) or a weight-sharing supernet")
    g.add_argument("--supernet", metavar="FILE", help="a supernet of the space (mixsearch supernet train); "
                   "without it, --evaluator supernet trains one into the run folder first")
    g.add_argument("--rescore-top", type=int, metavar="K", dest="rescore_top",
                   help="two-stage search: at the end re-score the K best by proxy training; the best is chosen by that")
    g.add_argument("--prefilter", type=int, metavar="N",
                   help="score N random candidates zero-cost first, train the best quarter")
    g.add_argument("--proxy", metavar="FILE",
                   help="YAML file of proxy-training settings (mixsearch.evaluator.ProxyConfig fields)")
    g.add_argument("--dataset", help="proxy dataset: cifar10-mini (default, embedded real images), digits, or a path "
                                     "(an .npz, a CIFAR folder, an ImageFolder)")
    g.add_argument("--no-data-cache", action="store_false", dest="data_cache", default=None,
                   help="decode the sampled images in every process instead of once into $MIXSEARCH_CACHE/data")
    g.add_argument("--epochs", type=int, help="proxy epochs per candidate")
    g.add_argument("--no-early-stopping", action="store_false", dest="early_stopping", default=None,
                   help="train every candidate to the end (no pruner / ASHA)")
    b = p.add_argument_group("budget and execution")
    b.add_argument("--trials", type=int, metavar="N", help="trained candidates (default 40 within 12 minutes)")
    b.add_argument("--time-budget", metavar="DURATION", dest="time_budget_s",
                   help="e.g. 30m; no trial starts that would overrun it")
    b.add_argument("--workers", type=int, metavar="N", help="run trials on a local Ray with this many CPUs")
    b.add_argument("--ray-address", metavar="HOST:PORT", help="HOST:PORT of a running Ray cluster (ray start --head)")
    b.add_argument("--cpus-per-trial", type=float, metavar="N", help="Ray CPUs per trial (default 1)")
    b.add_argument("--gpus-per-trial", type=float, metavar="N", help="Ray GPUs per trial (default 0)")
    b.add_argument("--concurrency", type=int, metavar="N", help="Ray trials at once (default: as resources allow)")
    b.add_argument("--storage", metavar="URL", help="SQLAlchemy URL of the Optuna study, e.g. "
                                                    "postgresql://host/db (default: runs/<name>/study.db)")
    b.add_argument("--no-latency-check", action="store_false", dest="latency_check",
                   help="do not measure the best and the Pareto set at the end (latency searches)")
    b.add_argument("--no-progress", action="store_false", dest="progress", default=None, help="no progress bar")
    p.set_defaults(func=handle)


# The settings a flag gives directly (name, runs dir and resume are read apart).
_FIELDS = tuple(name for name in FLAGS if name not in ("name", "runs_dir", "resume"))


def _proxy(args: argparse.Namespace, base):
    from mixsearch.evaluator import ProxyConfig, ProxyConfigError
    settings = {}
    base_settings = base.to_dict() if base is not None else {}
    if args.proxy:
        settings = parse_yaml(read_text(args.proxy, "a proxy settings YAML"), args.proxy) or {}
        if not isinstance(settings, dict):
            raise UsageError(f"--proxy {args.proxy}: expected a mapping of ProxyConfig fields")
        try:  # the file alone first, so its errors name it and those of --dataset/--epochs do not
            ProxyConfig.from_dict({**base_settings, **settings})
        except ProxyConfigError as err:
            raise ProxyConfigError(f"{args.proxy}: {err}") from None
    for key in ("dataset", "epochs", "data_cache"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if not settings:
        return None
    return ProxyConfig.from_dict({**base_settings, **settings})


def _latency_check(config, result) -> str:
    """The best and the Pareto set: the table's prediction beside a fresh end-to-end measurement."""
    from mixsearch.latency import load_table
    from mixsearch.latency.cache import table_on_demand
    from mixsearch.latency.validate import LOAD_TOLERANCE, predicted_and_measured
    from mixsearch.search_space.space import load_space

    table = (load_table(config.latency_table) if config.latency_table else
             table_on_demand(load_space(config.space), config.space, config.latency_runtime, progress=False))
    records = {r.number: r for r in [result.best, *result.pareto]}
    rows = predicted_and_measured(table, [r.spec for r in records.values()])
    meta = table.metadata
    lines = [f"latency of the best and the Pareto set on {meta['runtime']} ({meta['threads']} thread(s), "
             f"{meta.get('clock', 'wall')} clock), predicted by the table and measured now:",
             f"  {'trial':>5} {'predicted ms':>12} {'measured ms':>11} {'error':>7}"]
    for number, (predicted, measured, _) in zip(records, rows):
        lines.append(f"  {number:>5} {predicted:>12.2f} {measured:>11.2f} {predicted / measured - 1:>+7.1%}")
    load = sorted(row[2] for row in rows)[len(rows) // 2]
    if abs(load - 1) > LOAD_TOLERANCE:
        lines.append(f"  (the reference layer ran {load:.2f}x its time when the table was calibrated: the machine's load differs)")
    return "\n".join(lines)


# Strings parsed here rather than by argparse, so a bad value is one `mixsearch: error:` line (exit 2).
_PARSERS = {"target_flops": parse_flops, "target_latency_ms": parse_latency, "flops_cap": parse_flops,
            "latency_cap_ms": parse_latency, "objectives": parse_objectives, "time_budget_s": parse_duration}


def handle(args: argparse.Namespace) -> int:
    given = {k: getattr(args, k) for k in _FIELDS if getattr(args, k) is not None}
    given.update({k: parse(given[k]) for k, parse in _PARSERS.items() if k in given})
    if args.name is not None:
        check_name(args.name)  # an empty --name is a mistake, not a request for the default name
    if args.resume:
        if not args.name:
            raise UsageError("--resume needs --name NAME of the run to continue (see the folders under --runs-dir)")
        config = resume_config(args.runs_dir, args.name, **given)
        proxy = _proxy(args, config.proxy_config())
        if proxy is not None:
            config = config.replace(proxy=proxy)
    else:
        name = time.strftime("search-%Y%m%d-%H%M%S") if args.name is None else args.name
        config = SearchConfig(name=name, runs_dir=args.runs_dir, proxy=_proxy(args, None), **given)
    def started(folder) -> None:  # only once every value was accepted and the run folder is this driver's
        print(f"mixsearch: run {config.name} -> {folder}/ (resume with: mixsearch run --name {config.name} "
              f"--runs-dir {config.runs_dir} --resume)", file=sys.stderr, flush=True)

    try:
        result = run_search(config, on_start=started)
    except SearchInterrupted as stop:
        print(format_summary(stop.result.run_dir, stop.result.report))
        print(f"mixsearch: interrupted; finished trials are kept. Continue with: mixsearch run --name {config.name} "
              f"--runs-dir {config.runs_dir} --resume", file=sys.stderr)
        return 130
    print(format_summary(result.run_dir, result.report))
    if result.cost_metric == "latency" and result.best is not None and args.latency_check:
        print(_latency_check(config, result))
    if result.best_yaml is not None:
        print(f"best architecture written to {result.best_yaml}")
    else:
        print(f"no trial completed; see {result.paths['trials_csv']}")
    return 0
