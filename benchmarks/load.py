"""Loading speed: the real loader against ``psql \\copy`` and batched ``executemany`` inserts.

Generates ROWS rows of 23 columns (``elapsed_s`` and 22 canonical channels), encodes them as chunk
messages with the parse stage's encoder, then measures, into the same ``samples`` table of one
throwaway PostgreSQL 15 server (fsync off, as for every local run):

Each bulk method runs REPEATS times, alternating, and keeps its best time.

1. the loader: each chunk decoded and loaded with binary COPY plus its ledger row in one transaction,
   one connection, as the ``load`` function does (encoding is the parse side and is not timed);
2. ``psql \\copy`` of the same rows from a CSV file;
3. pg8000 ``executemany`` in batches of 500 rows, the naive way, on the first INSERT_ROWS rows only
   (at a few thousand rows per second the whole set would take minutes); its rate is compared.

The last two lines are ``load_vs_psql_copy: RATIO`` (goal at least 0.7) and
``load_vs_batched_insert: RATIO`` (goal at least 50), both ratios of rows per second.

Run: ``.venv/bin/python benchmarks/load.py [ROWS]``
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import database, report

import numpy as np

from common import channels as table
from common.chunks import encode_session
from common.db.connect import connect
from common.load.loader import load_chunk
from common.model import Channel, Metadata, Session

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
INSERT_ROWS = 50_000
REPEATS = 3
COLUMNS = [c for c in table.CANONICAL if c.sql_type in ("real", "double precision")][:22]


def make_session(rows: int) -> Session:
    rng = np.random.default_rng(7)
    elapsed = np.arange(rows, dtype=np.float64) / 60.0
    channels = []
    for c in COLUMNS:
        values = rng.uniform(c.minimum, c.maximum, rows)
        channels.append(Channel(c.name, c.unit, c.name, c.unit, c.kind, 60.0, "measured", values,
                                column=c.name))
    return Session("bench", "generated", elapsed, channels, Metadata(), [], [], {}, [])


def register(conn, session_id: str, rows: int, chunks: int) -> int:
    return conn.run(
        "INSERT INTO sessions (session_id, status, sample_count, chunk_count) "
        "VALUES (:id, 'loading', :n, :c) RETURNING session_key",
        id=session_id, n=rows, c=chunks)[0][0]


def main() -> None:
    session = make_session(ROWS)
    session_id = hashlib.sha256(b"load benchmark").hexdigest()
    chunks = list(encode_session(session_id, session, 512 * 1024))
    print(f"{ROWS:,} rows x {1 + len(COLUMNS)} columns in {len(chunks)} chunks of "
          f"{chunks[0].rows} rows ({sum(len(c.data) for c in chunks) / 1e6:.1f} MB encoded)")

    with database() as (url, _server), tempfile.TemporaryDirectory() as tmp:
        conn = connect(url)
        csv_path = Path(tmp) / "rows.csv"
        matrix = np.column_stack([np.zeros(ROWS), session.elapsed_s]
                                 + [ch.values.astype(np.float32) for ch in session.channels])
        names = ", ".join(["session_key", "elapsed_s"] + [c.name for c in COLUMNS])

        # Alternate the two bulk methods and keep each one's best run, so that load from other
        # processes on a shared machine affects both alike.
        loader_times, psql_times = [], []
        for _attempt in range(REPEATS):
            conn.run("TRUNCATE samples, chunk_ledger")
            conn.run("DELETE FROM sessions")
            key = register(conn, session_id, ROWS, len(chunks))
            started = time.perf_counter()
            for chunk in chunks:
                load_chunk(conn, chunk.attributes, chunk.data)
            loader_times.append(time.perf_counter() - started)
            status, loaded = conn.run(
                "SELECT status, samples_loaded FROM sessions WHERE session_key = :k", k=key)[0]
            assert status == "ready", status
            assert loaded == ROWS, loaded

            conn.run("TRUNCATE samples")
            matrix[:, 0] = key + 1
            np.savetxt(csv_path, matrix, fmt=["%d", "%.17g"] + ["%.9g"] * len(COLUMNS), delimiter=",")
            started = time.perf_counter()
            subprocess.run(["psql", url, "-q", "-c", f"\\copy samples ({names}) FROM '{csv_path}' CSV"],
                           check=True)
            psql_times.append(time.perf_counter() - started)
        loader_rate = ROWS / min(loader_times)
        psql_rate = ROWS / min(psql_times)

        conn.run("TRUNCATE samples")
        import pg8000.dbapi

        dbapi = pg8000.dbapi.Connection(user="simtel", host="127.0.0.1",
                                        port=int(url.split(":")[-1].split("/")[0]),
                                        database=url.rsplit("/", 1)[1])
        cursor = dbapi.cursor()
        placeholders = ", ".join(["%s"] * (2 + len(COLUMNS)))
        sql = f"INSERT INTO samples ({names}) VALUES ({placeholders})"
        rows = [[key, float(session.elapsed_s[i])] + [float(ch.values[i]) for ch in session.channels]
                for i in range(INSERT_ROWS)]
        started = time.perf_counter()
        for start in range(0, INSERT_ROWS, 500):
            cursor.executemany(sql, rows[start:start + 500])
            dbapi.commit()
        insert_rate = INSERT_ROWS / (time.perf_counter() - started)
        dbapi.close()
        conn.close()

    report("loader (chunks, binary COPY)", loader_rate, "rows/s")
    report("psql \\copy (CSV)", psql_rate, "rows/s")
    report("executemany, batches of 500", insert_rate, f"rows/s (first {INSERT_ROWS:,} rows)")
    print(f"load_vs_psql_copy: {loader_rate / psql_rate:.2f}")
    print(f"load_vs_batched_insert: {loader_rate / insert_rate:.1f}")


if __name__ == "__main__":
    main()
