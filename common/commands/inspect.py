"""``simtel inspect FILE``: parse one file without storing it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ParseError, SimtelError
from ..formats import parse_path
from ..laps import detect_laps, format_lap_table
from .report import describe_session, describe_text


def register(sub) -> None:
    p = sub.add_parser("inspect", help="parse one file without storing it and print what was read")
    p.add_argument("file", type=Path, help="telemetry file to read")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    if path.is_dir():
        raise SimtelError(f"{path} is a folder; inspect reads one file")
    if not path.is_file():
        raise SimtelError(f"{path}: no such file")
    try:
        session = parse_path(path)
    except ParseError as exc:
        print(f"simtel: cannot read {exc}", file=sys.stderr)
        return 2
    laps = detect_laps(session)
    if args.json:
        print(json.dumps(describe_session(session, laps), indent=2, default=str))
    else:
        print(describe_text(session))
        if laps:
            print(format_lap_table(laps))
    return 0
