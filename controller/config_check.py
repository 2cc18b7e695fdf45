"""One pass over every value of a search's settings, before the run folder exists.

A value a search would only trip over later (a seed Optuna's samplers refuse, a NaN exponent that
fails every trial, a latency cap with nothing to predict latency) is refused here with one line
naming where it came from: the command-line flag, or the field of a resumed run's config.yaml.
Every number is bounded, so no setting can make a search allocate or loop without end.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from mixsearch.search_space.cost import MAX_FLOPS
from mixsearch.search_space.errors import UsageError

from .search_config import DEFINING_FIELDS, FLAGS, OBJECTIVE_SETS

MAX_SEED = 2 ** 32 - 1           # numpy's RandomState (Optuna's samplers) takes no more
MAX_TRIALS = 100_000             # the bound when only a time budget is given
MAX_PREFILTER = 10_000           # zero-cost scores, ~0.1 s each: hours at this bound
MAX_WORKERS = 4096               # CPUs of a private local Ray
MAX_RESOURCES_PER_TRIAL = 1024.0
MAX_EXPONENT = 10.0              # |alpha|, |beta|: the MnasNet papers use 0, -0.07 and -1
MAX_LATENCY_MS = 1e7             # about three hours per inference
MAX_TIME_BUDGET_S = 366 * 86400.0
LATENCY_RUNTIMES = ("eager", "onnxruntime", "xnnpack")

def _whole(lo: int, hi: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            return f"a whole number in [{lo}, {hi}]"
        return None
    return check


def _real(lo: float, hi: float, open_low: bool = False) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
              and (lo < value if open_low else lo <= value) and value <= hi)
        return None if ok else f"a finite number {'>' if open_low else '>='} {lo:g} and <= {hi:g}"
    return check


def _one_of(allowed) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and value in allowed else f"one of: {', '.join(allowed)}"
    return check


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value and "\0" not in value else "a non-empty string"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _optional(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    return lambda value: None if value is None else check(value)


def _checks() -> dict[str, Callable[[Any], str | None]]:
    from .reward import REWARD_PRESETS
    from .samplers import SAMPLERS

    def objectives(value: Any) -> str | None:
        names = tuple(value) if isinstance(value, (list, tuple)) else None
        return None if names in OBJECTIVE_SETS else "reward, accuracy,flops or accuracy,latency"

    return {
        "name": _text, "runs_dir": _text, "space": _text,
        "target_flops": _optional(_whole(1, MAX_FLOPS)), "flops_cap": _optional(_whole(1, MAX_FLOPS)),
        "target_latency_ms": _optional(_real(0, MAX_LATENCY_MS, open_low=True)),
        "latency_cap_ms": _optional(_real(0, MAX_LATENCY_MS, open_low=True)),
        "latency_table": _optional(_text), "latency_runtime": _optional(_one_of(LATENCY_RUNTIMES)),
        "reward": _one_of(tuple(REWARD_PRESETS)),
        "alpha": _optional(_real(-MAX_EXPONENT, MAX_EXPONENT)), "beta": _optional(_real(-MAX_EXPONENT, MAX_EXPONENT)),
        "objectives": objectives, "sampler": _one_of(tuple(SAMPLERS)), "seed": _whole(0, MAX_SEED),
        "trials": _optional(_whole(1, MAX_TRIALS)),
        "time_budget_s": _optional(_real(0, MAX_TIME_BUDGET_S, open_low=True)),
        "prefilter": _whole(0, MAX_PREFILTER), "early_stopping": _flag, "workers": _whole(0, MAX_WORKERS),
        "ray_address": _optional(_text),
        "cpus_per_trial": _real(0, MAX_RESOURCES_PER_TRIAL, open_low=True),
        "gpus_per_trial": _real(0, MAX_RESOURCES_PER_TRIAL),
        "concurrency": _optional(_whole(1, MAX_TRIALS)), "storage": _optional(_text), "resume": _flag,
        "progress": _flag,
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
