"""Database connections: the Cloud SQL connector path and the connection pool."""

from __future__ import annotations

import sys
import types
from urllib.parse import urlparse

import pg8000.dbapi
import pytest

from common.db import connect as connect_module
from common.db.connect import Pool, as_native, connect


def test_dbapi_connection_gets_native_run(pg_url):
    parsed = urlparse(pg_url)
    dbapi = pg8000.dbapi.Connection(user=parsed.username, host=parsed.hostname, port=parsed.port,
                                    database=parsed.path.lstrip("/"))
    conn = as_native(dbapi)
    conn.run("CREATE TEMP TABLE t (a int, b text)")
    conn.run("INSERT INTO t VALUES (:a, :b)", a=1, b="it's; DROP TABLE t;--")
    conn.run("COPY t FROM STDIN WITH (FORMAT csv)", stream=[b"2,two\n3,three\n"])
    assert conn.run("SELECT a, b FROM t ORDER BY a") == [[1, "it's; DROP TABLE t;--"], [2, "two"],
                                                          [3, "three"]]
    conn.close()


def test_cloud_sql_uses_iam_auth_and_lazy_refresh(monkeypatch):
    calls = {}

    class FakeConnector:
        def __init__(self, **kwargs):
            calls["init"] = kwargs

        def connect(self, instance, driver, **kwargs):
            calls["connect"] = (instance, driver, kwargs)
            return object.__new__(pg8000.dbapi.Connection)

    fake = types.ModuleType("google.cloud.sql.connector")
    fake.Connector = FakeConnector
    fake.IPTypes = types.SimpleNamespace(PRIVATE="PRIVATE", PUBLIC="PUBLIC")
    monkeypatch.setitem(sys.modules, "google.cloud.sql.connector", fake)
    monkeypatch.setattr(connect_module, "_connector", None)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("INSTANCE_CONNECTION_NAME", "proj:europe-west1:simtel")
    monkeypatch.setenv("DB_IAM_USER", "simtel-load@proj.iam")
    monkeypatch.setenv("DB_NAME", "telemetry")

    conn = connect()
    assert calls["init"] == {"ip_type": "PRIVATE", "refresh_strategy": "lazy"}
    instance, driver, kwargs = calls["connect"]
    assert instance == "proj:europe-west1:simtel"
    assert driver == "pg8000"
    assert kwargs == {"user": "simtel-load@proj.iam", "db": "telemetry", "enable_iam_auth": True}
    assert hasattr(conn, "run")
    # The connector is made once per process and reused.
    connect()
    assert connect_module._connector is not None


def test_no_database_configured(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("INSTANCE_CONNECTION_NAME", raising=False)
    with pytest.raises(Exception, match="set DATABASE_URL or INSTANCE_CONNECTION_NAME"):
        connect()


def test_pool_reuses_and_replaces_connections(pg_url):
    pool = Pool(2, pg_url)
    with pool.connection() as conn:
        first_pid = conn.run("SELECT pg_backend_pid()")[0][0]
    with pool.connection() as conn:
        assert conn.run("SELECT pg_backend_pid()")[0][0] == first_pid
    # A server-side disconnect: the pool notices on the next idle check and opens a new one.
    killer = connect(pg_url)
    killer.run("SELECT pg_terminate_backend(:p)", p=first_pid)
    killer.close()
    connect_module.IDLE_CHECK_S, saved = 0.0, connect_module.IDLE_CHECK_S
    try:
        with pool.connection() as conn:
            assert conn.run("SELECT pg_backend_pid()")[0][0] != first_pid
    finally:
        connect_module.IDLE_CHECK_S = saved
    pool.close()


def test_pool_rolls_back_on_error(pg_url):
    pool = Pool(1, pg_url)
    with pytest.raises(ZeroDivisionError):
        with pool.connection() as conn:
            conn.run("BEGIN")
            conn.run("CREATE TABLE rolled_back (a int)")
            raise ZeroDivisionError
    with pool.connection() as conn:
        assert conn.run("SELECT to_regclass('rolled_back')")[0][0] is None
    pool.close()
