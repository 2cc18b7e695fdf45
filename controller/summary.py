"""The final summary table of a run, printed at the end of `mixsearch run` and by `mixsearch show`."""
from __future__ import annotations

import os
from pathlib import Path

from .config_check import check_values
from .objective import cost_metric
from .outputs import RunReport
from .records import TrialRecord
from .run_folder import CONFIG_FILE, load_config
from .targets import format_flops
from .trials import load_trials


def _num(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_summary(run_dir: str | os.PathLike, report: RunReport | None = None) -> str:
    """The run's summary; `report` is the one the search just wrote its outputs from (else the
    stored records are read)."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    check_values(config, source=str(run_dir / CONFIG_FILE), flags_replace=False)  # a damaged file: one line
    if report is None:
        report = RunReport.of(load_trials(run_dir), cost_metric(config.get("target_latency_ms"),
                                                                config.get("objectives") or ()))
    records, metric, counts = report.records, report.metric, report.counts
    target = (f"{config['target_latency_ms']} ms" if config.get("target_latency_ms") is not None else
              format_flops(config["target_flops"]) + " multiply-adds" if config.get("target_flops") else "none")
    lines = [f"run {config.get('name')} ({run_dir})",
             f"  space {config.get('space')}, target {target}, reward {config.get('reward')}, "
             f"objectives {','.join(config.get('objectives') or [])}, sampler {config.get('sampler')}, "
             f"seed {config.get('seed')}",
             "  trials: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none")]
    seconds = sum(r.seconds or 0.0 for r in records)
    lines.append(f"  training time {seconds:.0f} s")
    best, front = report.best, report.pareto
    header = f"  {'trial':>5} {'accuracy':>8} {'reward':>8} {'MAdds':>8} {'params':>8} {'lat ms':>7}  blocks"
    if best is None:
        lines.append("  no trial completed yet")
        return "\n".join(lines) + "\n"
    rescored = sorted((r for r in records if r.rescore_accuracy is not None or r.rescore_reward is not None),
                      key=lambda r: r.number)
    lines += ["", "best (by re-scored reward):" if rescored else "best (by reward):", header, _row(best)]
    if rescored:
        lines += ["", f"re-scored by proxy training ({len(rescored)} best of the search's own scores):",
                  f"  {'trial':>5} {'search acc':>10} {'proxy acc':>9} {'reward':>8}"]
        lines += [f"  {r.number:>5} {_num(r.accuracy, '.4f'):>10} {_num(r.rescore_accuracy, '.4f'):>9} "
                  f"{_num(r.rescore_reward, '.4f'):>8}" for r in rescored]
    lines += ["", f"Pareto front (accuracy vs {'latency' if metric == 'latency' else 'multiply-adds'}):", header]
    lines += [_row(r) for r in front]
    best_yaml = run_dir / "best.yaml"
    if best_yaml.is_file():
        lines += ["", f"best architecture: {best_yaml}", f"Pareto front: {run_dir / 'pareto'}/ ({len(front)} files)",
                  f"all trials: {run_dir / 'trials.csv'}, plot: {run_dir / 'progress.png'}"]
    return "\n".join(lines) + "\n"


def _row(r: TrialRecord) -> str:
    blocks = r.spec.blocks if r.spec else ()
    return (f"  {r.number:>5} {_num(r.accuracy, '.4f'):>8} {_num(r.reward, '.4f'):>8} "
            f"{format_flops(r.flops) if r.flops else '-':>8} "
            f"{format_flops(r.num_params) if r.num_params else '-':>8} {_num(r.latency_ms, '.2f'):>7}  "
            f"{len(blocks)} block rows")



