"""Session endpoints: health, list and detail."""

from __future__ import annotations

import base64
import json

import flask

from .app import connection, route
from .errors import bad_request, not_found

SESSION_FIELDS = (
    "s.session_id, s.status, s.reason, s.format, t.name, c.name, d.name, s.session_type, "
    "s.start_time, s.start_local, s.start_time_ambiguous, s.device, s.producer, s.sample_rate_hz, "
    "s.duration_s, s.sample_count, s.samples_loaded, s.chunk_count, s.chunks_loaded, s.created_at, "
    "s.updated_at, s.ready_at, s.session_key"
)
SESSION_JOINS = (
    "FROM sessions s LEFT JOIN tracks t USING (track_id) LEFT JOIN cars c USING (car_id) "
    "LEFT JOIN drivers d USING (driver_id)"
)
MAX_PAGE = 500


def session_summary(row) -> dict:
    (session_id, status, reason, fmt, track, car, driver, session_type, start_time, start_local,
     ambiguous, device, producer, rate, duration, sample_count, samples_loaded, chunk_count,
     chunks_loaded, created, updated, ready, _key) = row
    return {
        "id": session_id,
        "status": status,
        "reason": reason,
        "format": fmt,
        "track": track,
        "car": car,
        "driver": driver,
        "session_type": session_type,
        "start_time": start_time.isoformat() if start_time else None,
        "start_local": start_local.isoformat() if start_local else None,
        "start_time_ambiguous": ambiguous,
        "device": device,
        "producer": producer,
        "sample_rate_hz": rate,
        "duration_s": duration,
        "sample_count": sample_count,
        "samples_stored": samples_loaded,
        "chunk_count": chunk_count,
        "chunks_loaded": chunks_loaded,
        "created_at": created.isoformat() if created else None,
        "ready_at": ready.isoformat() if ready else None,
        "url": f"/v1/sessions/{session_id}",
    }


@route("GET", "/health", public=True)
def health(request: flask.Request):
    with connection() as conn:
        conn.run("SELECT 1")
    return {"status": "ok", "database": "ok"}


@route("GET", "/v1/sessions")
def list_sessions(request: flask.Request):
    limit = _int_param(request, "limit", 50, 1, MAX_PAGE)
    cursor = request.args.get("cursor")
    where, params = [], {}
    if cursor:
        where.append("s.session_key < :after")
        params["after"] = _decode_cursor(cursor)
    status = request.args.get("status")
    if status:
        where.append("s.status = :status")
        params["status"] = status
    sql = f"SELECT {SESSION_FIELDS} {SESSION_JOINS}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY s.session_key DESC LIMIT :limit"
    with connection() as conn:
        rows = conn.run(sql, limit=limit + 1, **params)
    items = [session_summary(r) for r in rows[:limit]]
    next_cursor = _encode_cursor(rows[limit - 1][-1]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


@route("GET", "/v1/sessions/{session_id}")
def get_session(request: flask.Request, session_id: str):
    session_id = session_id.lower()
    if len(session_id) != 64 or any(c not in "0123456789abcdef" for c in session_id):
        raise bad_request("session id must be 64 hex digits (the SHA-256 of the file)")
    with connection() as conn:
        rows = conn.run(f"SELECT {SESSION_FIELDS}, s.quality, s.metadata {SESSION_JOINS} "
                        "WHERE s.session_id = :id", id=session_id)
        if not rows:
            raise not_found(f"session {session_id}")
        row = rows[0]
        key = row[22]
        channels = conn.run(
            "SELECT source_name, source_unit, canonical_name, unit, rate_hz, kind, provenance, "
            "source_group, storage_column, extra_index FROM channels WHERE session_key = :k "
            "ORDER BY position", k=key)
        sources = conn.run(
            "SELECT bucket, object_name, generation, size_bytes, received_at FROM sources "
            "WHERE session_key = :k ORDER BY source_key", k=key)
        laps = conn.run(
            "SELECT lap_number, start_s, end_s, lap_time_s, distance_m, kind, valid, reason "
            "FROM laps WHERE session_key = :k ORDER BY lap_number", k=key)
    body = session_summary(row[:23])
    body["quality"] = row[23]
    body["metadata"] = row[24]
    body["channels"] = [
        {"name": c[0], "source_unit": c[1], "canonical": c[2], "unit": c[3], "rate_hz": c[4],
         "kind": c[5], "provenance": c[6], "group": c[7], "column": c[8], "extra_index": c[9]}
        for c in channels
    ]
    body["sources"] = [
        {"bucket": s[0], "object": s[1], "generation": s[2], "size_bytes": s[3],
         "received_at": s[4].isoformat()}
        for s in sources
    ]
    body["laps"] = [
        {"number": lap[0], "start_s": lap[1], "end_s": lap[2], "lap_time_s": lap[3],
         "distance_m": lap[4], "kind": lap[5], "valid": lap[6], "reason": lap[7]}
        for lap in laps
    ]
    return body


def _int_param(request: flask.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"parameter {name} must be an integer, found {raw!r}") from None
    if not lo <= value <= hi:
        raise bad_request(f"parameter {name} must be between {lo} and {hi}, found {value}")
    return value


def _encode_cursor(session_key: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": session_key}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))["k"]
        if not isinstance(value, int):
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError):
        raise bad_request("parameter cursor is invalid; pass next_cursor from the previous page") from None
