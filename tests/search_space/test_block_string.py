"""The compact timm-style block string, both ways."""
from __future__ import annotations

import pytest

from mixsearch.search_space import (BlockSpec, SpecError, decode_block, encode_block, load_preset, preset_names,
                                    to_timm_arch_def)


def test_known_string_decodes_to_the_fields():
    block = decode_block("ir_r1_k3.5.7_a1.1_p1.1_s2_e6_c40_se0.5_nsw")
    assert block == BlockSpec(out_chs=40, repeats=1, kernels=(3, 5, 7), exp_groups=2, proj_groups=2, stride=2,
                              exp_ratio=6, se_ratio=0.5, act="swish")
    assert encode_block(block) == "ir_r1_k3.5.7_a1.1_p1.1_s2_e6_c40_se0.5_nsw"


def test_reference_two_digit_stride():
    assert decode_block("ir_r1_k3_s22_e6_c24").stride == 2
    assert decode_block("ir_r1_k3_s11_e6_c24").stride == 1


def test_round_trip_of_every_block(random_specs, space_specs):
    blocks = [b for a in random_specs + space_specs for b in a.blocks]
    blocks += [b for name in preset_names() for b in load_preset(name).blocks]
    for default_act in ("relu", "swish"):
        for block in blocks:
            assert decode_block(encode_block(block, default_act), default_act) == block


def test_timm_arch_def_of_mixnet_s():
    rows = to_timm_arch_def(load_preset("mixnet_s"))
    assert rows[3] == ["ir_r1_k3.5.7_s2_e6_c40_se0.5_nsw"]
    assert rows[-1] == ["ir_r2_k3.5.7.9_p1.1_s1_e6_c200_se0.5_nsw"]


def test_timm_refuses_what_it_cannot_read():
    arch = load_preset("mixnet_s")
    blocks = list(arch.blocks)
    blocks[3] = decode_block("ir_r1_k3.5.7_s2_e6_c40_x2")
    with pytest.raises(SpecError, match="blocks\\[3\\]"):
        to_timm_arch_def(arch.replace(blocks=tuple(blocks)))


@pytest.mark.parametrize("text, words", [
    ("xx_r1_c16", "must start with"), ("ir_r1_k3_s1", "no output channels"), ("ir_q7_c16", "unknown option"),
    ("ir_r1_k3_a1.3_c16", "pointwise kernels"), ("ir_r1_k3_x3_c16", "x2"), ("ir_r1_k3_c16_sex", "unknown option"),
    ("ir_r1_k4_c16", "odd"),
])
def test_bad_strings(text, words):
    with pytest.raises(SpecError, match=words):
        decode_block(text)
