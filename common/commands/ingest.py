"""``simtel ingest PATH...``: the parse and load code run locally for a backlog of files on disk.

Files are parsed in parallel in worker processes (one per core). Their chunks go straight to the
same loader the ``load`` function runs (decoding included), on a few concurrent database
connections, instead of through Pub/Sub.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..chunks import Chunk, encode_session
from ..config import settings
from ..db.connect import Pool, connect
from ..db.migrate import migrate
from ..errors import SimtelError, TerminalError
from ..formats import is_sidecar
from ..laps import detect_laps
from ..model import Session
from ..parse import stage

LOCAL_BUCKET = "local"


def register(sub) -> None:
    p = sub.add_parser("ingest", help="parse and load files from disk without the emulators")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    p.add_argument("--database-url", help="PostgreSQL URL; default: DATABASE_URL, otherwise a "
                                          "throwaway local server")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="parallel parse processes (default: number of cores)")
    p.add_argument("--loaders", type=int, default=4, help="concurrent database connections (default 4)")
    p.add_argument("--keep", action="store_true",
                   help="leave the throwaway PostgreSQL server running and print its URL")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


@dataclass
class Parsed:
    path: str
    session_id: str
    size: int
    session: Session | None = None
    chunks: list[Chunk] = field(default_factory=list)
    laps: list = field(default_factory=list)
    error: str | None = None
    unexpected: bool = False


@dataclass
class Summary:
    files: int = 0
    ready: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        minutes = self.seconds / 60 if self.seconds else 0
        rate = self.ready / minutes if minutes else 0.0
        samples_rate = self.samples / self.seconds if self.seconds else 0.0
        out = [
            f"files: {self.files}, sessions ready: {self.ready}, already stored: {self.duplicates}, "
            f"failed: {len(self.failed)}",
            f"samples loaded: {self.samples} in {self.seconds:.1f} s "
            f"({rate:.1f} sessions/min, {samples_rate:,.0f} samples/s)",
        ]
        for path, reason in self.failed:
            out.append(f"failed: {reason}" if Path(path).name in reason else f"failed: {path}: {reason}")
        return out


def expand(paths: list[Path]) -> list[Path]:
    """Return the files named and those under the folders named (hidden files skipped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise SimtelError(f"{path}: no such file or folder")
    return files


def collect(paths: list[Path]) -> list[Path]:
    """Expand folders; sidecar files are read with their main file, not on their own."""
    return [f for f in expand(paths) if not is_sidecar(f.name)]


def parse_one(path_text: str, target_bytes: int) -> Parsed:
    """Worker: read, hash, parse and encode one file (runs in a separate process)."""
    from .. import formats

    path = Path(path_text)
    data = path.read_bytes()
    parsed = Parsed(path_text, stage.session_id_of(data), len(data))
    try:
        session = formats.parse(data, path.name, formats.read_sidecars(path))
    except TerminalError as exc:
        parsed.error = str(exc)
        return parsed
    except Exception as exc:  # noqa: BLE001 - reported as a failed session with the cause
        parsed.error = stage.unexpected_reason(path.name, exc)
        parsed.unexpected = True
        return parsed
    parsed.chunks = list(encode_session(parsed.session_id, session, target_bytes))
    parsed.laps = detect_laps(session)
    parsed.session = _without_values(session)
    return parsed


def _without_values(session: Session) -> Session:
    """Drop channel values before the session goes back to the main process (chunks hold them)."""
    import numpy as np

    for ch in session.channels:
        ch.values = np.empty(0)
    return session


def ingest(paths: list[Path], database_url: str, workers: int, loaders: int,
           progress: bool = True) -> Summary:
    """Parse and load every file; return the summary."""
    from ..load.loader import load_chunk

    files = collect(paths)
    summary = Summary(files=len(files))
    started = time.monotonic()
    db_pool = Pool(loaders + 1, database_url)
    lock = threading.Lock()
    bar = tqdm(total=len(files), unit="file", disable=not progress, file=sys.stderr)

    def store_and_load(parsed: Parsed) -> None:
        name = parsed.path
        with db_pool.connection() as conn:
            reg, claimed = stage.claim(conn, parsed.session_id, LOCAL_BUCKET, name, 0, parsed.size)
            if not claimed:
                with lock:
                    summary.duplicates += 1
                return
            if parsed.error:
                stage.fail(conn, reg.session_key, parsed.session_id, parsed.error,
                           {"session_id": parsed.session_id, "object": name})
                with lock:
                    summary.failed.append((name, parsed.error))
                return
            stage.store(conn, reg.session_key, parsed.session, parsed.chunks, parsed.laps)
        rows = 0
        status = None
        for chunk in parsed.chunks:
            with db_pool.connection() as conn:
                result = load_chunk(conn, chunk.attributes, chunk.data)
            rows += result.rows
            status = result.status or status
        with db_pool.connection() as conn:
            status = stage.finish(conn, reg.session_key)
        with lock:
            summary.samples += rows
            if status == "ready":
                summary.ready += 1
            else:
                summary.failed.append((name, f"session ended {status}"))

    target = settings().chunk_target_bytes
    errors: list[BaseException] = []
    with cf.ProcessPoolExecutor(max_workers=max(1, workers)) as parsers, \
            cf.ThreadPoolExecutor(max_workers=max(1, loaders)) as loading:
        pending_loads = []
        parse_futures = [parsers.submit(parse_one, str(f), target) for f in files]
        for future in cf.as_completed(parse_futures):
            parsed = future.result()
            load_future = loading.submit(store_and_load, parsed)
            load_future.add_done_callback(lambda _f: bar.update(1))
            pending_loads.append(load_future)
        for load_future in pending_loads:
            exc = load_future.exception()
            if exc is not None:
                errors.append(exc)
    bar.close()
    db_pool.close()
    summary.seconds = time.monotonic() - started
    if errors:
        raise errors[0]
    return summary


def run(args: argparse.Namespace) -> int:
    # Check the paths before starting anything.
    if not collect(args.paths):
        raise SimtelError("no telemetry files under " + ", ".join(map(str, args.paths)))
    url = args.database_url or os.environ.get("DATABASE_URL")
    server = None
    if not url:
        from ..local.postgres import start_postgres

        server = start_postgres()
        url = server.url
        print(f"using a throwaway PostgreSQL server: {url}", file=sys.stderr)
    try:
        conn = connect(url)
        try:
            migrate(conn)
        finally:
            conn.close()
        # Rejected files are listed in the summary; their log warnings would only repeat them
        # and break the progress bar.
        logging.getLogger("common.parse.stage").setLevel(logging.ERROR)
        with logging_redirect_tqdm():
            summary = ingest(args.paths, url, args.workers, args.loaders, progress=not args.quiet)
        for line in summary.lines():
            print(line)
        if server is not None and args.keep:
            print(f"PostgreSQL left running at {url} (pid {server.pid}, data in {server.directory})")
            server = None
        return 0 if not summary.failed else 1
    finally:
        if server is not None:
            server.stop()
