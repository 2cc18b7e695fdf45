"""End-to-end in-process searches with a tiny proxy: outputs, rejection before training, Pareto."""
import csv

import pytest
import torch
import yaml

import mixsearch.evaluator
from mixsearch.evaluator import ProxyConfigError
from mixsearch.controller.outputs import pareto_front
from mixsearch.controller.trials import load_trials
from mixsearch.controller.search import SearchConfig, run_search
from mixsearch.search_space.errors import UsageError
from mixsearch.controller.run_folder import RunFolderError
from mixsearch.search_space import build_model, count_flops, load_arch, load_arch_with_metadata
from mixsearch.search_space.space import default_space


@pytest.fixture
def counted_evaluate(monkeypatch):
    """The real evaluator, with a log of the archs it was asked to train."""
    calls = []
    real = mixsearch.evaluator.evaluate

    def evaluate(arch, config=None, report=None):
        calls.append(arch)
        return real(arch, config, report=report)

    monkeypatch.setattr(mixsearch.evaluator, "evaluate", evaluate)
    return calls


def test_tiny_search_writes_loadable_outputs(tmp_path, tiny_proxy):
    result = run_search(SearchConfig(name="tiny", runs_dir=str(tmp_path), target_flops=300_000_000, trials=3,
                                     proxy=tiny_proxy, progress=False, seed=1))
    run = tmp_path / "tiny"
    finished = [r for r in result.records if r.finished]
    complete = [r for r in finished if r.status == "complete"]
    assert len(finished) == 3 and result.best == max(complete, key=lambda r: (r.reward, -r.number))
    arch, metadata = load_arch_with_metadata(run / "best.yaml")
    assert count_flops(arch) == result.best.flops == metadata["flops"]
    assert metadata["reward"] == pytest.approx(result.best.reward)
    assert default_space().contains(arch.replace(name=""))
    assert build_model(arch.replace(resolution=32)).eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 1000)
    for path in (run / "pareto").glob("*.yaml"):
        load_arch(path)
    rows = list(csv.DictReader((run / "trials.csv").open()))
    assert [int(r["number"]) for r in rows] == [r.number for r in result.records]
    assert (run / "progress.png").read_bytes()[:4] == b"\x89PNG"
    assert "arch_def" in (run / "best_timm.txt").read_text() or "not expressible" in (run / "best_timm.txt").read_text()
    assert yaml.safe_load((run / "config.yaml").read_text())["target_flops"] == 300_000_000
    for record in finished:  # every field the cluster tests rely on
        assert record.pid and record.hostname and record.arch and record.curve and record.seconds > 0


def test_over_cap_candidates_are_rejected_before_any_training(tmp_path, tiny_proxy, counted_evaluate):
    cap = 180_000_000  # most of the default space is larger: many proposals are rejected
    result = run_search(SearchConfig(name="capped", runs_dir=str(tmp_path), target_flops=150_000_000,
                                     flops_cap=cap, trials=3, proxy=tiny_proxy, progress=False, sampler="random"))
    rejected = [r for r in result.records if r.status == "rejected"]
    trained = [r for r in result.records if r.finished]
    assert rejected and len(trained) == 3
    assert len(counted_evaluate) == 3  # the evaluator saw the trained ones only
    assert all(count_flops(a) <= cap for a in counted_evaluate)
    assert all(r.flops > cap and not r.curve and r.seconds is None and "cap" in r.failure for r in rejected)


def test_hard_reward_caps_at_the_target(tmp_path, tiny_proxy, counted_evaluate):
    result = run_search(SearchConfig(name="hard", runs_dir=str(tmp_path), target_flops=250_000_000, reward="hard",
                                     trials=2, proxy=tiny_proxy, progress=False))
    assert all(count_flops(a) <= 250_000_000 for a in counted_evaluate)
    best = result.best
    assert best.reward == pytest.approx(best.accuracy)  # hard: no bonus under the target


def test_impossible_target_names_the_smallest_flops(tmp_path, tiny_proxy):
    smallest = default_space().min_flops()
    with pytest.raises(UsageError, match=str(smallest)):
        run_search(SearchConfig(name="tiny", runs_dir=str(tmp_path), target_flops=smallest - 1, trials=1,
                                proxy=tiny_proxy, progress=False))
    assert not (tmp_path / "tiny").exists()  # refused before the run folder was made


