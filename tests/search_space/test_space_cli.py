"""`mixsearch space info|sample` (the command module alone, so other commands cannot break this test)."""
from __future__ import annotations

import argparse

import pytest

from mixsearch.cli import space as space_cli
from mixsearch.search_space import SpecError, count_flops, load_arch_with_metadata
from mixsearch.search_space.space import default_space


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mixsearch")
    space_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_info(capsys):
    assert _run(["space", "info"]) == 0
    out = capsys.readouterr().out
    space = default_space()
    assert f"{space.size():.4g}" in out
    assert "presets inside:   mixnet_s\n" in out
    assert f"distinct layers:  {len(space.possible_layers())}" in out
    assert f"{space.min_flops() / 1e6:.1f}M .. {space.max_flops() / 1e6:.1f}M" in out


def test_sample_writes_a_seeded_arch(tmp_path, capsys):
    assert _run(["space", "sample", "default", "--seed", "4", "--out", str(tmp_path / "a.yaml")]) == 0
    assert _run(["space", "sample", "--seed", "4", "--out", str(tmp_path / "b.yaml")]) == 0
    arch, metadata = load_arch_with_metadata(tmp_path / "a.yaml")
    assert (tmp_path / "a.yaml").read_text() == (tmp_path / "b.yaml").read_text()
    assert default_space().contains(arch) and metadata["flops"] == count_flops(arch)
    assert metadata["space_fingerprint"] == default_space().fingerprint()
    assert "wrote" in capsys.readouterr().out


def test_unknown_space_is_a_user_error():
    with pytest.raises(SpecError, match="no_such_space"):
        _run(["space", "info", "no_such_space"])
