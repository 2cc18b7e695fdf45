"""`compare`: random archs drawn in the found arch's FLOPs band, the list of entries, trainings
under the same seeds that resume instead of repeating, the table, its figure and the CLI."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from mixsearch.cli.app import run_cli
from mixsearch.controller.compare import (CompareError, Entry, comparison_entries, format_table, random_in_band,
                                          run_compare, summarise, verdict, write_outputs)
from mixsearch.evaluator.fulltrain import TrainRecipe
from mixsearch.search_space import (ArchSpec, BlockSpec, MixsearchError, count_flops, default_space, load_arch,
                                    save_arch)

FOUND = Path(__file__).resolve().parents[2] / "benchmarks" / "found_soft_300m_cifar10mini.yaml"
RECIPE = TrainRecipe(dataset="digits", epochs=1, batch_size=32, train_size=200, val_size=64, threads=1)


def tiny(name: str, width: int) -> ArchSpec:
    return ArchSpec(blocks=(BlockSpec(out_chs=width, block_type="ds"), BlockSpec(out_chs=16, exp_ratio=2, stride=2)),
                    name=name, resolution=32, stem_chs=8, head_chs=32)


def test_random_archs_lie_in_the_band_are_distinct_and_seeded():
    found = load_arch(FOUND)
    archs = random_in_band(found, default_space(), 3, seed=0)
    target = count_flops(found)
    assert all(0.9 * target <= count_flops(a) <= target for a in archs)
    assert len({a.replace(name="") for a in archs}) == 3 and [a.name for a in archs] == ["random0", "random1", "random2"]
    assert all(default_space().contains(a.replace(name="")) for a in archs)
    assert random_in_band(found, default_space(), 3, seed=0) == archs
    assert random_in_band(found, default_space(), 3, seed=1) != archs
    with pytest.raises(CompareError, match=r"0 of 200 random archs have FLOPs in \[.*asked for 1"):
        random_in_band(found, default_space(), 1, seed=0, band=(3.0, 3.1), max_draws=200)


def test_entries_found_first_then_given_presets_and_randoms(tmp_path):
    run = tmp_path / "runs" / "search-1"
    run.mkdir(parents=True)
    save_arch(load_arch(FOUND), run / "best.yaml")
    entries = comparison_entries([str(run), "mixnet_s"], random_count=2, space=default_space(), seed=0)
    assert [(e.label, e.kind) for e in entries] == [
        ("search-20261203-231935-trial26", "found"), ("mixnet_s", "given"), ("mobilenet_v2", "preset"),
        ("efficientnet_b0", "preset"), ("random0", "random"), ("random1", "random")]
    with pytest.raises(CompareError, match="a folder without best.yaml"):
        comparison_entries([str(tmp_path)], random_count=0)


def test_trainings_share_seeds_resume_and_tabulate(tmp_path):
    entries = [Entry("a", tiny("a", 8), "found"), Entry("b", tiny("b", 16), "random"),
               Entry("c", tiny("c", 24), "random")]
    rows = run_compare(entries, RECIPE, [0, 1], tmp_path / "cmp")
    assert [(r["label"], r["seed"]) for r in rows] == [(e, s) for e in "abc" for s in (0, 1)]
    assert all((tmp_path / "cmp" / r["label"] / f"seed{r['seed']}" / "model.pt").is_file() for r in rows)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "cmp").rglob("model.pt")}
    again = run_compare(entries, RECIPE, [0, 1], tmp_path / "cmp")  # resumes: every training is reused
    assert [{**r, "pid": 0} for r in again] == [{**r, "pid": 0} for r in rows]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    def latency(arch):  # a table that lacks the layers of b, as a real table lacks a preset outside its space
        if arch.name == "b":
            raise MixsearchError("no entry for b's stem")
        return arch.blocks[0].out_chs / 10

    summary = summarise(entries, rows, latency=latency)
    assert [s["latency_ms"] for s in summary] == [0.8, None, 2.4]
    for s in summary:
        accuracies = [r["test_accuracy"] for r in rows if r["label"] == s["label"]]
        assert s["test_accuracy_mean"] == pytest.approx(np.mean(accuracies))
        assert s["test_accuracy_sd"] == pytest.approx(np.std(accuracies, ddof=1))
    table = format_table(summary)
    median = np.median([s["test_accuracy_mean"] for s in summary[1:]])
    assert f"| median of 2 random | random | {100 * median:.2f} |" in table and "| 2.40 |" in table
    assert "the median of 2 random archs" in verdict(summary)
    paths = write_outputs(tmp_path / "cmp", summary)
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"
    assert json.loads(paths["json"].read_text())[0]["label"] == "a"


def test_on_a_local_ray_each_training_is_a_task_with_the_same_result(tmp_path):
    entries = [Entry("a", tiny("a", 8), "found"), Entry("b", tiny("b", 16), "given")]
    on_ray = run_compare(entries, RECIPE, [0], tmp_path / "ray", use_ray=True, num_cpus=2)
    here = run_compare(entries, RECIPE, [0], tmp_path / "here")
    assert all(r["pid"] != os.getpid() for r in on_ray) and all(r["pid"] == os.getpid() for r in here)
    for remote, local in zip(on_ray, here):  # one thread each, on the CPU: the same bits anywhere
        assert remote["label"] == local["label"] and remote["test_accuracy"] == local["test_accuracy"]
        assert remote["val_accuracy"] == local["val_accuracy"]


def test_compare_cli_prints_the_table(tmp_path, capsys):
    arch_file = tmp_path / "mine.yaml"
    save_arch(tiny("mine", 8), arch_file)
    code = run_cli(["compare", str(arch_file), "--baselines", "--random", "0", "--seeds", "0", "--out",
                    str(tmp_path / "cmp"), "--dataset", "digits", "--epochs", "1", "--batch-size", "32",
                    "--train-size", "200", "--val-size", "64", "--threads", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| mine | found |" in out and (tmp_path / "cmp" / "accuracy_vs_flops.png").is_file()
    assert run_cli(["compare", str(tmp_path / "nope.yaml"), "--random", "0"]) == 2
    assert "nope.yaml" in capsys.readouterr().err
