"""Session bookkeeping: sources, status transitions, metadata rows, deletion.

Status moves ``received -> parsing -> loading -> ready``, or to ``failed`` with a reason. The load
stage sets ``ready`` in the same transaction as the last chunk, so a session is never ready with
rows missing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pg8000.native

from ..model import Session

logger = logging.getLogger(__name__)

# Maximum length of a stored failure reason, in characters. Longer reasons are cut with a marker.
MAX_REASON_CHARS = 2000


@dataclass
class Registration:
    session_key: int
    status: str
    new_session: bool
    new_source: bool


def register_source(
    conn: pg8000.native.Connection,
    session_id: str,
    bucket: str,
    object_name: str,
    generation: int,
    size_bytes: int,
) -> Registration:
    """Create the session if it is new and record this object as one of its sources."""
    rows = conn.run(
        "INSERT INTO sessions (session_id) VALUES (:id) ON CONFLICT (session_id) DO NOTHING "
        "RETURNING session_key, status",
        id=session_id,
    )
    new_session = bool(rows)
    if not rows:
        rows = conn.run("SELECT session_key, status FROM sessions WHERE session_id = :id", id=session_id)
    session_key, status = rows[0]
    inserted = conn.run(
        "INSERT INTO sources (session_key, bucket, object_name, generation, size_bytes, sha256) "
        "VALUES (:k, :b, :o, :g, :s, :h) ON CONFLICT (bucket, object_name, generation) DO NOTHING "
        "RETURNING source_key",
        k=session_key, b=bucket, o=object_name, g=generation, s=size_bytes, h=session_id,
    )
    return Registration(session_key, status, new_session, bool(inserted))


def set_status(conn: pg8000.native.Connection, session_key: int, status: str,
               only_from: tuple[str, ...] | None = None) -> bool:
    """Set a session's status, optionally only from one of ``only_from``; return whether it changed."""
    if only_from:
        rows = conn.run(
            "UPDATE sessions SET status = :s, updated_at = now() "
            "WHERE session_key = :k AND status = ANY(:prev) RETURNING 1",
            s=status, k=session_key, prev=list(only_from),
        )
    else:
        rows = conn.run("UPDATE sessions SET status = :s, updated_at = now() WHERE session_key = :k "
                        "RETURNING 1", s=status, k=session_key)
    return bool(rows)


def mark_failed(conn: pg8000.native.Connection, session_key: int, reason: str) -> None:
    """Mark a session failed with a reason a person can act on."""
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 15] + " ... (truncated)"
    conn.run(
        "UPDATE sessions SET status = 'failed', reason = :r, updated_at = now() WHERE session_key = :k",
        r=reason, k=session_key,
    )


def _dimension(conn: pg8000.native.Connection, table: str, name: str | None) -> int | None:
    if not name:
        return None
    column = {"tracks": "track_id", "cars": "car_id", "drivers": "driver_id"}[table]
    rows = conn.run(
        f"INSERT INTO {table} (name) VALUES (:n) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name "
        f"RETURNING {column}",
        n=name,
    )
    return rows[0][0]


