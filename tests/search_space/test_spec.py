"""Specs: exact round trips through dicts and YAML, and strict validation naming the field path."""
from __future__ import annotations

import pytest
import yaml

from mixsearch.search_space import (ArchSpec, BlockSpec, SpecError, dump_arch, load_preset, loads_arch,
                                    preset_names, resolve_layers, save_arch, load_arch)


@pytest.mark.parametrize("name", preset_names())
def test_presets_round_trip(name, tmp_path):
    arch = load_preset(name)
    assert ArchSpec.from_dict(arch.to_dict()) == arch
    assert loads_arch(dump_arch(arch)) == arch
    save_arch(arch, tmp_path / "a.yaml", metadata={"note": "x"})
    assert load_arch(tmp_path / "a.yaml") == arch


def test_random_specs_round_trip(random_specs, space_specs):
    for arch in random_specs + space_specs:
        assert ArchSpec.from_dict(arch.to_dict()) == arch
        assert loads_arch(dump_arch(arch)) == arch
        # the dict form is plain data: it survives YAML as mappings too (not only as block strings)
        assert ArchSpec.from_dict(yaml.safe_load(yaml.safe_dump(arch.to_dict()))) == arch


def test_specs_are_frozen_and_not_mutated():
    arch = load_preset("mixnet_s")
    before = arch.to_dict()
    resolve_layers(arch)
    with pytest.raises(AttributeError):
        arch.blocks[0].out_chs = 3  # type: ignore[misc]
    assert arch.to_dict() == before


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        arch = loads_arch(text, source="x.yaml")
        resolve_layers(arch)
    return info.value


BASE = "name: t\nresolution: 64\nblocks:\n"


@pytest.mark.parametrize("text, path, words", [
    (BASE + "- {out_chs: 16, colour: red}\n", "blocks[0].colour", "unknown key"),
    ("name: t\nwidth: 3\nblocks: [ir_r1_k3_s1_e1_c16]\n", "width", "unknown key"),
    (BASE + "- {out_chs: 16, kernels: [3, 4]}\n", "blocks[0].kernels[1]", "odd"),
    (BASE + "- ir_r1_k3.4_s1_e1_c16\n", "blocks[0].kernels[1]", "odd"),
    (BASE + "- {out_chs: 16, stride: -1}\n", "blocks[0].stride", "allowed: 1, 2"),
    (BASE + "- {out_chs: 16, stride: 3}\n", "blocks[0].stride", "allowed: 1, 2"),
    (BASE + "- {out_chs: sixteen}\n", "blocks[0].out_chs", "integer"),
    (BASE + "- {out_chs: 16, kernels: 3}\n", "blocks[0].kernels", "list"),
    (BASE + "- {out_chs: 16, act: gelu}\n", "blocks[0].act", "relu, relu6, swish"),
    (BASE + "- {out_chs: 16, repeats: 0}\n", "blocks[0].repeats", "in [1, 32]"),
    ("name: t\nresolution: 64\nblocks: []\n", "blocks", "non-empty"),
    ("name: t\nresolution: '64'\nblocks: [ir_r1_k3_s1_e1_c16]\n", "resolution", "integer"),
    # 16 stem channels, no expansion: 16 depthwise channels cannot take 17 groups
    (BASE + "- ir_r1_k3.5.7.9.11.13_s1_e1_c16_x2\n", "blocks[0].kernels", "cannot be split"),
    (BASE + "- {out_chs: 8, proj_groups: 16}\n", "blocks[0].proj_groups", "cannot be split"),
    (BASE + "- {out_chs: 16, kernels: [3, 5, 7, 9, 11, 13], split: exp}\n", "blocks[0].kernels", "cannot be split"),
    (BASE + "- ir_r1_k3_s1_e1_c16_zz9\n", "blocks[0]", "unknown option"),
    (BASE + "- {out_chs: 16, block_type: ds, exp_ratio: 6}\n", "blocks[0].exp_ratio", "ds"),
])
def test_validation_names_the_field(text, path, words):
    err = _error(text)
    assert err.path == path, str(err)
    assert words in str(err)
    assert str(err).startswith("x.yaml: ")
    assert "\n" not in str(err)


def test_malformed_yaml_names_the_line():
    err = _error("name: t\nblocks: [ir_r1_k3_c16\n")
    assert "not valid YAML" in str(err) and "line" in str(err)


def test_block_spec_rejects_wrong_types_directly():
    with pytest.raises(SpecError, match="block.kernels"):
        BlockSpec(out_chs=16, kernels=())
    with pytest.raises(SpecError, match="block.se_ratio"):
        BlockSpec(out_chs=16, se_ratio=2.0)
