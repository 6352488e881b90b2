"""Shared fixtures: paths to the shared corpus and cases, and a throwaway PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests with a fixed seed, so that a run is repeatable; local runs explore
# new examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

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


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    """The whole local stack (emulators, PostgreSQL, three functions), once per test run.

    Its state and logs live in a temporary folder, so a developer's own stack is left alone.
    The client variables (emulator hosts, project) are set in this process for the tests.
    """
    from common.local import stack

    state_dir = tmp_path_factory.mktemp("stack")
    previous = os.environ.get("SIMTEL_STATE_DIR")
    os.environ["SIMTEL_STATE_DIR"] = str(state_dir)
    state = stack.up(log=lambda *_: None)
    saved = {k: os.environ.get(k) for k in state.env}
    os.environ.update({k: v for k, v in state.env.items() if k != "DATABASE_URL"})
    yield state
    stack.down()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if previous is None:
        os.environ.pop("SIMTEL_STATE_DIR", None)
    else:
        os.environ["SIMTEL_STATE_DIR"] = previous
