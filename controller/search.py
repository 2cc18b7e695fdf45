"""The public entry point: `run_search(SearchConfig(...)) -> SearchResult`.

Flow: check the config -> load space, latency table, proxy data (every user error raised here,
before the run folder is touched) -> open/create the run folder and its SQLite study -> on resume,
recover trials a dead driver left running -> train until the budget is spent (in-process, or Ray
Tune when --workers / --ray-address is given) -> write the outputs from the stored records.

Budget: `trials` counts trained trials (complete, pruned, failed — failures count); candidates
rejected by the cost cap before training do not count. Neither `trials` nor `time_budget_s` given:
DEFAULT_TRIALS trials within DEFAULT_TIME_BUDGET_S (fits 15 minutes on 2 cores with the default
proxy). In-process, no trial starts once the median trial so far would overrun the time budget
(a running one finishes); on Ray, Tune stops at the budget and the trials it cuts off are recorded
"interrupted" and queued for --resume.

Cost caps: a FLOPs (latency) target implies a cap of 1.5 x the target under the soft reward and the
target itself under the hard reward; `flops_cap` / `latency_cap_ms` override it. Candidates over a
cap are rejected from their spec alone, never trained.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import optuna

from mixsearch.search_space.errors import MixsearchError, UsageError

from .config_check import MAX_SEED, MAX_TRIALS, check_values
from .interrupts import interrupt_once
from .objective import CostModel, Scoring, cost_metric
from .outputs import RunReport, write_outputs
from .prefilter import prefilter_candidates
from .records import TrialRecord
from .resume import count_finished, recover_interrupted
from .rescore import rescore_best
from .reward import reward_exponents
from .run_folder import CONFIG_FILE, RunFolderError, load_config, lock_run, prepare_run_folder, save_config
from .samplers import make_sampler
from .scorers import CandidateScorer, supernet_scorer
from .search_config import DEFINING_FIELDS, OBJECTIVE_SETS, SearchConfig
from .storage import open_storage, study_name
from .study_check import check_study_storage
from .targets import format_flops
from .trials import load_trials

DEFAULT_TRIALS = 40
DEFAULT_TIME_BUDGET_S = 12 * 60.0
SOFT_CAP_RATIO = 1.5
SUPERNET_FILE = "supernet.pt"


@dataclass(frozen=True)
class SearchResult:
    run_dir: Path
    report: RunReport          # records, best, Pareto front and counts, as the outputs show them
    paths: dict[str, Path]
    seconds: float
    interrupted: bool = False

    @property
    def records(self) -> tuple[TrialRecord, ...]:
        return self.report.records

    @property
    def best(self) -> TrialRecord | None:
        return self.report.best

    @property
    def pareto(self) -> tuple[TrialRecord, ...]:
        return self.report.pareto

    @property
    def cost_metric(self) -> str:
        return self.report.metric

    @property
    def best_yaml(self) -> Path | None:
        return self.paths.get("best")


def parse_objectives(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in str(text).split(",") if part.strip())
    if names not in OBJECTIVE_SETS:
        raise UsageError(f"--objectives: got {text!r}; allowed: reward (the default), accuracy,flops or "
                          f"accuracy,latency")
    return names


def resume_config(runs_dir: str, name: str, **overrides: Any) -> SearchConfig:
    """The stored config of run `name`, with budget/execution settings replaced by `overrides`;
    a damaged value of config.yaml is named as a field of that file, not as a flag."""
    folder = Path(runs_dir) / name
    if not (folder / "config.yaml").is_file():
        raise RunFolderError(f"{folder}: no search to resume there; drop --resume to start run {name!r}")
    stored = load_config(folder)
    source = str(folder / "config.yaml")
    check_values({**stored, **overrides}, source=source, given=set(overrides))
    try:
        config = SearchConfig.from_dict(stored)
    except MixsearchError as err:
        raise RunFolderError(f"{source}: {err}") from None
    return config.replace(runs_dir=runs_dir, name=name, resume=True, **overrides)


def _check(config: SearchConfig) -> None:
    check_values({f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "proxy"})
    device = config.proxy_config().device
    if config.workers or config.ray_address:
        if device.startswith("cuda") and config.gpus_per_trial <= 0:
            # Ray hides every GPU from a trial that reserved none: each trial would fail on its first step.
            raise UsageError(f"proxy.device is {device!r} but --gpus-per-trial is {config.gpus_per_trial:g}: "
                              "Ray trials see only the GPUs they reserve; pass --gpus-per-trial (e.g. 1 or 0.5)")
    else:  # in-process: the GPU asked for must be here
        from mixsearch.evaluator.proxy import resolve_device
        resolve_device(config.proxy_config())


def build_problem(config: SearchConfig):
    """(space, Scoring) from a config; raises MixsearchError for anything the user must fix."""
    from mixsearch.search_space.space import load_space

    _check(config)
    space = load_space(config.space)
    table = None
    if config.latency_table is not None:
        from mixsearch.latency import load_table
        table = load_table(config.latency_table)
        table.check_space(space)
    elif config.target_latency_ms is not None or "latency" in config.objectives:
        from mixsearch.latency.cache import table_on_demand  # this machine's table, cached or built now
        table = table_on_demand(space, config.space, config.latency_runtime, progress=config.progress,
                                log=lambda line: print(f"mixsearch: {line}", file=sys.stderr))
    alpha, beta = reward_exponents(config.reward, config.alpha, config.beta)
    cap_ratio = 1.0 if config.reward == "hard" else SOFT_CAP_RATIO
    flops_cap = config.flops_cap
    if flops_cap is None and config.target_flops is not None:
        flops_cap = int(config.target_flops * cap_ratio)
    latency_cap = config.latency_cap_ms
    if latency_cap is None and config.target_latency_ms is not None:
        latency_cap = config.target_latency_ms * cap_ratio
    smallest = space.min_flops()
    for what, value in (("--target-flops", config.target_flops), ("--flops-cap", flops_cap)):
        if value is not None and value < smallest:
            raise UsageError(f"{what} {format_flops(value)}: no architecture of space {config.space!r} is that small; "
                              f"the smallest needs {format_flops(smallest)} multiply-adds ({smallest}) at "
                              f"{space.resolution}x{space.resolution}")
    if latency_cap is not None and table is not None:
        fastest = table.calibrate(space.cost_bounds(table.layer_ms)[0])  # calibration scale > 0: monotone
        if latency_cap < fastest:
            what = "--latency-cap" if config.latency_cap_ms is not None else "--target-latency"
            raise UsageError(f"{what}: a cap of {latency_cap:.3f} ms rejects every architecture of space "
                              f"{config.space!r}; the fastest is predicted at {fastest:.3f} ms")
    metric = cost_metric(config.target_latency_ms, config.objectives)
    target = config.target_latency_ms if metric == "latency" else config.target_flops
    cost_model = CostModel(metric=metric, target=target, flops_cap=flops_cap, latency_cap=latency_cap, table=table)
    scorer = CandidateScorer(config.evaluator, config.supernet)
    if config.supernet is not None:  # another space's, shape's or data's supernet: refused here, once
        supernet_scorer(config.supernet, config.proxy_config(), space)
    scoring = Scoring(proxy=config.proxy_config(), cost_model=cost_model, alpha=alpha, beta=beta,
                      objectives=tuple(config.objectives), scorer=scorer, space=space)
    return space, scoring


def _budget(config: SearchConfig) -> tuple[int, float | None]:
    if config.trials is None and config.time_budget_s is None:
        return DEFAULT_TRIALS, DEFAULT_TIME_BUDGET_S
    return (config.trials if config.trials is not None else MAX_TRIALS), config.time_budget_s


def _check_resume(config: SearchConfig, folder: Path) -> None:
    stored = SearchConfig.from_dict(load_config(folder)).to_dict()
    given = config.to_dict()
    for key in DEFINING_FIELDS:
        if stored.get(key) != given.get(key):
            raise RunFolderError(f"{folder}: run {config.name!r} was started with {key}={stored.get(key)!r}, "
                                 f"not {given.get(key)!r}; resume it unchanged (mixsearch run --name "
                                 f"{config.name} --resume) or start a new --name")


def open_study(config: SearchConfig, storage: optuna.storages.BaseStorage, scoring: Scoring,
               budget: int) -> optuna.Study:
    sampler = make_sampler(config.sampler, config.seed, budget, scoring.multi_objective)
    # Median rule from the second epoch on: an epoch-1 accuracy under a one-cycle schedule says
    # little about the final one (successive halving from epoch 1 pruned most of the first
    # default-proxy trials, and with them most of the budget; benchmarks/README.md).
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
              if config.early_stopping and not scoring.multi_objective else optuna.pruners.NopPruner())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name(config.name, config.storage),
                                storage=storage, sampler=sampler, pruner=pruner,
                                directions=scoring.directions, load_if_exists=True)
    existing = len(study.get_trials(deepcopy=False))
    if existing:
        # A resumed sampler with the original seed would replay its first proposals and train
        # finished candidates again; offsetting by the trials so far keeps resume reproducible.
        study.sampler = make_sampler(config.sampler, (config.seed + existing) % (MAX_SEED + 1), budget,
                                     scoring.multi_objective)
    return study


def run_search(config: SearchConfig, on_start: Callable[[Path], None] | None = None) -> SearchResult:
    """Run (or resume) a search; returns its records and the paths of its outputs. Every value is
    checked before the run folder is created or locked; `on_start(folder)` is called once the run
    folder is this driver's (e.g. to print how to resume it)."""
    from mixsearch.evaluator.proxy import load_data

    start = time.time()
    space, scoring = build_problem(config)
    load_data(scoring.proxy)  # a missing or corrupt dataset fails here, not in every trial
    trials, time_budget = _budget(config)
    name = study_name(config.name, config.storage)
    if config.resume and (config.run_dir / CONFIG_FILE).is_file():  # a lost study: refused before the lock
        check_study_storage(config.run_dir, config.storage, name, must_hold_study=True)
    if not config.resume:  # another program's database is refused unchanged, before the run folder exists
        check_study_storage(config.run_dir, config.storage, name, must_hold_study=False)
        if config.storage:  # a database that can't be opened fails before the run folder is written
            open_storage(config.run_dir, config.storage).engine.dispose()
    folder = prepare_run_folder(config.runs_dir, config.name, config.resume, config.ray_address)
    lock = lock_run(folder)
    try:
        if config.resume:
            _check_resume(config, folder)
            # a study missing, emptied or damaged is refused, never started afresh over the results
            # (again under the lock: a driver that held the run until now may have changed it)
            check_study_storage(folder, config.storage, name, must_hold_study=True)
        elif (folder / CONFIG_FILE).exists():
            raise RunFolderError(f"{folder}: a search named {config.name!r} was started meanwhile; add --resume to "
                                 "continue it or choose another --name")
        save_config(folder, config.replace(resume=False).to_dict())
        if on_start is not None:
            on_start(folder)
        return _run_in(folder, config, space, scoring, trials, time_budget, start)
    finally:
        lock.release()


