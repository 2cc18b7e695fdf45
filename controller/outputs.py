"""What a search leaves in its run folder, rebuilt from the trial records (so a resumed or killed
run can always be re-exported): best.yaml, pareto/*.yaml, trials.csv, progress.png, best_timm.txt.
Every file is written atomically."""
from __future__ import annotations

import csv
import io
import math
import pprint
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixsearch.search_space import encode_block, save_arch, timm_kwargs, to_timm_arch_def
from mixsearch.search_space.arch_io import write_atomic
from mixsearch.search_space.errors import SpecError

from .records import TrialRecord, status_counts

CSV_COLUMNS = ("number", "status", "accuracy", "reward", "flops", "num_params", "latency_ms", "seconds",
               "epochs", "failure", "hostname", "pid", "node_id", "blocks", "rescore_accuracy", "rescore_reward")


def cost_of(record: TrialRecord, metric: str) -> float | None:
    return record.latency_ms if metric == "latency" else record.flops


def best_record(records: list[TrialRecord]) -> TrialRecord | None:
    """The complete trial with the highest reward (ties: the earlier trial); in a two-stage search
    the one with the highest re-scored reward among those re-scored."""
    rescored = [r for r in records if r.rescore_reward is not None and math.isfinite(r.rescore_reward)]
    if rescored:
        return max(rescored, key=lambda r: (r.rescore_reward, -r.number))
    done = [r for r in records if r.scored]
    return max(done, key=lambda r: (r.reward, -r.number)) if done else None


def pareto_front(records: list[TrialRecord], metric: str) -> list[TrialRecord]:
    """Complete trials no other complete trial beats on both accuracy (higher) and cost (lower)."""
    done = [r for r in records if r.status == "complete" and r.accuracy is not None
            and cost_of(r, metric) is not None]
    front = []
    for r in done:
        dominated = any(o.accuracy >= r.accuracy and cost_of(o, metric) <= cost_of(r, metric)
                        and (o.accuracy > r.accuracy or cost_of(o, metric) < cost_of(r, metric)) for o in done)
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: (cost_of(r, metric), r.number))


@dataclass(frozen=True)
class RunReport:
    """What a run's outputs and summary show, computed once from its records."""

    records: tuple[TrialRecord, ...]
    metric: str                        # the cost of the Pareto front: "flops" or "latency"
    best: TrialRecord | None
    pareto: tuple[TrialRecord, ...]
    counts: dict[str, int]

    @classmethod
    def of(cls, records: list[TrialRecord], metric: str) -> "RunReport":
        return cls(records=tuple(records), metric=metric, best=best_record(records),
                   pareto=tuple(pareto_front(records, metric)), counts=status_counts(records))


def figures(record: TrialRecord, run_name: str) -> dict[str, Any]:
    """Measured and predicted figures of a trial, for the YAML metadata."""
    found = {"run": run_name, "trial": record.number, "proxy_accuracy": record.accuracy, "reward": record.reward,
             "flops": record.flops, "params": record.num_params, "predicted_latency_ms": record.latency_ms,
             "train_seconds": record.seconds}
    if record.rescore_accuracy is not None:  # two-stage: proxy_accuracy is the search's own score
        found.update(rescore_accuracy=record.rescore_accuracy, rescore_reward=record.rescore_reward)
    return found


def write_outputs(run_dir: Path, report: RunReport, run_name: str) -> dict[str, Path]:
    """Write every output; returns the paths written by kind (best.yaml absent when no trial completed)."""
    paths: dict[str, Path] = {"trials_csv": run_dir / "trials.csv", "plot": run_dir / "progress.png"}
    write_atomic(paths["trials_csv"], trials_csv(report.records))
    write_atomic(paths["plot"], progress_plot(report))
    best = report.best
    if best is not None:
        arch = best.spec.replace(name=f"{run_name}-trial{best.number}")
        paths["best"] = run_dir / "best.yaml"
        save_arch(arch, paths["best"], metadata=figures(best, run_name))
        paths["timm"] = run_dir / "best_timm.txt"
        write_atomic(paths["timm"], timm_text(arch, best.number))
    pareto_dir = run_dir / "pareto"
    pareto_dir.mkdir(exist_ok=True)
    wanted = set()
    for record in report.pareto:
        name = f"trial_{record.number:04d}.yaml"
        wanted.add(name)
        arch = record.spec.replace(name=f"{run_name}-trial{record.number}")
        save_arch(arch, pareto_dir / name, metadata=figures(record, run_name))
    for stale in pareto_dir.glob("trial_*.yaml"):
        if stale.name not in wanted:
            stale.unlink()
    paths["pareto"] = pareto_dir
    return paths


def timm_text(arch, number: int) -> str:
    try:
        arch_def = to_timm_arch_def(arch)
    except SpecError as err:
        return f"# trial {number}: not expressible as a timm arch_def ({err}); use best.yaml or ONNX export\n"
    return (f"# timm EfficientNet arch_def of {arch.name} (trial {number}):\n"
            f"#   from timm.models._efficientnet_builder import decode_arch_def\n"
            f"#   from timm.models.efficientnet import EfficientNet\n"
            f"#   model = EfficientNet(decode_arch_def(arch_def), **kwargs)\n"
            f"arch_def = {pprint.pformat(arch_def, width=100)}\n"
            f"kwargs = {pprint.pformat(timm_kwargs(arch), width=100)}\n")


def trials_csv(records: tuple[TrialRecord, ...]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = {k: getattr(r, k, None) for k in CSV_COLUMNS}
        row["epochs"] = len(r.curve)
        row["blocks"] = " ".join(encode_block(b, r.spec.act) for b in r.spec.blocks) if r.spec else ""
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def progress_plot(report: RunReport) -> bytes:
    """PNG: reward per trial with the best so far, and accuracy against cost with the Pareto front."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = report.metric
    done = [r for r in report.records if r.status == "complete" and r.reward is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    if done:
        numbers = [r.number for r in done]
        rewards = [r.reward for r in done]
        best, running = [], -math.inf
        for value in rewards:
            running = max(running, value)
            best.append(running)
        left.scatter(numbers, rewards, s=14, label="trial")
        left.step(numbers, best, where="post", color="C3", label="best so far")
        left.legend()
        costs = [cost_of(r, metric) for r in done]
        right.scatter(costs, [r.accuracy for r in done], s=14, label="trial")
        right.plot([cost_of(r, metric) for r in report.pareto], [r.accuracy for r in report.pareto], "o-", color="C3",
                   label="Pareto front")
        right.legend()
    left.set_xlabel("trial")
    left.set_ylabel("reward")
    left.set_title("search progress")
    right.set_xlabel("predicted latency (ms)" if metric == "latency" else "multiply-adds")
    right.set_ylabel("proxy accuracy")
    right.set_title("accuracy vs cost")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
