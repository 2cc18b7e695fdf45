"""Argument parsing and error handling shared by every subcommand.

Each command module in COMMAND_MODULES defines `register(subparsers)`, adding its subcommand(s)
with `set_defaults(func=...)`; func(args) returns the exit code.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from mixsearch.search_space.errors import MixsearchError, one_line

COMMAND_MODULES = ("run", "show", "export", "evaluate", "train", "compare", "supernet", "latency", "space")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixsearch", description="Neural architecture search over MixConv networks.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"mixsearch.cli.{name}") is not None:
            importlib.import_module(f"mixsearch.cli.{name}").register(subparsers)
    return parser


def run_cli(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MixsearchError as err:
        print(f"mixsearch: error: {one_line(str(err))}", file=sys.stderr)  # one line, whatever the file held
        return 2
    except KeyboardInterrupt:
        print("mixsearch: interrupted", file=sys.stderr)
        return 130
