"""A throwaway PostgreSQL 15 server for local runs and tests.

The server refuses to run as root, so ``initdb`` and the server run as the ``postgres`` user when
the caller is root. Everything lives in one temporary directory: data, socket and log.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import SimtelError
from .procs import HOST, free_port, stop_pid, track, wait_for_port

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin",)
DB_NAME = "simtel"
DB_USER = "simtel"


@dataclass
class PostgresServer:
    """A running throwaway server; ``url`` is a ``postgresql://`` URL for pg8000."""

    directory: Path
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"postgresql://{DB_USER}@{HOST}:{self.port}/{DB_NAME}"

    def stop(self) -> None:
        """Stop the server and delete its directory."""
        # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
        stop_pid(self.pid, group=False, sig=signal.SIGINT)
        shutil.rmtree(self.directory, ignore_errors=True)


def pg_bin() -> Path:
    """Return the folder holding the PostgreSQL 15 server binaries."""
    configured = os.environ.get("SIMTEL_PG_BIN")
    for candidate in ([configured] if configured else []) + list(PG_BIN_CANDIDATES):
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise SimtelError(
        "PostgreSQL 15 server binaries not found in " + ", ".join(PG_BIN_CANDIDATES)
        + "; install them with 'apt-get install postgresql-15' or set SIMTEL_PG_BIN"
    )


def _user_kwargs() -> dict:
    """Run server programs as ``postgres`` when we are root: the server refuses to run as root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, **_user_kwargs())
    if result.returncode != 0:
        raise SimtelError(f"{Path(args[0]).name} failed: {result.stderr.strip()[-800:]}")


def start_postgres(fast: bool = True, port: int | None = None) -> PostgresServer:
    """Create a cluster in a new temporary directory and start a server on 127.0.0.1.

    ``fast`` turns off fsync and synchronous commit: for tests and demos, never for real data.
    """
    binaries = pg_bin()
    directory = Path(tempfile.mkdtemp(prefix="simtel-pg-"))
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(directory, postgres.pw_uid, postgres.pw_gid)
    port = port or free_port()
    _run([str(binaries / "initdb"), "-D", str(directory / "data"), "-U", DB_USER, "--auth=trust",
          "--encoding=UTF8", "--locale=C.UTF-8"])
    options = {
        "listen_addresses": HOST,
        "port": str(port),
        "unix_socket_directories": str(directory),
        "max_connections": "100",
        "shared_buffers": "256MB",
        # Notice a client that went away while its query waits, instead of holding locks.
        "client_connection_check_interval": "2s",
    }
    if fast:
        options.update(fsync="off", synchronous_commit="off", full_page_writes="off")
    settings_text = "".join(f"{key} = '{value}'\n" for key, value in options.items())
    (directory / "data" / "postgresql.auto.conf").write_text(settings_text)
    server = PostgresServer(directory=directory, port=port, pid=0)
    try:
        server.pid = launch(directory, port)
    except Exception:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    try:
        _run([str(binaries / "createdb"), "-h", HOST, "-p", str(port), "-U", DB_USER, DB_NAME])
    except Exception:
        server.stop()
        raise
    return server


def launch(directory: Path, port: int) -> int:
    """Start the server of an existing cluster in ``directory``; return its pid once it accepts."""
    binaries = pg_bin()
    log_handle = open(directory / "server.log", "ab")
    proc = subprocess.Popen(
        [str(binaries / "postgres"), "-D", str(directory / "data")],
        stdout=subprocess.DEVNULL,
        stderr=log_handle,
        start_new_session=True,
        **_user_kwargs(),
    )
    log_handle.close()
    track(proc)
    try:
        wait_for_port(port, 30, "PostgreSQL", pid=proc.pid)
        _wait_ready(binaries, port)
    except Exception:
        stop_pid(proc.pid, group=False, sig=signal.SIGINT)
        raise
    return proc.pid


def _wait_ready(binaries: Path, port: int) -> None:
    for _ in range(200):
        result = subprocess.run([str(binaries / "pg_isready"), "-h", HOST, "-p", str(port)],
                                capture_output=True)
        if result.returncode == 0:
            return
        import time

        time.sleep(0.05)
    raise SimtelError(f"PostgreSQL on {HOST}:{port} did not become ready")
