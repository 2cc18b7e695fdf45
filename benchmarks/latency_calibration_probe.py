"""Does one affine calibration serve the whole space? Affine vs a term per entry kind, on a table.

A table's calibration is fitted on networks spread over the FLOPs range; a search first proposes
uniform samples of the space, which hold more split MixConvs and grouped 1x1 convs. This measures
networks of both populations on the table's own runtime (calibration and validation sets from
disjoint seed streams), then fits on the calibration networks (a) the table's affine form and (b)
a non-negative weight per entry kind plus an intercept, least squares on relative error, and
prints the share within ±10% on each validation population. Nothing is written to the table.

    python benchmarks/latency_calibration_probe.py --table TABLE.json --calibrate 16 --validate 30
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import nnls

from mixsearch.latency import load_table
from mixsearch.latency.calibrate import fit_calibration
from mixsearch.latency.measure import Settings, measure_archs
from mixsearch.latency.signature import entry_signatures
from mixsearch.latency.validate import runtime_of
from mixsearch.search_space.layers import resolve_layers
from mixsearch.search_space.space import load_space
from mixsearch.search_space.spread import sample_across_flops

KINDS = ("stem", "head", "expand", "expand-grouped", "mixconv", "mixconv-split", "se", "project",
         "project-grouped")


def entry_kind(signature: str) -> str:
    kind = signature.split("-")[0]
    if kind == "mixconv":
        return "mixconv-split" if "." in signature.split("-k")[1].split("-")[0] else "mixconv"
    if kind in ("expand", "project") and "-g1" not in signature:
        return f"{kind}-grouped"
    return kind


def kind_sums(table, arch) -> list[float]:
    sums = dict.fromkeys(KINDS, 0.0)
    for layer in resolve_layers(arch):
        for signature in entry_signatures(layer, table.granularity):
            sums[entry_kind(signature)] += table.entry_ms(signature)
    return [sums[k] for k in KINDS] + [1.0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True)
    parser.add_argument("--space", default="default")
    parser.add_argument("--calibrate", type=int, default=16, help="networks per population to fit on")
    parser.add_argument("--validate", type=int, default=30, help="networks per population to score")
    args = parser.parse_args()
    table, space = load_table(args.table), load_space(args.space)
    table.check_space(space)
    sets = {
        ("fit", "spread"): sample_across_flops(space, args.calibrate, np.random.default_rng([7, 1])),
        ("fit", "uniform"): [space.sample(r) for r in [np.random.default_rng([7, 2])] for _ in range(args.calibrate)],
        ("score", "spread"): sample_across_flops(space, args.validate, np.random.default_rng([7, 3])),
        ("score", "uniform"): [space.sample(r) for r in [np.random.default_rng([7, 4])] for _ in range(args.validate)],
    }
    runtime = runtime_of(table)
    try:
        measured = {key: np.array([t.stats.ms for t in measure_archs(archs, runtime, table.metadata["batch"], Settings(),
                                                                   reference_ms=table.network_reference_ms)])
                    for key, archs in sets.items()}
    finally:
        runtime.close()
    features = {key: np.array([kind_sums(table, arch) for arch in archs]) for key, archs in sets.items()}

    def scored(predict) -> str:
        cells = []
        for population in ("spread", "uniform"):
            errors = predict(features[("score", population)]) / measured[("score", population)] - 1
            cells.append(f"{np.mean(np.abs(errors) <= 0.10):.0%} (median {np.median(errors):+.1%})")
        return " | ".join(cells)

    print(f"table {args.table} ({table.metadata['runtime']}); {args.validate} networks per population scored")
    print("| fitted on | calibration | within ±10%: spread | uniform |")
    print("|---|---|---|---|")
    for fitted_on in (["spread"], ["spread", "uniform"]):
        x = np.vstack([features[("fit", p)] for p in fitted_on])
        y = np.concatenate([measured[("fit", p)] for p in fitted_on])
        affine = fit_calibration(list(x[:, :-1].sum(axis=1)), list(y))
        print(f"| {' + '.join(fitted_on)} | {affine['kind']} | "
              + scored(lambda f: affine["scale"] * f[:, :-1].sum(axis=1) + affine["offset_ms"]) + " |")
        weights, _ = nnls(x / y[:, None], np.ones(len(y)))  # relative error, weights >= 0
        print(f"| {' + '.join(fitted_on)} | per entry kind | " + scored(lambda f: f @ weights) + " |")


if __name__ == "__main__":
    main()
