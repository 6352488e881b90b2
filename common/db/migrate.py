"""Versioned schema migrations: ``NNNN_name.sql`` files applied in order, each once."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pg8000.native

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed number: serializes concurrent migrators on one database.
_LOCK_KEY = 7_301_001


def migrations() -> list[tuple[int, str, Path]]:
    """Return ``(version, name, path)`` of every migration file, in version order."""
    found = []
    for path in MIGRATIONS_DIR.iterdir():
        m = _NAME.match(path.name)
        if m:
            found.append((int(m.group(1)), m.group(2), path))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in {MIGRATIONS_DIR}")
    return found


def migrate(conn: pg8000.native.Connection) -> list[str]:
    """Apply every migration not applied yet, each in its own transaction; return their names."""
    conn.run("SELECT pg_advisory_lock(:key)", key=_LOCK_KEY)
    try:
        conn.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.run("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, path in migrations():
            if version in done:
                continue
            conn.run("BEGIN")
            try:
                conn.execute_simple(path.read_text())
                conn.run("INSERT INTO schema_migrations (version, name) VALUES (:v, :n)",
                         v=version, n=name)
                conn.run("COMMIT")
            except Exception:
                conn.run("ROLLBACK")
                raise
            logger.info("applied migration %04d_%s", version, name)
            applied.append(f"{version:04d}_{name}")
        return applied
    finally:
        conn.run("SELECT pg_advisory_unlock(:key)", key=_LOCK_KEY)
