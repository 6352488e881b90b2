"""``simtel apikey create|list|revoke``: manage the API keys of the HTTP API."""

from __future__ import annotations

import argparse
import sys

from ..commands.database import add_database_option, connect_for
from .keys import SCOPES, create_key, list_keys, revoke_key


def register(sub) -> None:
    p = sub.add_parser("apikey", help="create, list or revoke API keys of the HTTP API")
    ksub = p.add_subparsers(dest="apikey_command", required=True, metavar="COMMAND")

    c = ksub.add_parser("create", help="create a key and print it once (only its hash is stored)")
    c.add_argument("name", help="name of the key: 1 to 64 letters, digits, '.', '_' or '-'")
    c.add_argument("--read-only", action="store_true",
                   help="allow only reading (GET and POST /v1/parse), not deletes, uploads or updates")
    c.add_argument("--rate-limit", type=int, metavar="REQUESTS",
                   help="requests per rate-limit window for this key, 0 for no limit "
                        "(default: API_RATE_LIMIT_PER_KEY)")
    add_database_option(c)
    c.set_defaults(func=run_create)

    ls = ksub.add_parser("list", help="list keys by name, prefix, scopes and last use")
    ls.add_argument("--all", action="store_true", help="include revoked keys")
    add_database_option(ls)
    ls.set_defaults(func=run_list)

    r = ksub.add_parser("revoke", help="revoke the key in use under NAME")
    r.add_argument("name")
    add_database_option(r)
    r.set_defaults(func=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    scopes = ("read",) if args.read_only else SCOPES
    conn = connect_for(args)
    try:
        token, key = create_key(conn, args.name, scopes, args.rate_limit)
    finally:
        conn.close()
    # The key alone on stdout, so that scripts can capture it; the note goes to stderr.
    print(token, flush=True)
    print(f"created key {key.name!r} ({', '.join(key.scopes)}); this is the only time it is shown",
          file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    conn = connect_for(args)
    try:
        keys = list_keys(conn, include_revoked=args.all)
    finally:
        conn.close()
    if not keys:
        print("no keys")
        return 0
    print(f"{'NAME':24} {'PREFIX':14} {'SCOPES':12} {'LIMIT':>7}  {'CREATED':20} {'LAST USED':20} REVOKED")
    for key in keys:
        limit = "default" if key.rate_limit is None else str(key.rate_limit)
        print(f"{key.name:24} {key.prefix + '...':14} {','.join(key.scopes):12} {limit:>7}  "
              f"{_when(key.created_at):20} {_when(key.last_used_at):20} {_when(key.revoked_at)}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    conn = connect_for(args)
    try:
        revoked = revoke_key(conn, args.name)
    finally:
        conn.close()
    if not revoked:
        print(f"no key in use named {args.name!r}")
        return 1
    print(f"revoked key {args.name!r}")
    return 0


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"