def _run_in(folder: Path, config: SearchConfig, space, scoring: Scoring, trials: int, time_budget: float | None,
            start: float) -> SearchResult:
    storage = open_storage(folder, config.storage)
    study = open_study(config, storage, scoring, trials)
    if config.resume:
        recover_interrupted(study, storage)
    elif config.prefilter:
        keep = max(1, min(trials, math.ceil(config.prefilter / 4)))
        for params in prefilter_candidates(space, scoring.cost_model, scoring.proxy, config.prefilter, keep,
                                           config.seed):
            study.enqueue_trial(params)
    remaining = max(0, trials - count_finished(study))
    deadline = None if time_budget is None else start + time_budget
    interrupted = False
    with interrupt_once("mixsearch: stopping: saving the finished trials (a moment)") as ctrl_c:
        progress = None
        try:
            if scoring.scorer.kind == "supernet" and scoring.scorer.supernet is None:
                scoring = _with_trained_supernet(scoring, folder, config.progress)
            progress = _Progress(study, trials, trials - remaining, config.progress)
            if remaining:
                _execute(config, study, space, scoring, folder, remaining, deadline, progress)
            if config.rescore_top:
                rescore_best(study, load_trials(folder), config.rescore_top, scoring, config.progress)
        except KeyboardInterrupt:
            ctrl_c.stopping()
            interrupted = True
        finally:
            if progress is not None:
                progress.close()
        if interrupted:  # what this driver was training is no one's now: interrupted, queued again
            recover_interrupted(study, storage)
        report = RunReport.of(load_trials(folder), scoring.cost_model.metric)
        paths = write_outputs(folder, report, config.name)
    result = SearchResult(run_dir=folder, report=report, paths=paths, seconds=time.time() - start,
                          interrupted=interrupted)
    if interrupted:
        raise SearchInterrupted(result)
    return result


