"""The `mixsearch` command. Thin: parse, load, call the library, print."""
import sys


def main(argv=None) -> int:
    from .app import run_cli

    return run_cli(sys.argv[1:] if argv is None else argv)
