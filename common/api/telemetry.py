"""Telemetry endpoint: a session's samples for chosen channels, as columnar JSON."""

from __future__ import annotations

import math

import flask

from .. import channels as table
from .app import connection, route
from .errors import bad_request, not_found
from .sessions import _int_param

# Most rows one request returns; ask for a time range to read more.
MAX_ROWS = 200_000


@route("GET", "/v1/sessions/{session_id}/telemetry")
def telemetry(request: flask.Request, session_id: str):
    names = [n.strip() for n in request.args.get("channels", "").split(",") if n.strip()]
    if not names:
        raise bad_request("parameter channels is required: a comma-separated list of channel names")
    start = _float_param(request, "start_s")
    end = _float_param(request, "end_s")
    limit = _int_param(request, "limit", MAX_ROWS, 1, MAX_ROWS)
    with connection() as conn:
        rows = conn.run("SELECT session_key FROM sessions WHERE session_id = :id", id=session_id.lower())
        if not rows:
            raise not_found(f"session {session_id}")
        key = rows[0][0]
        known = conn.run(
            "SELECT source_name, canonical_name, unit, storage_column, extra_index FROM channels "
            "WHERE session_key = :k ORDER BY position", k=key)
        selected = []
        for name in names:
            match = _find(known, name)
            if match is None:
                raise not_found(f"channel {name!r} in session {session_id}")
            selected.append((name, *match))
        expressions = []
        params: dict = {"k": key, "limit": limit}
        for i, (_, _, _, _, column, extra_index) in enumerate(selected):
            if column is not None:
                if column not in table.BY_NAME:
                    raise bad_request(f"channel column {column!r} is not a known column")
                expressions.append(f'"{column}"')
            else:
                params[f"x{i}"] = extra_index + 1
                expressions.append(f"extra[:x{i}]")
        where = "session_key = :k"
        if start is not None:
            where += " AND elapsed_s >= :start"
            params["start"] = start
        if end is not None:
            where += " AND elapsed_s <= :end"
            params["end"] = end
        data = conn.run(
            f"SELECT elapsed_s, {', '.join(expressions)} FROM samples WHERE {where} "
            "ORDER BY elapsed_s LIMIT :limit", **params)
    body = {
        "session_id": session_id.lower(),
        "elapsed_s": [r[0] for r in data],
        "channels": {},
    }
    for i, (name, source_name, canonical, unit, *_rest) in enumerate(selected):
        body["channels"][name] = {
            "source_name": source_name,
            "canonical": canonical,
            "unit": unit,
            "values": [_clean(r[i + 1]) for r in data],
        }
    return body


def _find(known, name: str):
    for source_name, canonical, unit, column, extra_index in known:
        if column is not None and column == name:
            return source_name, canonical, unit, column, extra_index
    for source_name, canonical, unit, column, extra_index in known:
        if source_name == name:
            return source_name, canonical, unit, column, extra_index
    return None


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _float_param(request: flask.Request, name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"parameter {name} must be a number of seconds, found {raw!r}") from None
    if not math.isfinite(value):
        raise bad_request(f"parameter {name} must be finite, found {raw!r}")
    return value