def _with_trained_supernet(scoring: Scoring, folder: Path, progress: bool) -> Scoring:
    """--evaluator supernet without --supernet: the run trains one into its folder first (resumed
    from its checkpoint after an interruption; reused by --resume once written)."""
    from mixsearch.evaluator.supernet import SupernetRecipe, train_supernet
    from mixsearch.evaluator.supernet.resume import checkpoint_path

    path = folder / SUPERNET_FILE
    if not path.is_file():
        print(f"mixsearch: training the supernet of the space first ({path}); a checkpoint each epoch",
              file=sys.stderr, flush=True)
        train_supernet(scoring.space, scoring.proxy, SupernetRecipe(), path,
                       resume=Path(checkpoint_path(path)).is_file(), progress=progress)
    return dataclasses.replace(scoring, scorer=CandidateScorer("supernet", str(path)))


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C: outputs of the finished trials were written; `mixsearch run --name X --resume` goes on."""

    def __init__(self, result: SearchResult):
        super().__init__(f"interrupted; finished trials are saved in {result.run_dir}")
        self.result = result


def _execute(config: SearchConfig, study: optuna.Study, space, scoring: Scoring, folder: Path,
             remaining: int, deadline: float | None, progress: "_Progress") -> None:
    if config.workers or config.ray_address:
        from .execution_ray import run_ray
        from .ray_cluster import connect
        with connect(config.ray_address, num_cpus=config.workers or None):
            run_ray(study, space, scoring, folder, remaining, deadline, config.early_stopping, config.cpus_per_trial,
                    config.gpus_per_trial, config.concurrency, on_finish=progress.update)
    else:
        from .execution_local import run_local
        run_local(study, space, scoring, remaining, deadline, config.early_stopping, on_trial=progress.update)


class _Progress:
    """A tqdm bar over the trial budget showing the best reward so far (stderr; off in tests)."""

    def __init__(self, study: optuna.Study, total: int, done: int, enabled: bool):
        self.study = study
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total if total < MAX_TRIALS else None, initial=done, desc="trials", unit="trial",
                            dynamic_ncols=True)

    def update(self, status: str) -> None:
        if self.bar is None or status not in ("complete", "pruned", "failed"):
            return
        rewards = [t.user_attrs.get("reward") for t in self.study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        rewards = [r for r in rewards if isinstance(r, (int, float)) and math.isfinite(r)]
        self.bar.set_postfix_str(f"best reward {max(rewards):.4f}" if rewards else "no trial complete yet")
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


__all__ = ["SearchConfig", "SearchResult", "SearchInterrupted", "parse_objectives",
           "resume_config", "run_search", "build_problem"]
