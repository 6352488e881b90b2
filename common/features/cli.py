"""``simtel results ingest`` and ``simtel features rebuild``."""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from ..commands.database import add_database_option, connect_for
from ..commands.ingest import expand
from ..errors import ParseError, SimtelError
from ..results import load_payload, payload_kind, store_laps, store_results
from .build import rebuild_features

logger = logging.getLogger(__name__)


def register(sub) -> None:
    results = sub.add_parser("results", help="iRacing Data API results and lap data")
    rsub = results.add_subparsers(dest="results_command", required=True, metavar="COMMAND")
    ingest = rsub.add_parser(
        "ingest", help="store subsession results or lap data from JSON files (uses DATABASE_URL)",
        description="Store iRacing subsession results (/data/results/get) or lap data "
                    "(/data/results/lap_data) from JSON files; the kind is detected from the "
                    "content. Storing the same file again changes nothing.",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", type=Path,
                        help="JSON files, or folders of them")
    ingest.add_argument("--subsession-id", type=int,
                        help="subsession of lap data files that do not name it")
    ingest.add_argument("--simsession-number", type=int,
                        help="simsession of lap data files that do not name it "
                             "(default: 0, the main event)")
    add_database_option(ingest)
    ingest.set_defaults(func=run_ingest)

    features = sub.add_parser("features", help="machine-learning training features")
    fsub = features.add_subparsers(dest="features_command", required=True, metavar="COMMAND")
    rebuild = fsub.add_parser(
        "rebuild", help="rebuild ml_training_data (uses DATABASE_URL)",
        description="Recompute the training features of every race (--full, the default) or "
                    "only of the races reached by results stored since the last build "
                    "(--incremental). Prints the counts as JSON.",
    )
    mode = rebuild.add_mutually_exclusive_group()
    mode.add_argument("--full", dest="full", action="store_true", default=True,
                      help="recompute every row (default)")
    mode.add_argument("--incremental", dest="full", action="store_false",
                      help="recompute only rows whose inputs may have changed")
    rebuild.add_argument("--since", type=_utc_time,
                         help="with --incremental, also recompute every race starting at or "
                              "after this ISO 8601 time (UTC unless it has an offset)")
    add_database_option(rebuild)
    rebuild.set_defaults(func=run_rebuild)


def _utc_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run_ingest(args: argparse.Namespace) -> int:
    conn = connect_for(args)
    failed = 0
    try:
        for path in expand(args.paths):
            try:
                obj = load_payload(path.read_bytes(), str(path))
                if payload_kind(obj) == "laps":
                    counts = store_laps(conn, obj, str(path), args.subsession_id,
                                        args.simsession_number)
                else:
                    counts = store_results(conn, obj, str(path))
            except (ParseError, OSError) as exc:
                # One bad file does not stop the others; the exit status reports it.
                logger.error("not stored: %s", exc)
                failed += 1
                continue
            print(f"{path}: {json.dumps(counts)}")
    finally:
        conn.close()
    return 1 if failed else 0


def run_rebuild(args: argparse.Namespace) -> int:
    if args.since is not None and args.full:
        raise SimtelError("--since needs --incremental")
    conn = connect_for(args)
    try:
        counts = rebuild_features(conn, full=args.full, since=args.since)
    finally:
        conn.close()
    print(json.dumps(counts))
    return 0
