"""Shared helpers for the benchmarks: a database to measure against and a result printer."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@contextlib.contextmanager
def database():
    """Yield a PostgreSQL URL: DATABASE_URL when set, otherwise a throwaway local server."""
    from common.db.connect import connect
    from common.db.migrate import migrate

    url = os.environ.get("DATABASE_URL")
    server = None
    if not url:
        from common.local.postgres import start_postgres

        server = start_postgres()
        url = server.url
    conn = connect(url)
    migrate(conn)
    conn.close()
    try:
        yield url, server
    finally:
        if server is not None:
            server.stop()


def report(label: str, value: float, unit: str = "") -> None:
    print(f"{label:32} {value:14,.1f} {unit}", flush=True)
