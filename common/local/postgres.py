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


def start_postgres(fast: bool = True, port: int | None = None) -> PostgresServer:
    """Create a cluster in a new temporary directory and start a server on 127.0.0.1.

    ``fast`` turns off fsync and synchronous commit: for tests and demos, never for real data.
    """
    binaries = pg_bin()
    directory = Path(tempfile.mkdtemp(prefix="simtel-pg-"))
    data = directory / "data"
    as_root = os.geteuid() == 0
    user_kwargs = {}
    if as_root:
        postgres = pwd.getpwnam("postgres")
        os.chown(directory, postgres.pw_uid, postgres.pw_gid)
        user_kwargs = {"user": "postgres", "group": "postgres", "extra_groups": []}
    port = port or free_port()

    def run(args: list[str]) -> None:
        result = subprocess.run(args, capture_output=True, text=True, **user_kwargs)
        if result.returncode != 0:
            raise SimtelError(f"{Path(args[0]).name} failed: {result.stderr.strip()[-800:]}")

    run([str(binaries / "initdb"), "-D", str(data), "-U", DB_USER, "--auth=trust",
         "--encoding=UTF8", "--locale=C.UTF-8"])
    options = [
        f"-c listen_addresses={HOST}",
        f"-c port={port}",
        f"-c unix_socket_directories={directory}",
        "-c max_connections=100",
        "-c shared_buffers=256MB",
    ]
    if fast:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    log = directory / "server.log"
    log_handle = open(log, "ab")
    proc = subprocess.Popen(
        [str(binaries / "postgres"), "-D", str(data), *" ".join(options).split()],
        stdout=subprocess.DEVNULL,
        stderr=log_handle,
        start_new_session=True,
        **user_kwargs,
    )
    log_handle.close()
    track(proc)
    try:
        wait_for_port(port, 30, "PostgreSQL", pid=proc.pid)
        _wait_ready(binaries, port)
        run([str(binaries / "createdb"), "-h", HOST, "-p", str(port), "-U", DB_USER, DB_NAME])
    except Exception:
        stop_pid(proc.pid, group=False)
        raise
    return PostgresServer(directory=directory, port=port, pid=proc.pid)


def _wait_ready(binaries: Path, port: int) -> None:
    for _ in range(200):
        result = subprocess.run([str(binaries / "pg_isready"), "-h", HOST, "-p", str(port)],
                                capture_output=True)
        if result.returncode == 0:
            return
        import time

        time.sleep(0.05)
    raise SimtelError(f"PostgreSQL on {HOST}:{port} did not become ready")
