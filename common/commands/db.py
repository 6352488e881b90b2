"""``simtel db migrate`` and ``simtel sessions delete``."""

from __future__ import annotations

import argparse

from .database import add_database_option, connect_for
from ..errors import SimtelError
from ..db.migrate import migrate
from ..db.sessions import delete_session, prune_sessions


def register(sub) -> None:
    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    m = dbsub.add_parser("migrate", help="apply pending schema migrations (uses DATABASE_URL)")
    add_database_option(m)
    m.set_defaults(func=run_migrate)

    s = sub.add_parser("sessions", help="manage stored sessions")
    ssub = s.add_subparsers(dest="sessions_command", required=True, metavar="COMMAND")
    d = ssub.add_parser("delete", help="delete sessions and everything that belongs to them")
    d.add_argument("session_ids", nargs="+", metavar="SESSION_ID",
                   help="session id: the SHA-256 of the file, 64 hex digits")
    add_database_option(d)
    d.set_defaults(func=run_delete)
    r = ssub.add_parser("prune", help="delete sessions older than a number of days (retention)")
    r.add_argument("--older-than-days", type=float, required=True, metavar="DAYS",
                   help="delete sessions created more than DAYS days ago")
    r.add_argument("--status", choices=["received", "parsing", "loading", "ready", "failed"],
                   help="only sessions with this status")
    add_database_option(r)
    r.set_defaults(func=run_prune)


def run_migrate(args: argparse.Namespace) -> int:
    conn = connect_for(args)
    try:
        applied = migrate(conn)
    finally:
        conn.close()
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    for session_id in args.session_ids:
        if len(session_id) != 64 or any(c not in "0123456789abcdefABCDEF" for c in session_id):
            raise SimtelError(f"invalid session id {session_id!r}: expected the SHA-256 of the file, "
                              "64 hex digits")
    conn = connect_for(args)
    missing = 0
    try:
        for session_id in args.session_ids:
            if delete_session(conn, session_id.lower()):
                print(f"deleted {session_id}")
            else:
                print(f"not found {session_id}")
                missing += 1
    finally:
        conn.close()
    return 1 if missing else 0


def run_prune(args: argparse.Namespace) -> int:
    if args.older_than_days < 0:
        raise SimtelError(f"--older-than-days must be 0 or more, found {args.older_than_days:g}")
    conn = connect_for(args)
    try:
        deleted = prune_sessions(conn, args.older_than_days, args.status)
    finally:
        conn.close()
    for session_id in deleted:
        print(f"deleted {session_id}")
    print(f"{len(deleted)} session(s) deleted")
    return 0
