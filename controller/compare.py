"""`mixsearch compare`: a found architecture against the off-the-shelf choices and against random
architectures of the same space and FLOPs band, each trained for real under one recipe and the
same seeds — the honest baseline of any NAS method (Li & Talwalkar 2019, Yang et al. 2020).

Every (architecture, seed) trains in a folder of its own (OUT/<label>/seed<k>/, evaluator.fulltrain),
so a comparison resumes where it stopped and a finished training is never repeated. The table holds
test accuracy mean ± sd over the seeds, params and FLOPs (of the network trained and of the arch
at its own size), and the predicted latency when a table is given.
"""
from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mixsearch.evaluator.fulltrain import TrainRecipe, train_arch
from mixsearch.search_space import ArchSpec, SearchSpace, count_flops, load_arch, preset_names
from mixsearch.search_space.arch_io import write_atomic
from mixsearch.search_space.errors import MixsearchError

BASELINES = ("mixnet_s", "mobilenet_v2", "efficientnet_b0")
# Random archs must cost no more FLOPs than the found one and at most 10% fewer.
FLOPS_BAND = (0.9, 1.0)
MAX_DRAWS = 50_000


class CompareError(MixsearchError, ValueError):
    """An architecture that cannot be read, or a FLOPs band no random architecture falls into."""


@dataclass(frozen=True)
class Entry:
    """One architecture of a comparison: label (its folder name), arch, and kind: 'found' (the first
    given), 'given', 'preset' or 'random'."""

    label: str
    arch: ArchSpec
    kind: str


def resolve_arch(text: str) -> ArchSpec:
    """A YAML file, a run folder (its best.yaml), or a preset name."""
    path = Path(text)
    if path.is_dir():
        best = path / "best.yaml"
        if not best.is_file():
            raise CompareError(f"{text}: a folder without best.yaml; give a run folder of a finished search, "
                               "an arch YAML or a preset name")
        return load_arch(best)
    return load_arch(text)


def random_in_band(reference: ArchSpec, space: SearchSpace, count: int, seed: int,
                   band: tuple[float, float] = FLOPS_BAND, max_draws: int = MAX_DRAWS) -> list[ArchSpec]:
    """`count` distinct archs drawn uniformly from `space` (seeded), kept when their FLOPs lie in
    band x the reference's; at most `max_draws` draws."""
    target = count_flops(reference)
    low, high = band[0] * target, band[1] * target
    rng = np.random.default_rng(seed)
    found: list[ArchSpec] = []
    for _ in range(max_draws):
        if len(found) == count:
            break
        arch = space.sample(rng)
        if low <= count_flops(arch) <= high and arch not in found:
            found.append(arch)
    else:
        if len(found) < count:
            raise CompareError(f"space {space.name!r}: {len(found)} of {max_draws:,} random archs have FLOPs in "
                               f"[{low / 1e6:.1f}M, {high / 1e6:.1f}M] ({band[0]:g}-{band[1]:g} x the found arch's); "
                               f"asked for {count}: use fewer --random or another space")
    return [arch.replace(name=f"random{i}") for i, arch in enumerate(found)]


def comparison_entries(archs: Sequence[str], baselines: Sequence[str] = BASELINES, random_count: int = 3,
                       space: SearchSpace | None = None, seed: int = 0) -> list[Entry]:
    """The first arch is the found one; then the others given, the baseline presets, and
    `random_count` random archs of `space` in the found arch's FLOPs band."""
    if not archs:
        raise CompareError("compare: give at least one architecture (a run folder, an arch YAML or a preset)")
    entries: list[Entry] = []
    for i, text in enumerate(archs):
        arch = resolve_arch(text)
        label = text if text in preset_names() else (arch.name or Path(text).stem)
        entries.append(Entry(_safe_label(label, entries), arch, "found" if i == 0 else "given"))
    for name in baselines:
        if name not in {e.label for e in entries}:
            entries.append(Entry(name, load_arch(name), "preset"))
    if random_count:
        if space is None:
            raise CompareError("compare: random architectures need a search space (--space)")
        for arch in random_in_band(entries[0].arch, space, random_count, seed):
            entries.append(Entry(arch.name, arch, "random"))
    return entries


def _safe_label(label: str, taken: list[Entry]) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:80].lstrip(".") or "arch"
    names = {e.label for e in taken}
    candidate, n = safe, 1
    while candidate in names:
        n += 1
        candidate = f"{safe}-{n}"
    return candidate


def training_folder(out: Path, entry: Entry, seed: int) -> Path:
    return out / entry.label / f"seed{seed}"


Runner = Callable[[list[tuple[Entry, int]]], list[dict[str, Any]]]


