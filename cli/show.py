"""`mixsearch show runs/<name>`: the summary of a search, finished or still running."""
from __future__ import annotations

import argparse

from mixsearch.controller.summary import format_summary


def register(subparsers) -> None:
    p = subparsers.add_parser("show", help="print the summary of a search run")
    p.add_argument("run_dir", help="the run folder, e.g. runs/search-20260101-120000")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    print(format_summary(args.run_dir), end="")
    return 0
