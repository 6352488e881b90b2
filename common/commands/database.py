"""The database a command works on: --database-url, DATABASE_URL, or the running local stack."""

from __future__ import annotations

import argparse
import os

from ..db.connect import connect
from ..errors import SimtelError


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url",
                        help="PostgreSQL URL; default: DATABASE_URL, else the running local stack's")


def database_url(args: argparse.Namespace) -> str | None:
    """Return the URL to connect to, or None when Cloud SQL (INSTANCE_CONNECTION_NAME) is set."""
    url = getattr(args, "database_url", None) or os.environ.get("DATABASE_URL")
    if url or os.environ.get("INSTANCE_CONNECTION_NAME"):
        return url
    from ..local import stack

    state = stack.running()
    if state is None:
        raise SimtelError("no database: pass --database-url, set DATABASE_URL, or start the local "
                          "stack with 'simtel local up'")
    return state.database_url


def connect_for(args: argparse.Namespace):
    """Open a connection to the command's database."""
    return connect(database_url(args))
