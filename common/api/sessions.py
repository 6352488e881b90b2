"""Session endpoints: health, list with filters, detail and delete."""

from __future__ import annotations

import flask

from ..db.sessions import delete_session
from . import cursors, schemas
from .app import connection, route
from .context import Context
from .errors import conflict, not_found
from .params import Param, session_id_param
from .responses import Reply

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
STATUSES = ("received", "parsing", "loading", "ready", "failed")
# Statuses in which the pipeline still writes the session; deleting then needs force=true.
BUSY_STATUSES = ("received", "parsing", "loading")
# A session's start as a timestamp: its zoned start time, else its local start time read as UTC.
START_EXPR = "COALESCE(s.start_time, s.start_local AT TIME ZONE 'UTC')"


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
        "updated_at": updated.isoformat() if updated else None,
        "ready_at": ready.isoformat() if ready else None,
        "url": f"/v1/sessions/{session_id}",
    }


@route("GET", "/health", tag="health", public=True,
       responses={200: Reply("The API and its database answer.", schemas.ref("Health"))})
def health(ctx: Context):
    """Check that the API and its database respond."""
    with connection() as conn:
        conn.run("SELECT 1")
    return {"status": "ok", "database": "ok"}


LIST_PARAMS = (
    Param("track", "string", "Only sessions at this track (exact name).", max_length=200),
    Param("car", "string", "Only sessions in this car (exact name).", max_length=200),
    Param("driver", "string", "Only sessions of this driver (exact name).", max_length=200),
    Param("format", "string", "Only sessions read by this format reader, such as motec_csv.",
          max_length=50),
    Param("status", "string", "Only sessions with this status.", choices=STATUSES),
    Param("started_after", "datetime",
          "Only sessions that started at or after this time. A session whose file gives no time "
          "zone is compared by its local start time read as UTC."),
    Param("started_before", "datetime", "Only sessions that started before this time."),
    Param("created_after", "datetime", "Only sessions stored at or after this time."),
    Param("created_before", "datetime", "Only sessions stored before this time."),
    Param("limit", "integer", "Sessions per page.", default=50, minimum=1, maximum=MAX_PAGE),
    Param("cursor", "string", "next_cursor of the previous page.", max_length=200),
)


@route("GET", "/v1/sessions", tag="sessions", query=LIST_PARAMS,
       responses={200: Reply("A page of sessions, newest first.", schemas.ref("SessionPage"))})
def list_sessions(ctx: Context):
    """List sessions, newest first, with filters and cursor pagination."""
    q = ctx.query
    where, params = [], {}
    for name, column in (("track", "t.name"), ("car", "c.name"), ("driver", "d.name"),
                         ("format", "s.format"), ("status", "s.status")):
        if q[name] is not None:
            where.append(f"{column} = :{name}")
            params[name] = q[name]
    for name, expression, operator in (("started_after", START_EXPR, ">="),
                                       ("started_before", START_EXPR, "<"),
                                       ("created_after", "s.created_at", ">="),
                                       ("created_before", "s.created_at", "<")):
        if q[name] is not None:
            where.append(f"{expression} {operator} :{name}")
            params[name] = q[name]
    if q["cursor"]:
        (after,) = cursors.decode(q["cursor"], (int,))
        where.append("s.session_key < :after")
        params["after"] = after
    sql = f"SELECT {SESSION_FIELDS} {SESSION_JOINS}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY s.session_key DESC LIMIT :limit"
    limit = q["limit"]
    with connection() as conn:
        rows = conn.run(sql, limit=limit + 1, **params)
    items = [session_summary(r) for r in rows[:limit]]
    next_cursor = cursors.encode(rows[limit - 1][-1]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


@route("GET", "/v1/sessions/{session_id}", tag="sessions", path_params=(session_id_param(),),
       responses={200: Reply("The session with its channels, sources, laps and quality report.",
                             schemas.ref("SessionDetail"))})
def get_session(ctx: Context):
    """Get a session: metadata, channels with units and provenance, quality, laps.

    A failed session carries the reason in `reason`.
    """
    session_id = ctx.path["session_id"].lower()
    with connection() as conn:
        rows = conn.run(f"SELECT {SESSION_FIELDS}, s.quality, s.metadata, s.time_offset_s "
                        f"{SESSION_JOINS} WHERE s.session_id = :id", id=session_id)
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
    body["time_offset_s"] = row[25]
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


@route("DELETE", "/v1/sessions/{session_id}", tag="sessions", scope="write",
       path_params=(session_id_param(),),
       query=(Param("force", "boolean", "Delete even while the pipeline is still writing the session.",
                    default=False),),
       responses={204: Reply("Deleted.", None, ()),
                  409: Reply("The pipeline is still writing the session; retry later or pass "
                             "force=true.", schemas.ERROR)})
def remove_session(ctx: Context):
    """Delete a session with its channels, laps and samples.

    The uploaded file stays in the bucket; uploading the same bytes again creates the session
    again.
    """
    session_id = ctx.path["session_id"].lower()
    with connection() as conn:
        rows = conn.run("SELECT status FROM sessions WHERE session_id = :id", id=session_id)
        if not rows:
            raise not_found(f"session {session_id}")
        if rows[0][0] in BUSY_STATUSES and not ctx.query["force"]:
            raise conflict(f"session {session_id} is {rows[0][0]}: the pipeline is still writing it; "
                           "retry when it is ready or failed, or pass force=true")
        if not delete_session(conn, session_id):
            raise not_found(f"session {session_id}")
    return flask.Response(status=204)
