"""Strict parsing of search space files: each error names the file and the field path."""
from __future__ import annotations

import pytest

from mixsearch.search_space import SpecError
from mixsearch.search_space.space import load_space, loads_space

HEAD = "name: t\nresolution: 32\nstem_chs: 8\nstages:\n"
STAGE = "- {stride: 2, depth: [1, 2], width: [16, 24], kernels: [[3], [3, 5]], exp_ratio: [1, 6]"


def _space(extra: str = "", stage_extra: str = "", more: str = "") -> str:
    return HEAD + STAGE + stage_extra + "}\n" + more + extra


def test_minimal_space_loads():
    space = loads_space(_space())
    assert space.stages[0].se_ratio == (0.0,) and space.stages[0].act == ("relu",)
    assert loads_space(_space(extra="act: swish\n")).stages[0].act == ("swish",)  # the network's by default


@pytest.mark.parametrize("text, path, words", [
    (_space(extra="colour: red\n"), "colour", "unknown key"),
    (_space(stage_extra=", colour: red"), "stages[0].colour", "unknown key"),
    (_space(stage_extra=", kernels: [[3], [3, 4]]").replace("kernels: [[3], [3, 5]], ", ""),
     "stages[0].kernels[1][1]", "odd"),
    (_space(stage_extra=", kernels: [3, 5]").replace("kernels: [[3], [3, 5]], ", ""), "stages[0].kernels[0]", "list"),
    (HEAD + "- {stride: -1, depth: [1], width: [16], kernels: [[3]], exp_ratio: [1]}\n", "stages[0].stride", "1, 2"),
    (HEAD + "- {stride: 2, depth: [0], width: [16], kernels: [[3]], exp_ratio: [1]}\n", "stages[0].depth[0]", "integer"),
    (HEAD + "- {stride: 2, depth: 2, width: [16], kernels: [[3]], exp_ratio: [1]}\n", "stages[0].depth", "list"),
    (HEAD + "- {stride: 2, depth: [1], width: ['16'], kernels: [[3]], exp_ratio: [1]}\n", "stages[0].width[0]", "integer"),
    (HEAD + "- {stride: 2, depth: [1], width: [16], kernels: [[3]]}\n", "stages[0].exp_ratio", "required"),
    (_space(stage_extra=", se_ratio: [0, 1.5]"), "stages[0].se_ratio[1]", "[0, 1]"),
    (_space(stage_extra=", act: [relu, gelu]"), "stages[0].act[1]", "swish"),
    (_space(stage_extra=", split: [equal, halves]"), "stages[0].split[1]", "exp"),
    (_space(stage_extra=", se_ratio: [0.25, 0.25]"), "stages[0].se_ratio[1]", "duplicate"),
    (HEAD + "- {block_type: ds, stride: 1, depth: [1], width: [16], kernels: [[3]], exp_ratio: [1, 6]}\n",
     "stages[0].exp_ratio", "ds"),
    # 8 stem channels x exp_ratio 1: 8 depthwise channels cannot take 9 groups / the halving split of 5
    (_space(stage_extra=", kernels: [[3], [3, 5, 7, 9, 11, 13, 15, 17, 19]]").replace("kernels: [[3], [3, 5]], ", ""),
     "stages[0].kernels[1]", "cannot be split"),
    (_space(stage_extra=", kernels: [[3, 5, 7, 9, 11]], split: [exp]").replace("kernels: [[3], [3, 5]], ", ""),
     "stages[0].kernels[0]", "'exp' split"),
    (_space(stage_extra=", proj_groups: [1, 16]"), "stages[0].proj_groups[1]", "cannot be split"),
    (_space(stage_extra=", exp_groups: [16]"), "stages[0].exp_groups[0]", "cannot be split"),
    (_space(more="- {stride: 1, depth: [1], width: [24, 32], kernels: [[3]], exp_ratio: [1]}\n"),
     "stages[1].width", "overlap"),
    (HEAD, "stages", "non-empty"),
    ("schema_version: 2\n" + _space(), "schema_version", "reads 1"),
    ("kind: arch\n" + _space(), "kind", "space"),
    (_space(extra="resolution: big\n").replace("resolution: 32\n", ""), "resolution", "integer"),
    (_space(extra="stem_stride: 3\n"), "stem_stride", "1, 2"),
])
def test_errors_name_the_field(text, path, words):
    with pytest.raises(SpecError) as info:
        loads_space(text, source="s.yaml")
    assert info.value.path == path, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith("s.yaml: ") and "\n" not in str(info.value)


def test_malformed_yaml_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match="s.yaml: not valid YAML at line"):
        loads_space("stages: [\n  - {stride: 2\n", source="s.yaml")
    with pytest.raises(SpecError, match="missing.yaml: file not found; give the path of a space YAML.*default"):
        load_space(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="expected a mapping"):
        loads_space("- 1\n- 2\n")


def test_direct_construction_is_checked_too():
    from mixsearch.search_space.space import SearchSpace
    from mixsearch.search_space.space_spec import StageSpace
    stage = StageSpace(stride=2, depth=[1, 2], width=(16,), kernels=([3], (3, 5)), exp_ratio=(1, 6), se_ratio=(0, 1))
    assert stage.kernels == ((3,), (3, 5)) and stage.depth == (1, 2) and stage.se_ratio == (0.0, 1.0)
    with pytest.raises(SpecError, match="stage.stride"):
        StageSpace(stride=3, depth=(1,), width=(16,), kernels=((3,),), exp_ratio=(1,))
    with pytest.raises(SpecError, match=r"stage.kernels\[0\]\[0\]"):
        StageSpace(stride=1, depth=(1,), width=(16,), kernels=((4,),), exp_ratio=(1,))
    with pytest.raises(SpecError, match=r"stages\[0\]"):
        SearchSpace(stages=({"stride": 1},))
    assert SearchSpace(stages=[stage]).stages == (stage,)
