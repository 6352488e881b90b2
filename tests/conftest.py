"""Shared fixtures: paths to the shared corpus and cases, and a throwaway PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(os.environ.get("SIMTEL_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus"


def corpus_file(relative: str) -> Path:
    """Return a corpus file's path, or skip the test when the corpus is absent."""
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"corpus file {relative} not found under {CORPUS}")
    return path


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL 15 server for the whole test run, or the one in SIMTEL_TEST_PG_URL."""
    from common.local.postgres import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture()
def pg_url(pg_server):
    """A fresh, migrated database on the shared server; dropped after the test."""
    from common.db.connect import connect
    from common.db.migrate import migrate
    from common.local.postgres import DB_NAME

    name = "t_" + uuid.uuid4().hex[:12]
    admin = connect(pg_server.url)
    admin.run(f'CREATE DATABASE "{name}"')
    url = pg_server.url.rsplit("/", 1)[0] + "/" + name
    conn = connect(url)
    migrate(conn)
    conn.close()
    yield url
    admin.run(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n", n=name
    )
    admin.run(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()
    assert DB_NAME


@pytest.fixture()
def db(pg_url):
    """A pg8000 native connection to a fresh, migrated database."""
    from common.db.connect import connect

    conn = connect(pg_url)
    yield conn
    conn.close()