def test_gpu_proxy_on_ray_without_reserved_gpus_is_refused_up_front(tmp_path, tiny_proxy):
    config = SearchConfig(name="gpu", runs_dir=str(tmp_path), target_flops=300_000_000, trials=1, workers=1,
                          proxy=tiny_proxy.replace(device="cuda"), progress=False)
    with pytest.raises(UsageError, match="proxy.device is 'cuda' but --gpus-per-trial is 0: .* pass --gpus-per-trial"):
        run_search(config)
    assert not (tmp_path / "gpu").exists()
    if not torch.cuda.is_available():  # in-process: the GPU must be on this machine
        with pytest.raises(ProxyConfigError, match="sees no CUDA device"):
            run_search(config.replace(workers=0))
        assert not (tmp_path / "gpu").exists()


def test_existing_name_needs_resume_and_resume_needs_a_run(tmp_path, tiny_proxy):
    config = SearchConfig(name="once", runs_dir=str(tmp_path), target_flops=300_000_000, trials=1,
                          proxy=tiny_proxy, progress=False)
    run_search(config)
    with pytest.raises(RunFolderError, match="--resume"):
        run_search(config)
    with pytest.raises(RunFolderError, match="drop --resume"):
        run_search(config.replace(name="never", resume=True))
    with pytest.raises(RunFolderError, match="target_flops"):
        run_search(config.replace(resume=True, target_flops=200_000_000))


def test_pareto_search_exports_the_whole_front(tmp_path, tiny_proxy):
    result = run_search(SearchConfig(name="pareto", runs_dir=str(tmp_path), objectives=("accuracy", "flops"),
                                     sampler="nsga2", trials=4, proxy=tiny_proxy, progress=False))
    complete = [r for r in result.records if r.status == "complete"]
    assert all(r.values == [r.accuracy, float(r.flops)] for r in complete)
    front = {r.number for r in result.pareto}
    expected = {r.number for r in complete
                if not any(o.accuracy >= r.accuracy and o.flops <= r.flops
                           and (o.accuracy, o.flops) != (r.accuracy, r.flops) for o in complete)}
    assert front == expected
    files = sorted(p.name for p in (tmp_path / "pareto" / "pareto").glob("*.yaml"))
    assert files == sorted(f"trial_{n:04d}.yaml" for n in front)
    assert tuple(pareto_front(load_trials(tmp_path / "pareto"), "flops")) == result.pareto


def test_failing_candidates_are_recorded_and_the_budget_completes(tmp_path, tiny_proxy):
    diverging = tiny_proxy.replace(lr=1e9, optimizer="sgd")
    result = run_search(SearchConfig(name="diverge", runs_dir=str(tmp_path), target_flops=300_000_000, trials=2,
                                     proxy=diverging, progress=False))
    assert [r.status for r in result.records if r.finished] == ["failed", "failed"]
    assert all(r.failure and r.failure.split(":")[0] in ("nan", "diverged") for r in result.records)
    assert result.best is None and not (tmp_path / "diverge" / "best.yaml").exists()
    assert (tmp_path / "diverge" / "trials.csv").read_text().count("failed") == 2


def test_time_budget_spent_before_the_first_trial_starts_none(tmp_path, tiny_proxy):
    # The budget runs from the call; loading the data alone outlasts a microsecond, so no trial may start.
    result = run_search(SearchConfig(name="timed", runs_dir=str(tmp_path), target_flops=300_000_000,
                                     time_budget_s=1e-6, proxy=tiny_proxy, progress=False))
    assert result.records == () and not result.interrupted
    assert (tmp_path / "timed" / "trials.csv").is_file()


def test_deadline_stops_starting_trials_that_would_not_end_in_time(tmp_path, tiny_proxy):
    """A clock that advances 10 s per finished trial, deadline at 25 s: trials start at 0 and 10;
    at 20 the median duration (10 s) would end past the deadline, so a third never starts."""
    from mixsearch.controller.execution_local import run_local
    from mixsearch.controller.run_folder import prepare_run_folder
    from mixsearch.controller.search import build_problem, open_study
    from mixsearch.controller.storage import open_storage

    config = SearchConfig(name="clock", runs_dir=str(tmp_path), target_flops=300_000_000, trials=10,
                          proxy=tiny_proxy, progress=False)
    space, scoring = build_problem(config)
    folder = prepare_run_folder(config.runs_dir, config.name, False, None)
    study = open_study(config, open_storage(folder), scoring, 10)
    now = [0.0]

    def on_trial(status: str) -> None:
        now[0] += 10.0

    run_local(study, space, scoring, 10, deadline=25.0, prune=False,
              on_trial=on_trial, clock=lambda: now[0])
    finished = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("status") in ("complete", "failed")]
    assert len(finished) == 2 and now[0] == 20.0
