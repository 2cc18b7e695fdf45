"""A search's settings as one frozen dataclass: what `config.yaml` of a run folder holds.

Each field says, once, the command-line flag that sets it and whether it defines what is searched
(`defining`: a resumed run must keep it) or only how (`setting`: budget, execution, output). The
value checks are config_check.py's; the CLI derives its fields from these.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixsearch.search_space.errors import MixsearchError

from .run_folder import RunFolderError

OBJECTIVE_SETS = {("reward",), ("accuracy", "flops"), ("accuracy", "latency")}


def defining(default: Any, flag: str | None = None) -> Any:
    """A field that defines what is searched: a resumed run keeps it."""
    return dataclasses.field(default=default, metadata={"flag": flag, "defining": True})


def setting(default: Any, flag: str | None = None) -> Any:
    """A field of how the search runs (budget, execution, output): a resume may change it."""
    return dataclasses.field(default=default, metadata={"flag": flag, "defining": False})


@dataclass(frozen=True)
class SearchConfig:
    name: str = setting("search", "--name")
    runs_dir: str = setting("runs", "--runs-dir")
    space: str = defining("default", "--space")                         # a shipped space name or a space YAML path
    target_flops: int | None = defining(None, "--target-flops")         # multiply-adds at the space's resolution
    target_latency_ms: float | None = defining(None, "--target-latency")
    # No latency_table: this machine's table (latency/cache.py), measured on latency_runtime
    # (None: xnnpack if installed, else onnxruntime).
    latency_table: str | None = defining(None, "--latency-table")
    latency_runtime: str | None = defining(None, "--latency-runtime")
    reward: str = defining("soft", "--reward")                          # soft | hard (REWARD_PRESETS)
    alpha: float | None = defining(None, "--alpha")                     # override the preset's exponents
    beta: float | None = defining(None, "--beta")
    flops_cap: int | None = defining(None, "--flops-cap")               # None: from the target (module docstring)
    latency_cap_ms: float | None = defining(None, "--latency-cap")
    objectives: tuple[str, ...] = defining(("reward",), "--objectives")  # or accuracy + flops|latency: Pareto
    sampler: str = defining("tpe", "--sampler")
    seed: int = defining(0, "--seed")
    trials: int | None = setting(None, "--trials")
    time_budget_s: float | None = setting(None, "--time-budget")
    evaluator: str = defining("proxy", "--evaluator")                   # proxy | supernet (scorers.EVALUATORS)
    supernet: str | None = defining(None, "--supernet")                 # its path; None: trained in the run folder
    rescore_top: int = setting(0, "--rescore-top")                      # re-score the k best by proxy training
    prefilter: int = defining(0, "--prefilter")                         # zero-cost score N random, queue the best
    proxy: Any = defining(None)                                         # evaluator.ProxyConfig; None: its defaults
    early_stopping: bool = defining(True, "--no-early-stopping")        # Optuna's median pruner in-process, ASHA on Ray
    workers: int = setting(0, "--workers")                              # > 0: a local Ray with this many CPUs
    ray_address: str | None = setting(None, "--ray-address")            # HOST:PORT of a running Ray cluster
    cpus_per_trial: float = setting(1.0, "--cpus-per-trial")
    gpus_per_trial: float = setting(0.0, "--gpus-per-trial")
    concurrency: int | None = setting(None, "--concurrency")            # Ray trials at once; None: as resources allow
    storage: str | None = defining(None, "--storage")                   # SQLAlchemy URL; None: runs/<name>/study.db
    resume: bool = setting(False, "--resume")
    progress: bool = setting(True, "--no-progress")

    def replace(self, **changes: Any) -> "SearchConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["objectives"] = list(self.objectives)
        data["proxy"] = self.proxy_config().to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SearchConfig":
        from mixsearch.evaluator import ProxyConfig
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names, key=str)
        if unknown:
            raise RunFolderError(f"unknown key {unknown[0]!r}; the run folder was written by another "
                                 f"mixsearch version")
        values = dict(data)
        if isinstance(values.get("objectives"), list):
            values["objectives"] = tuple(values["objectives"])
        if values.get("proxy") is not None:
            try:
                values["proxy"] = ProxyConfig.from_dict(values["proxy"])
            except MixsearchError as err:
                raise RunFolderError(f"proxy: {err}") from None
        return cls(**values)

    def proxy_config(self):
        from mixsearch.evaluator import ProxyConfig
        return self.proxy if self.proxy is not None else ProxyConfig()

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name


DEFINING_FIELDS = tuple(f.name for f in dataclasses.fields(SearchConfig) if f.metadata["defining"])
FLAGS = {f.name: f.metadata["flag"] for f in dataclasses.fields(SearchConfig) if f.metadata["flag"]}
