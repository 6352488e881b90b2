"""Database connections.

Locally (and in tests) ``DATABASE_URL`` names a plain PostgreSQL server and pg8000 connects to it
directly. In the cloud ``INSTANCE_CONNECTION_NAME`` is set instead: cloud-sql-python-connector
opens pg8000 connections with IAM database authentication and lazy certificate refresh.

Connections are pooled per process and reused across invocations. The pool size is
``DB_POOL_SIZE``, set so that (maximum instances x pool size) stays under the instance's
connection limit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from urllib.parse import unquote, urlparse

import pg8000.dbapi
import pg8000.native

from ..errors import SimtelError, TransientError

logger = logging.getLogger(__name__)

_pool: Pool | None = None

# A pooled connection idle longer than this (seconds) is checked with SELECT 1 before reuse.
IDLE_CHECK_S = 5.0
_pool_lock = threading.Lock()


def connect(url: str | None = None) -> pg8000.native.Connection:
    """Open one new connection, from ``url``, ``DATABASE_URL`` or the Cloud SQL connector."""
    url = url or os.environ.get("DATABASE_URL")
    try:
        if url:
            return _connect_url(url)
        if os.environ.get("INSTANCE_CONNECTION_NAME"):
            return _connect_cloud_sql()
    except (pg8000.native.InterfaceError, OSError) as exc:
        raise TransientError(f"cannot connect to the database: {exc}") from exc
    raise SimtelError("no database configured: set DATABASE_URL or INSTANCE_CONNECTION_NAME")


def connect_with_retry(url: str | None = None) -> pg8000.native.Connection:
    """Connect, retrying with backoff for up to ``DB_CONNECT_RETRY_S`` seconds (default 20).

    A short database outage (a restart, a failover) is then absorbed inside one delivery instead
    of using up the message's delivery attempts.
    """
    deadline = time.monotonic() + float(os.environ.get("DB_CONNECT_RETRY_S", "20"))
    delay = 0.25
    while True:
        try:
            return connect(url)
        except TransientError as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("database connection failed, retrying in %.2f s: %s", delay, exc)
            time.sleep(delay)
            delay = min(delay * 2, 4.0)


def _connect_url(url: str) -> pg8000.native.Connection:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise SimtelError(f"DATABASE_URL must start with postgresql://, found {parsed.scheme}://")
    return pg8000.native.Connection(
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password) if parsed.password else None,
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        database=(parsed.path or "/postgres").lstrip("/") or "postgres",
        application_name="simtel",
        timeout=float(os.environ.get("DB_TIMEOUT_S", "30")),
    )


_connector = None


def _connect_cloud_sql() -> pg8000.native.Connection:
    """Connect through cloud-sql-python-connector with IAM database authentication.

    One connector per process refreshes its certificates lazily (on demand), which suits
    functions whose CPU is throttled between requests.
    """
    global _connector
    from google.cloud.sql.connector import Connector, IPTypes

    if _connector is None:
        ip_type = IPTypes.PRIVATE if os.environ.get("DB_PRIVATE_IP", "1") == "1" else IPTypes.PUBLIC
        _connector = Connector(ip_type=ip_type, refresh_strategy="lazy")
    dbapi = _connector.connect(
        os.environ["INSTANCE_CONNECTION_NAME"],
        "pg8000",
        user=os.environ["DB_IAM_USER"],
        db=os.environ.get("DB_NAME", "simtel"),
        enable_iam_auth=True,
    )
    return as_native(dbapi)


class CloudSqlConnection(pg8000.dbapi.Connection):
    """A pg8000 DB-API connection with pg8000.native's ``run`` interface.

    The connector returns DB-API connections. Both classes share pg8000's core connection and
    ``run`` uses only core methods, so the rest of the code keeps one interface.
    """

    _context = None
    run = pg8000.native.Connection.run


def as_native(dbapi: pg8000.dbapi.Connection) -> pg8000.native.Connection:
    """Give a pg8000 DB-API connection the native ``run`` method, in place."""
    dbapi.__class__ = CloudSqlConnection
    return dbapi  # type: ignore[return-value]


class Pool:
    """A small thread-safe pool of connections to one database."""

    def __init__(self, size: int, url: str | None = None) -> None:
        self.size = size
        self.url = url
        # (connection, time it was returned) pairs, most recent last.
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @contextlib.contextmanager
    def connection(self) -> Iterator[pg8000.native.Connection]:
        """Lend a connection; a connection that raised a network error is closed, not reused."""
        if not self._slots.acquire(timeout=60):
            raise TransientError(f"no database connection free within 60 s (pool size {self.size})")
        conn = None
        try:
            conn = self._checkout()
            yield conn
        except (pg8000.native.InterfaceError, OSError, TransientError):
            if conn is not None:
                _close_quietly(conn)
                conn = None
            raise
        except BaseException:
            # Leave no transaction open on a connection that goes back to the pool.
            if conn is not None:
                try:
                    conn.run("ROLLBACK")
                except Exception:  # noqa: BLE001 - the connection is dropped below
                    _close_quietly(conn)
                    conn = None
            raise
        finally:
            if conn is not None:
                self._idle.put((conn, time.monotonic()))
            self._slots.release()

    def _checkout(self) -> pg8000.native.Connection:
        """Return a working connection: an idle one that still responds, or a new one."""
        while True:
            try:
                conn, returned = self._idle.get_nowait()
            except queue.Empty:
                return connect_with_retry(self.url)
            if time.monotonic() - returned < IDLE_CHECK_S:
                return conn
            try:
                conn.run("SELECT 1")
                return conn
            except Exception as exc:  # noqa: BLE001 - a dead idle connection is replaced
                logger.info("dropped a pooled connection that no longer answers: %s", exc)
                _close_quietly(conn)

    def close(self) -> None:
        while True:
            try:
                conn, _ = self._idle.get_nowait()
            except queue.Empty:
                return
            _close_quietly(conn)


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except Exception as exc:  # noqa: BLE001 - closing a broken connection
        logger.debug("closing a broken database connection failed: %s", exc)


def pool() -> Pool:
    """Return this process's shared pool, created on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Pool(int(os.environ.get("DB_POOL_SIZE", "4")))
        return _pool


def reset_pool() -> None:
    """Close and forget the shared pool (tests, and after a fork)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
        _pool = None
