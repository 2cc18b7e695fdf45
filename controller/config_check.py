"""One pass over every value of a search's settings, before the run folder exists.

A value a search would only trip over later (a seed Optuna's samplers refuse, a NaN exponent that
fails every trial, a latency cap with nothing to predict latency) is refused here with one line
naming where it came from: the command-line flag, or the field of a resumed run's config.yaml.
Every number is bounded, so no setting can make a search allocate or loop without end.
"""
from __future__ import annotations

from typing import Any, Callable

from mixsearch.search_space import checks
from mixsearch.search_space.cost import MAX_FLOPS
from mixsearch.search_space.errors import UsageError

from .scorers import EVALUATORS
from .search_config import DEFINING_FIELDS, FLAGS, OBJECTIVE_SETS

MAX_SEED = 2 ** 32 - 1           # numpy's RandomState (Optuna's samplers) takes no more
MAX_TRIALS = 100_000             # the bound when only a time budget is given
MAX_RESCORE = 1000               # proxy trainings at the end of a two-stage search
MAX_PREFILTER = 10_000           # zero-cost scores, ~0.1 s each: hours at this bound
MAX_WORKERS = 4096               # CPUs of a private local Ray
MAX_RESOURCES_PER_TRIAL = 1024.0
MAX_EXPONENT = 10.0              # |alpha|, |beta|: the MnasNet papers use 0, -0.07 and -1
MAX_LATENCY_MS = 1e7             # about three hours per inference
MAX_TIME_BUDGET_S = 366 * 86400.0
LATENCY_RUNTIMES = ("eager", "onnxruntime", "xnnpack")

def _checks() -> dict[str, Callable[[Any], str | None]]:
    from .reward import REWARD_PRESETS
    from .samplers import SAMPLERS

    def objectives(value: Any) -> str | None:
        names = tuple(value) if isinstance(value, (list, tuple)) else None
        return None if names in OBJECTIVE_SETS else "reward, accuracy,flops or accuracy,latency"

    return {
        "name": checks.text, "runs_dir": checks.text, "space": checks.text,
        "target_flops": checks.optional(checks.integer(1, MAX_FLOPS)), "flops_cap": checks.optional(checks.integer(1, MAX_FLOPS)),
        "target_latency_ms": checks.optional(checks.number(0, MAX_LATENCY_MS, open_low=True)),
        "latency_cap_ms": checks.optional(checks.number(0, MAX_LATENCY_MS, open_low=True)),
        "latency_table": checks.optional(checks.text), "latency_runtime": checks.optional(checks.one_of(LATENCY_RUNTIMES)),
        "reward": checks.one_of(tuple(REWARD_PRESETS)),
        "alpha": checks.optional(checks.number(-MAX_EXPONENT, MAX_EXPONENT)), "beta": checks.optional(checks.number(-MAX_EXPONENT, MAX_EXPONENT)),
        "objectives": objectives, "sampler": checks.one_of(tuple(SAMPLERS)), "seed": checks.integer(0, MAX_SEED),
        "trials": checks.optional(checks.integer(1, MAX_TRIALS)),
        "time_budget_s": checks.optional(checks.number(0, MAX_TIME_BUDGET_S, open_low=True)),
        "prefilter": checks.integer(0, MAX_PREFILTER), "evaluator": checks.one_of(EVALUATORS),
        "supernet": checks.optional(checks.text), "rescore_top": checks.integer(0, MAX_RESCORE), "early_stopping": checks.boolean, "workers": checks.integer(0, MAX_WORKERS),
        "ray_address": checks.optional(checks.text),
        "cpus_per_trial": checks.number(0, MAX_RESOURCES_PER_TRIAL, open_low=True),
        "gpus_per_trial": checks.number(0, MAX_RESOURCES_PER_TRIAL),
        "concurrency": checks.optional(checks.integer(1, MAX_TRIALS)), "storage": checks.optional(checks.text), "resume": checks.boolean,
        "progress": checks.boolean,
    }


def check_values(values: dict[str, Any], source: str | None = None, given: frozenset[str] | set[str] = frozenset(),
                 flags_replace: bool = True) -> None:
    """Raise UsageError for the first value out of its type or range. A field is named by its flag,
    or, when `source` (a run's config.yaml) is given and the field was not `given` on the command
    line, as a field of that file (`flags_replace`: whether a flag could replace it, as on --resume)."""
    for field, check in _checks().items():
        if field not in values:
            continue
        expected = check(values[field])
        if expected is None:
            continue
        shown = values[field]
        if isinstance(shown, tuple):
            shown = ",".join(map(str, shown))
        if source is not None and field not in given:
            fix = ("the run was started with it: fix the file" if field in DEFINING_FIELDS or not flags_replace
                   else f"fix the file or give {FLAGS.get(field, field)} to replace it")
            raise UsageError(f"{source}: {field}: got {shown!r}; expected {expected}; {fix}")
        raise UsageError(f"{FLAGS.get(field, field)}: got {shown!r}; expected {expected}")
    _check_combinations(values, lambda f: FLAGS[f] if source is None or f in given else f"{source}: {f}")


def _check_combinations(values: dict[str, Any], label: Callable[[str], str]) -> None:
    from .ray_cluster import parse_address

    if values.get("supernet") is not None and values.get("evaluator", "proxy") != "supernet":
        raise UsageError(f"{label('supernet')}: a supernet scores candidates only with --evaluator supernet; add it, "
                         "or drop --supernet")
    address = values.get("ray_address")
    if address is not None:
        parse_address(address)
    objectives = tuple(values.get("objectives") or ("reward",))
    latency_known = (values.get("latency_table") is not None or values.get("target_latency_ms") is not None
                     or "latency" in objectives)
    if values.get("latency_cap_ms") is not None and not latency_known:
        # Without a table or a latency target nothing predicts a candidate's latency to compare with the cap.
        raise UsageError(f"{label('latency_cap_ms')}: {values['latency_cap_ms']:g} ms, but nothing predicts latency "
                          "in a FLOPs search; give --latency-table FILE or --target-latency, or cap --flops-cap")
