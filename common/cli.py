"""The ``simtel`` command line.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its
parsers and sets ``func`` on them. ``main`` imports the modules listed in ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .errors import SimtelError

_COMMAND_MODULES = (
    "commands.stack",
    "commands.ingest",
    "commands.inspect",
    "commands.db",
    "commands.chunks",
    "packaging",
    "features.cli",
    "api.keys_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simtel",
        description="Telemetry pipeline for sim racing and track days: parse, load and serve logs.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print debug logs on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"common.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except SimtelError as exc:
        print(f"simtel: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("simtel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (for example `simtel inspect f | head`). What is left
        # goes to /dev/null, so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