def run_compare(entries: Sequence[Entry], recipe: TrainRecipe, seeds: Sequence[int], out: str | os.PathLike,
                ray_address: str | None = None, use_ray: bool = False, num_cpus: int | None = None,
                progress: bool = False, report: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """Train every (entry, seed) — resuming or reusing what its folder holds — and return one row
    each (label, kind, seed and the training's result). Sequential in this process by default;
    with use_ray one Ray task per training (a private local Ray, or the cluster at ray_address)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(entry, seed) for entry in entries for seed in seeds]
    if use_ray or ray_address:
        return _run_on_ray(jobs, recipe, out, ray_address, num_cpus, report)
    rows = []
    for entry, seed in jobs:
        row = train_one(entry, seed, recipe, out, progress)
        if report is not None:
            report(row)
        rows.append(row)
    return rows


def train_one(entry: Entry, seed: int, recipe: TrainRecipe, out: Path, progress: bool = False) -> dict[str, Any]:
    result = train_arch(entry.arch, recipe.replace(seed=seed), training_folder(out, entry, seed), resume=True,
                        progress=progress)
    return {"label": entry.label, "kind": entry.kind, "seed": seed, "pid": os.getpid(),
            **{k: v for k, v in result.items() if k not in ("recipe", "arch_yaml")}}


def _run_on_ray(jobs, recipe: TrainRecipe, out: Path, address: str | None, num_cpus: int | None, report):
    import ray

    from .ray_cluster import connect

    threads = recipe.threads or 1
    with connect(address, num_cpus):
        remote = ray.remote(num_cpus=threads)(train_one)
        pending = {remote.remote(entry, seed, recipe, out): i for i, (entry, seed) in enumerate(jobs)}
        rows: list[dict[str, Any] | None] = [None] * len(jobs)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            row = ray.get(done[0])
            rows[pending.pop(done[0])] = row
            if report is not None:
                report(row)
    return rows


# ---- the table ------------------------------------------------------------------------------------
def summarise(entries: Sequence[Entry], rows: Sequence[dict[str, Any]],
              latency: Callable[[ArchSpec], float] | None = None) -> list[dict[str, Any]]:
    """One summary per entry, in entry order: test accuracy mean and sd (ddof 1) over its seeds."""
    summary = []
    for entry in entries:
        mine = [r for r in rows if r["label"] == entry.label]
        accuracies = [r["test_accuracy"] for r in mine if r.get("test_accuracy") is not None]
        summary.append({
            "label": entry.label, "kind": entry.kind, "seeds": [r["seed"] for r in mine],
            "test_accuracy_mean": float(np.mean(accuracies)) if accuracies else math.nan,
            "test_accuracy_sd": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else math.nan,
            "accuracies": accuracies, "params": mine[0]["params"] if mine else None,
            "flops": mine[0]["flops"] if mine else None, "arch_flops": count_flops(entry.arch),
            "latency_ms": _predicted(latency, entry.arch),
        })
    return summary


def _predicted(latency: Callable[[ArchSpec], float] | None, arch: ArchSpec) -> float | None:
    """None without a table, or for an arch with layers the table lacks (a preset outside its space)."""
    if latency is None:
        return None
    try:
        return latency(arch)
    except MixsearchError:
        return None


def format_table(summary: Sequence[dict[str, Any]]) -> str:
    """A Markdown table; the random rows are followed by their median."""
    lines = ["| arch | kind | test accuracy % (mean ± sd) | per seed | params (trained) | FLOPs (trained) | "
             "FLOPs (own 224 px) | predicted latency ms |", "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        sd = "" if math.isnan(s["test_accuracy_sd"]) else f" ± {100 * s['test_accuracy_sd']:.2f}"
        latency = "–" if s["latency_ms"] is None else f"{s['latency_ms']:.2f}"
        lines.append(f"| {s['label']} | {s['kind']} | {100 * s['test_accuracy_mean']:.2f}{sd} | "
                     f"{' / '.join(f'{100 * a:.1f}' for a in s['accuracies'])} | {(s['params'] or 0) / 1e6:.3f}M | "
                     f"{(s['flops'] or 0) / 1e6:.1f}M | {s['arch_flops'] / 1e6:.0f}M | {latency} |")
    randoms = [s["test_accuracy_mean"] for s in summary if s["kind"] == "random"]
    if randoms:
        lines.append(f"| median of {len(randoms)} random | random | {100 * float(np.median(randoms)):.2f} | | | | | |")
    return "\n".join(lines)


def verdict(summary: Sequence[dict[str, Any]]) -> str:
    """Whether the found arch beats MixNet-S and the median random arch, stated either way."""
    found = next((s for s in summary if s["kind"] == "found"), None)
    if found is None:
        return ""
    parts = []
    for s in summary:
        if s["label"] == "mixnet_s":
            parts.append(_versus(found, s["test_accuracy_mean"], "MixNet-S"))
    randoms = [s["test_accuracy_mean"] for s in summary if s["kind"] == "random"]
    if randoms:
        parts.append(_versus(found, float(np.median(randoms)), f"the median of {len(randoms)} random archs"))
    return "; ".join(parts)


def _versus(found: dict[str, Any], other: float, name: str) -> str:
    difference = 100 * (found["test_accuracy_mean"] - other)
    word = "beats" if difference > 0 else "does not beat"
    return f"{found['label']} {word} {name} ({difference:+.2f} points)"


def write_outputs(out: Path, summary: Sequence[dict[str, Any]]) -> dict[str, Path]:
    """summary.json, table.md and accuracy_vs_flops.png in `out`, each written atomically."""
    paths = {"json": out / "summary.json", "table": out / "table.md", "plot": out / "accuracy_vs_flops.png"}
    write_atomic(paths["json"], json.dumps(list(summary), indent=2) + "\n")
    write_atomic(paths["table"], format_table(summary) + "\n")
    write_atomic(paths["plot"], accuracy_vs_flops_png(summary))
    return paths


def accuracy_vs_flops_png(summary: Sequence[dict[str, Any]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    colours = {"found": "tab:red", "given": "tab:orange", "preset": "tab:blue", "random": "tab:gray"}
    for s in summary:
        sd = 0.0 if math.isnan(s["test_accuracy_sd"]) else 100 * s["test_accuracy_sd"]
        axes.errorbar(s["flops"] / 1e6, 100 * s["test_accuracy_mean"], yerr=sd, fmt="o", capsize=3,
                      color=colours.get(s["kind"], "black"))
        axes.annotate(s["label"], (s["flops"] / 1e6, 100 * s["test_accuracy_mean"]), fontsize=7,
                      xytext=(4, 4), textcoords="offset points")
    axes.set(xlabel="FLOPs of the trained network (M multiply-adds)", ylabel="test accuracy % (mean ± sd)")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
