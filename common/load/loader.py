"""Load one chunk message into PostgreSQL, exactly once.

The chunk's ledger row and its samples commit in one transaction: a redelivered chunk finds its
ledger row and adds nothing, and a chunk interrupted half-way leaves nothing behind. The session
becomes ``ready`` in the transaction of its last chunk, after the row counts reconcile.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pg8000.native

from ..chunks import decode_chunk, parse_attributes
from ..db.sessions import mark_failed
from ..errors import ChunkError
from . import binary_copy

logger = logging.getLogger(__name__)

@dataclass
class LoadResult:
    session_id: str
    seq: int
    # "loaded", "duplicate", "session failed" or "unknown session".
    outcome: str
    rows: int = 0
    status: str | None = None


def load_chunk(conn: pg8000.native.Connection, attributes: dict[str, str], data: bytes) -> LoadResult:
    """Store one chunk; raise ``ChunkError`` for bad content, pg8000 errors for database faults."""
    started = time.monotonic()
    session_id, seq, count, rows_attr = parse_attributes(attributes)
    chunk = decode_chunk(session_id, seq, data)
    if rows_attr >= 0 and rows_attr != chunk.num_rows:
        raise ChunkError(session_id, seq, f"attribute rows is {rows_attr} but the payload contains "
                                          f"{chunk.num_rows} rows")

    conn.run("BEGIN")
    try:
        found = conn.run(
            "SELECT session_key, status, chunk_count FROM sessions WHERE session_id = :id",
            id=session_id,
        )
        if not found:
            conn.run("ROLLBACK")
            logger.warning("chunk for an unknown session dropped; the session was deleted or never "
                           "registered", extra={"session_id": session_id, "seq": seq})
            return LoadResult(session_id, seq, "unknown session")
        session_key, status, chunk_count = found[0]
        if status == "failed":
            conn.run("ROLLBACK")
            return LoadResult(session_id, seq, "session failed", status=status)
        if chunk_count is not None and chunk_count != count:
            raise ChunkError(session_id, seq, f"attribute count is {count} but the session was "
                                              f"parsed into {chunk_count} chunks")

        claimed = conn.run(
            "INSERT INTO chunk_ledger (session_key, seq, row_count) VALUES (:k, :s, :n) "
            "ON CONFLICT DO NOTHING RETURNING seq",
            k=session_key, s=seq, n=chunk.num_rows,
        )
        if not claimed:
            conn.run("ROLLBACK")
            logger.info("duplicate chunk ignored", extra={"session_id": session_id, "seq": seq})
            return LoadResult(session_id, seq, "duplicate", status=status)

        columns, buffer = binary_copy.build(session_key, chunk)
        column_list = ", ".join(f'"{c}"' for c in columns)
        # The whole chunk as one CopyData message: a chunk is at most a few MB, and a list made
        # the COPY over twice as fast as a generator of 1 MiB pieces here (pg8000 1.31.6).
        conn.run(f"COPY samples ({column_list}) FROM STDIN WITH (FORMAT binary)", stream=[buffer])

        updated = conn.run(
            "UPDATE sessions SET chunks_loaded = chunks_loaded + 1, "
            "samples_loaded = samples_loaded + :n, updated_at = now() "
            "WHERE session_key = :k RETURNING chunks_loaded, chunk_count, samples_loaded, sample_count",
            n=chunk.num_rows, k=session_key,
        )
        loaded, expected_chunks, samples_loaded, sample_count = updated[0]
        new_status = status
        if expected_chunks is not None and loaded == expected_chunks:
            ledger_rows = conn.run("SELECT coalesce(sum(row_count), 0) FROM chunk_ledger "
                                   "WHERE session_key = :k", k=session_key)[0][0]
            if ledger_rows == samples_loaded == sample_count:
                conn.run("UPDATE sessions SET status = 'ready', ready_at = now(), updated_at = now() "
                         "WHERE session_key = :k", k=session_key)
                new_status = "ready"
            else:
                mark_failed(conn, session_key,
                            f"row counts do not reconcile after the last chunk: ledger {ledger_rows}, "
                            f"loaded {samples_loaded}, parsed {sample_count}")
                new_status = "failed"
        conn.run("COMMIT")
    except BaseException:
        _rollback(conn)
        raise

    logger.info(
        "chunk loaded",
        extra={"session_id": session_id, "seq": seq, "chunk_count": count, "rows": chunk.num_rows,
               "status": new_status, "duration_ms": round((time.monotonic() - started) * 1000, 1)},
    )
    return LoadResult(session_id, seq, "loaded", rows=chunk.num_rows, status=new_status)


def record_failure(conn: pg8000.native.Connection, attributes: dict[str, str], error: str) -> int:
    """Count a failed delivery of a chunk and keep its error; return the attempts so far."""
    session_id = attributes.get("session_id", "")
    try:
        seq = int(attributes.get("seq", "-1"))
    except ValueError:
        seq = -1
    rows = conn.run(
        "INSERT INTO chunk_failures (session_key, seq, last_error) "
        "SELECT session_key, :s, :e FROM sessions WHERE session_id = :id "
        "ON CONFLICT (session_key, seq) DO UPDATE SET attempts = chunk_failures.attempts + 1, "
        "last_error = EXCLUDED.last_error, last_attempt_at = now() RETURNING attempts",
        s=seq, e=error[:2000], id=session_id,
    )
    return rows[0][0] if rows else 0


def fail_dead_lettered(conn: pg8000.native.Connection, attributes: dict[str, str]) -> str | None:
    """Mark the session of a dead-lettered chunk failed, with the chunk's last error as the reason."""
    session_id = attributes.get("session_id", "")
    seq = attributes.get("seq", "?")
    count = attributes.get("count", "?")
    rows = conn.run("SELECT session_key, status FROM sessions WHERE session_id = :id", id=session_id)
    if not rows:
        return None
    session_key, status = rows[0]
    if status == "ready":
        # A late duplicate of a chunk that did load: nothing is missing.
        return status
    detail = conn.run(
        "SELECT attempts, last_error FROM chunk_failures WHERE session_key = :k AND seq = :s",
        k=session_key, s=int(seq) if str(seq).isdigit() else -1,
    )
    if detail:
        attempts, last_error = detail[0]
        reason = (f"chunk {seq} of {count} could not be loaded after {attempts} delivery attempts "
                  f"and was moved to the dead-letter topic; last error: {last_error}")
    else:
        reason = (f"chunk {seq} of {count} could not be loaded and was moved to the dead-letter "
                  f"topic; no error was recorded")
    mark_failed(conn, session_key, reason)
    return "failed"


def _rollback(conn: pg8000.native.Connection) -> None:
    try:
        conn.run("ROLLBACK")
    except Exception as exc:  # noqa: BLE001 - the connection is broken; the caller's error matters
        logger.debug("rollback after a failed chunk failed too: %s", exc)

