"""The final summary table of a run, printed at the end of `mixsearch run` and by `mixsearch show`."""
from __future__ import annotations

import os
from pathlib import Path

from .config_check import check_values
from .outputs import best_record, pareto_front
from .records import TrialRecord, load_trials, status_counts
from .run_folder import CONFIG_FILE, load_config
from .targets import format_flops


def _num(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_summary(run_dir: str | os.PathLike, records: list[TrialRecord] | None = None) -> str:
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    check_values(config, source=str(run_dir / CONFIG_FILE), flags_replace=False)  # a damaged file: one line
    records = load_trials(run_dir) if records is None else records
    metric = "latency" if (config.get("target_latency_ms") is not None
                           or "latency" in (config.get("objectives") or [])) else "flops"
    counts = status_counts(records)
    target = (f"{config['target_latency_ms']} ms" if config.get("target_latency_ms") is not None else
              format_flops(config["target_flops"]) + " multiply-adds" if config.get("target_flops") else "none")
    lines = [f"run {config.get('name')} ({run_dir})",
             f"  space {config.get('space')}, target {target}, reward {config.get('reward')}, "
             f"objectives {','.join(config.get('objectives') or [])}, sampler {config.get('sampler')}, "
             f"seed {config.get('seed')}",
             "  trials: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none")]
    seconds = sum(r.seconds or 0.0 for r in records)
    lines.append(f"  training time {seconds:.0f} s")
    best = best_record(records)
    front = pareto_front(records, metric)
    header = f"  {'trial':>5} {'accuracy':>8} {'reward':>8} {'MAdds':>8} {'params':>8} {'lat ms':>7}  blocks"
    if best is None:
        lines.append("  no trial completed yet")
        return "\n".join(lines) + "\n"
    lines += ["", "best (by reward):", header, _row(best)]
    lines += ["", f"Pareto front (accuracy vs {'latency' if metric == 'latency' else 'multiply-adds'}):", header]
    lines += [_row(r) for r in front]
    best_yaml = run_dir / "best.yaml"
    if best_yaml.is_file():
        lines += ["", f"best architecture: {best_yaml}", f"Pareto front: {run_dir / 'pareto'}/ ({len(front)} files)",
                  f"all trials: {run_dir / 'trials.csv'}, plot: {run_dir / 'progress.png'}"]
    return "\n".join(lines) + "\n"


def _row(r: TrialRecord) -> str:
    import yaml
    blocks = (yaml.safe_load(r.arch) or {}).get("blocks", []) if r.arch else []
    return (f"  {r.number:>5} {_num(r.accuracy, '.4f'):>8} {_num(r.reward, '.4f'):>8} "
            f"{format_flops(r.flops) if r.flops else '-':>8} "
            f"{format_flops(r.num_params) if r.num_params else '-':>8} {_num(r.latency_ms, '.2f'):>7}  "
            f"{len(blocks)} block rows")