def store_parsed(conn: pg8000.native.Connection, session_key: int, session: Session,
                 chunk_count: int) -> None:
    """Store a parsed session's metadata and channels and reset its load counters.

    Runs inside the caller's transaction. Samples already loaded for this session (from an
    earlier, interrupted parse of the same bytes) are kept: chunks are deterministic, so the
    ledger still matches them.
    """
    md = session.metadata
    track_id = _dimension(conn, "tracks", md.track)
    car_id = _dimension(conn, "cars", md.car)
    driver_id = _dimension(conn, "drivers", md.driver)
    if track_id and md.track_length_m:
        conn.run("UPDATE tracks SET length_m = :l WHERE track_id = :t AND length_m IS NULL",
                 l=md.track_length_m, t=track_id)
    start_time = md.start_time if md.start_time and md.start_time.tzinfo else None
    start_local = md.start_time if md.start_time and not md.start_time.tzinfo else None
    metadata = metadata_json(session)
    conn.run(
        "UPDATE sessions SET format = :f, track_id = :t, car_id = :c, driver_id = :d, "
        "session_type = :st, start_time = :s, start_local = :sl, start_time_ambiguous = :amb, "
        "device = :dev, producer = :prod, sample_rate_hz = :rate, duration_s = :dur, "
        "time_offset_s = :off, sample_count = :n, chunk_count = :cc, quality = CAST(:q AS jsonb), "
        "metadata = CAST(:m AS jsonb), reason = NULL, updated_at = now() WHERE session_key = :k",
        f=session.format, t=track_id, c=car_id, d=driver_id, st=md.session_type, s=start_time,
        sl=start_local, amb=md.start_time_ambiguous, dev=md.device, prod=md.producer,
        rate=md.sample_rate_hz, dur=session.duration_s, off=session.time_offset_s,
        n=session.sample_count, cc=chunk_count, q=json.dumps(_jsonable(session.quality)),
        m=metadata, k=session_key,
    )
    conn.run("DELETE FROM channels WHERE session_key = :k", k=session_key)
    for position, ch in enumerate(session.channels):
        conn.run(
            "INSERT INTO channels (session_key, position, source_name, source_unit, canonical_name, "
            "unit, rate_hz, kind, provenance, source_group, storage_column, extra_index) VALUES "
            "(:k, :p, :sn, :su, :cn, :u, :r, :kind, :prov, :g, :col, :x)",
            k=session_key, p=position, sn=ch.source_name, su=ch.source_unit, cn=ch.canonical,
            u=ch.unit, r=ch.rate_hz, kind=ch.kind, prov=ch.provenance, g=ch.group, col=ch.column,
            x=ch.extra_index,
        )


def metadata_json(session: Session) -> str:
    """Return the session's metadata, with its warnings, as the JSON stored in sessions.metadata."""
    metadata = session.metadata.as_dict()
    metadata["warnings"] = session.warnings
    return json.dumps(_jsonable(metadata))


def update_metadata(conn: pg8000.native.Connection, session_key: int, session: Session) -> None:
    """Replace a stored session's metadata JSON (for example after a late sidecar file)."""
    conn.run("UPDATE sessions SET metadata = CAST(:m AS jsonb), updated_at = now() WHERE session_key = :k",
             m=metadata_json(session), k=session_key)


def delete_session(conn: pg8000.native.Connection, session_id: str) -> bool:
    """Delete a session and everything that belongs to it; return whether it existed."""
    conn.run("BEGIN")
    try:
        rows = conn.run("SELECT session_key FROM sessions WHERE session_id = :id FOR UPDATE",
                        id=session_id)
        if not rows:
            conn.run("ROLLBACK")
            return False
        key = rows[0][0]
        conn.run("DELETE FROM samples WHERE session_key = :k", k=key)
        conn.run("DELETE FROM sessions WHERE session_key = :k", k=key)
        conn.run("COMMIT")
    except Exception:
        conn.run("ROLLBACK")
        raise
    logger.info("deleted session", extra={"session_id": session_id})
    return True


def prune_sessions(conn: pg8000.native.Connection, older_than_days: float,
                   status: str | None = None) -> list[str]:
    """Delete sessions created more than ``older_than_days`` ago (optionally only with ``status``).

    Returns the deleted session ids. Each session is deleted in its own transaction.
    """
    sql = ("SELECT session_id FROM sessions "
           "WHERE created_at < now() - make_interval(secs => :age)")
    params: dict[str, Any] = {"age": older_than_days * 86400.0}
    if status:
        sql += " AND status = :status"
        params["status"] = status
    deleted = []
    for (session_id,) in conn.run(sql + " ORDER BY session_key", **params):
        if delete_session(conn, session_id.strip()):
            deleted.append(session_id.strip())
    return deleted


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return f if np.isfinite(f) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
