"""Every `--help` of the `mixsearch` command prints and exits 0, however deep the subcommand."""
from __future__ import annotations

import argparse

import pytest

from mixsearch.cli.app import build_parser


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    yield prefix
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _command_paths(sub, prefix + (name,))


PATHS = list(_command_paths(build_parser()))


def test_the_walk_finds_nested_subcommands():
    assert ("latency", "build") in PATHS and ("run",) in PATHS and () in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "mixsearch")
def test_help_prints(path, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([*path, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mixsearch") and "--help" in out
