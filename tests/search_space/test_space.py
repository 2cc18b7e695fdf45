"""The search space: membership, sampling, Optuna, the choice vector, size and exact cost bounds."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import optuna
import pytest

from mixsearch.search_space import count_flops, count_params, load_preset, preset_names, resolve_layers
from mixsearch.search_space.space import SearchSpace, default_space, dump_space, load_space, loads_space
from mixsearch.search_space.space_spec import canonical_arch

TINY = """
name: tiny
resolution: 32
num_classes: 10
stem_chs: 8
head_chs: 32
stages:
- {stride: 2, depth: [1, 2], width: [8, 16], kernels: [[3], [3, 5]], exp_ratio: [1, 3], exp_groups: [1, 2]}
- {stride: 1, depth: [1], width: [24], kernels: [[3], [3, 5]], exp_ratio: [2], split: [equal, exp], act: [swish]}
- {stride: 2, depth: [1], width: [32, 40], kernels: [[3]], exp_ratio: [1, 6], se_ratio: [0.25]}
"""


@pytest.fixture(scope="module")
def tiny() -> SearchSpace:
    return loads_space(TINY)


@pytest.fixture(scope="module")
def tiny_archs(tiny):
    """Every architecture of the tiny space, by brute force over every choice vector."""
    archs = {tiny.decode(v) for v in itertools.product(*(range(n) for n in tiny.choice_sizes))}
    assert len(list(itertools.product(*(range(n) for n in tiny.choice_sizes)))) == 2 ** 12
    return archs


def test_default_space_contains_mixnet_s_only():
    space = default_space()
    assert space.contains(load_preset("mixnet_s"))
    for name in set(preset_names()) - {"mixnet_s"}:
        assert not space.contains(load_preset(name))
        assert "stem_chs" in space.why_not(load_preset(name))
    # MixNet-S's stage 3 layer 1 with an 11 kernel: the 5-group set is allowed in the last stage only
    mixnet_s = load_preset("mixnet_s")
    blocks = list(mixnet_s.blocks)
    blocks[4] = dataclasses.replace(blocks[4], kernels=(3, 5, 7, 9, 11))
    reason = space.why_not(mixnet_s.replace(blocks=tuple(blocks)))
    assert reason.startswith("layer 4 (stage s2, layer 1): kernels 3.5.7.9.11 not among"), reason


def test_membership_ignores_the_name_and_how_rows_are_merged():
    space = default_space()
    arch = load_preset("mixnet_s")
    blocks = list(arch.blocks)
    # ir_r3 written as r1 + r2 is the same network
    blocks[4:5] = [dataclasses.replace(blocks[4], repeats=1), dataclasses.replace(blocks[4], repeats=2)]
    split = arch.replace(blocks=tuple(blocks), name="other")
    assert space.contains(split)
    assert space.decode(space.encode(split)) == canonical_arch(arch).replace(name="")
    assert canonical_arch(split) == arch.replace(name="other")


def test_round_trip_and_fingerprint(tmp_path):
    space = default_space()
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert loads_space(dump_space(space)) == space
    (tmp_path / "s.yaml").write_text(dump_space(space))
    assert load_space(tmp_path / "s.yaml") == space
    assert load_space("default") == space
    assert space.fingerprint() == loads_space(dump_space(space)).fingerprint()
    assert space.replace(name="renamed").fingerprint() == space.fingerprint()
    assert space.replace(resolution=192).fingerprint() != space.fingerprint()
    assert len(space.fingerprint()) == 64


def test_sample_is_seeded_and_inside():
    space = default_space()
    first = [space.sample(np.random.default_rng(3)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng = np.random.default_rng(3)
    archs = [space.sample(rng) for _ in range(40)]
    assert archs[0] == first[0]
    assert len(set(archs)) == 40
    for arch in archs:
        assert space.contains(arch)
        assert space.decode(space.encode(arch)) == arch


def test_encode_decode_vectors(tiny):
    space = default_space()
    rng = np.random.default_rng(0)
    assert len(space.choice_sizes) == len(space.choice_names) == len(set(space.choice_names))
    for _ in range(30):
        vector = tuple(int(rng.integers(n)) for n in space.choice_sizes)
        arch = space.decode(vector)
        encoded = space.encode(arch)
        assert len(encoded) == len(vector)
        assert space.decode(encoded) == arch
        assert space.encode(space.decode(encoded)) == encoded  # canonical: absent positions are 0
    mixnet_s = space.encode(load_preset("mixnet_s"))
    names = dict(zip(space.choice_names, mixnet_s))
    assert names["s2.depth"] == 2 and names["s2.l0.kernels"] == 2 and names["s1.depth"] == 1
    assert names["s1.l2.kernels"] == 0  # s1 has 2 layers: layer 2 is absent and encodes as 0


def test_decode_and_encode_errors(tiny):
    from mixsearch.search_space import SpecError
    with pytest.raises(SpecError, match="expected 12 choices"):
        tiny.decode([0] * 3)
    with pytest.raises(SpecError, match=r"vector\[s0.depth\]"):
        tiny.decode([5] + [0] * 11)
    with pytest.raises(SpecError, match="not in search space"):
        tiny.encode(load_preset("mixnet_s"))


def test_size_and_bounds_match_brute_force(tiny, tiny_archs):
    assert tiny.size() == len(tiny_archs) == 2 * (6 + 6 ** 2) * 3 * 2 * 2
    flops = [count_flops(a) for a in tiny_archs]
    params = [count_params(a) for a in tiny_archs]
    assert (tiny.min_flops(), tiny.max_flops()) == (min(flops), max(flops))
    assert (tiny.min_params(), tiny.max_params()) == (min(params), max(params))
    assert all(tiny.contains(a) and tiny.decode(tiny.encode(a)) == a for a in tiny_archs)


def test_possible_layers_are_exactly_the_layers_of_the_archs(tiny, tiny_archs):
    seen = {layer for arch in tiny_archs for layer in resolve_layers(arch)}
    assert tiny.possible_layers() == seen


def test_default_space_size_and_bounds():
    space = default_space()
    per_layer = 4 * 5 * 3 * 2 * 2  # kernel sets, exp_ratio x exp_groups (1 | 3,6 x 1,2), SE, act, proj groups
    last = 5 * 5 * 3 * 2 * 2
    expected = 2 * sum(per_layer ** d for d in (1, 2, 3))
    expected *= (2 * sum(per_layer ** d for d in (2, 3, 4))) ** 3 * 2 * sum(last ** d for d in (2, 3, 4))
    assert space.size() == expected
    lo, hi = space.min_flops(), space.max_flops()
    assert lo < count_flops(load_preset("mixnet_s")) < hi
    rng = np.random.default_rng(1)
    for _ in range(30):
        assert lo <= count_flops(space.sample(rng)) <= hi
    layers = space.possible_layers()
    # stem + 2 heads + the ds layer; each stage: (previous widths x widths + widths) x per-layer choices
    assert len(layers) == 3 + 1 + (1 * 2 + 2) * per_layer + 3 * (2 * 2 + 2) * per_layer + (2 * 2 + 2) * last
    for _ in range(30):
        assert set(resolve_layers(space.sample(rng))) <= layers
    # a cost that counts layers: the bounds are the shallowest and deepest networks
    assert space.cost_bounds(lambda layer: 1) == (2 + 1 + 1 + 2 * 4, 2 + 1 + 3 + 4 * 4)


def _study(space, storage, n_trials: int):
    study = optuna.create_study(study_name="s", storage=storage, sampler=optuna.samplers.RandomSampler(seed=5))
    archs = []

    def objective(trial):
        arch = space.suggest(trial)
        archs.append(arch)
        return count_flops(arch) / 1e6
    study.optimize(objective, n_trials=n_trials)
    return study, archs


def _check_trials(space, study, archs):
    for trial, arch in zip(study.trials, archs):
        assert space.contains(arch)
        assert space.from_params(trial.params) == arch
        assert set(trial.params) <= set(space.choice_names)
        for i, stage in enumerate(space.stages):
            depth = trial.params.get(f"s{i}.depth", stage.depth[0])
            layers = {int(k.split(".")[1][1:]) for k in trial.params if k.startswith(f"s{i}.l")}
            if any(d.stage == i and d.layer >= 0 for d in space.dims):
                assert layers == set(range(depth))  # layer choices for, and only for, layers below the depth
        for k, v in trial.params.items():
            if k.endswith(".kernels"):
                assert isinstance(v, str) and all(p.isdigit() for p in v.split("."))
            if k.endswith(".exp_groups"):
                assert trial.params[k.replace("exp_groups", "exp_ratio")] > 1
            if k.endswith(".split"):
                assert "." in trial.params[k.replace("split", "kernels")]


def test_suggest_with_a_real_optuna_study_in_sqlite(tiny, tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study, archs = _study(tiny, storage, 12)
    _, again = _study(tiny, None, 12)
    assert archs == again  # seeded sampler, same space: same proposals, whatever the storage
    loaded = optuna.load_study(study_name="s", storage=storage)
    _check_trials(tiny, loaded, archs)
    assert any(t.params.get("s0.depth") == 2 for t in loaded.trials)
    assert any("s0.l0.exp_groups" in t.params for t in loaded.trials)
    assert any("s0.l0.exp_groups" not in t.params for t in loaded.trials)
    assert tiny.from_params({**loaded.best_params, "lr": 0.1}) == archs[loaded.best_trial.number]


def test_suggest_on_the_default_space():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = default_space()
    study, archs = _study(space, None, 6)
    _check_trials(space, study, archs)
    assert len(set(archs)) == 6


DILATED = TINY.replace("act: [swish]}", "act: [swish], dilation: [1, 2]}")


def test_a_per_layer_choice_added_as_data_dilation():
    """Dilation became a space choice by two edits (a StageSpace field, its element check): the
    codec, membership, size, cost bounds and the file form follow from the field list."""
    plain, dilated = loads_space(TINY), loads_space(DILATED)
    assert "s1.l0.dilation" in dilated.choice_names and "s1.l0.dilation" not in plain.choice_names
    assert dilated.size() == 2 * plain.size()  # one layer, two dilations
    archs = {dilated.decode(v) for v in itertools.product(*(range(n) for n in dilated.choice_sizes))}
    assert len(archs) == dilated.size()
    assert {b.dilation for a in archs for b in a.blocks} == {1, 2}
    for arch in archs:
        assert dilated.contains(arch) and dilated.decode(dilated.encode(arch)) == arch
    two = next(a for a in archs if any(b.dilation == 2 for b in a.blocks))
    assert "dilation 2 not among 1" in plain.why_not(two)
    # a dilated depthwise conv does the same multiply-adds on the same weights
    one = two.replace(blocks=tuple(dataclasses.replace(b, dilation=1) for b in two.blocks))
    assert (count_flops(two), count_params(two)) == (count_flops(one), count_params(one))
    assert len(dilated.possible_layers()) > len(plain.possible_layers())
    assert loads_space(dump_space(dilated)) == dilated
    # a space that does not use the new field keeps its file form, so its fingerprint is unchanged
    assert "dilation" not in dump_space(plain) and plain.fingerprint() != dilated.fingerprint()
