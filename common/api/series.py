"""Reading a session's channels from ``samples`` into numpy arrays.

Requested channel names are matched against the session's ``channels`` rows. A match only turns
into a column name from the canonical table (``common.channels.BY_NAME``) or an integer index
into ``samples.extra``, so the name itself never becomes SQL. Every value is a bind parameter.

Rows come back as one ``bytea`` built by ``string_agg`` of ``float8send``/``float4send``: one
fixed-size big-endian record per sample, which numpy reads without a Python loop. Missing values
(NULL) arrive as NaN. Integer channels (gear, lap number) travel as float8 so that NULL can be
NaN, and are flagged for the encoders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pg8000.native

from .. import channels as table
from .errors import ApiError, not_found


@dataclass(frozen=True)
class ChannelRef:
    # The name the client asked for; the key of the channel in responses.
    requested: str
    source_name: str
    canonical: str | None
    unit: str
    # The samples column, or None when the channel lives in samples.extra.
    column: str | None
    extra_index: int | None
    # "f4" or "f8": how the value travels; integer channels travel as f8.
    wire: str
    integer: bool


@dataclass
class Series:
    elapsed_s: np.ndarray
    # One array per ChannelRef, in request order.
    values: list[np.ndarray]
    # Whether rows past the row limit were left out.
    truncated: bool


@dataclass
class SessionChannels:
    """A session's key, its channel rows and, when asked for, one lap's time window."""

    key: int
    session_id: str
    # (source_name, canonical_name, unit, storage_column, extra_index) in file order.
    channels: list[tuple]
    # (start_s, end_s) of the lap asked for, or None.
    lap_window: tuple[float, float] | None


_LOOKUP = """
WITH s AS (SELECT session_key FROM sessions WHERE session_id = :id),
     l AS (SELECT start_s, end_s FROM laps
           WHERE session_key = (SELECT session_key FROM s) AND lap_number = CAST(:lap AS integer))
SELECT s.session_key, (SELECT start_s FROM l), (SELECT end_s FROM l),
       c.source_name, c.canonical_name, c.unit, c.storage_column, c.extra_index
FROM s LEFT JOIN channels c ON c.session_key = s.session_key
ORDER BY c.position
"""


def lookup(conn: pg8000.native.Connection, session_id: str, lap: int | None = None) -> SessionChannels:
    """Find a session, its channels and optionally a lap's window, in one query.

    Raises 404 when the session, or the lap asked for, does not exist.
    """
    rows = conn.run(_LOOKUP, id=session_id, lap=lap)
    if not rows:
        raise not_found(f"session {session_id}")
    key, lap_start, lap_end = rows[0][:3]
    if lap is not None and lap_start is None:
        raise not_found(f"lap {lap} of session {session_id}")
    channels = [tuple(row[3:]) for row in rows if row[3] is not None]
    window = (float(lap_start), float(lap_end)) if lap is not None else None
    return SessionChannels(key, session_id, channels, window)


def resolve(found: SessionChannels, names: list[str]) -> list[ChannelRef]:
    """Match each name to a channel: by storage column (canonical name) first, then source name."""
    refs = []
    for name in names:
        match = next((row for row in found.channels if row[3] is not None and row[3] == name), None)
        if match is None:
            match = next((row for row in found.channels if row[0] == name), None)
        if match is None:
            available = [row[3] or row[0] for row in found.channels]
            listed = ", ".join(available[:40]) + (", ..." if len(available) > 40 else "")
            raise ApiError(404, "not_found", f"channel {name!r} not found in session "
                                             f"{found.session_id}; its channels are: {listed}")
        source_name, canonical, unit, column, extra_index = match
        if column is not None:
            if column not in table.BY_NAME:
                raise ApiError(500, "internal", f"channel {source_name!r} names an unknown column")
            sql_type = table.BY_NAME[column].sql_type
            integer = sql_type in ("smallint", "integer", "bigint")
            wire = "f4" if sql_type == "real" else "f8"
        else:
            integer, wire = False, "f4"
        refs.append(ChannelRef(name, source_name, canonical, unit, column, extra_index, wire, integer))
    return refs


def read(conn: pg8000.native.Connection, key: int, refs: list[ChannelRef], start_s: float | None,
         end_s: float | None, max_rows: int) -> Series:
    """Read ``elapsed_s`` and the channels between ``start_s`` and ``end_s`` (both inclusive)."""
    params: dict = {"k": key, "limit": max_rows + 1}
    inner, outer = ["elapsed_s"], ["float8send(elapsed_s)"]
    for i, ref in enumerate(refs):
        if ref.column is not None:
            inner.append(f'"{ref.column}" AS c{i}')
        else:
            params[f"x{i}"] = ref.extra_index + 1
            inner.append(f"extra[:x{i}] AS c{i}")
        if ref.wire == "f4":
            outer.append(f"float4send(COALESCE(c{i}::real, 'NaN'::real))")
        else:
            outer.append(f"float8send(COALESCE(c{i}::float8, 'NaN'::float8))")
    where = "session_key = :k"
    if start_s is not None:
        where += " AND elapsed_s >= :start"
        params["start"] = start_s
    if end_s is not None:
        where += " AND elapsed_s <= :end"
        params["end"] = end_s
    # No ORDER BY inside string_agg: sorting again costs about a third of the query. PostgreSQL
    # aggregates a sorted subquery in its order in practice but does not promise it, so the
    # order is checked below and restored when needed.
    sql = (f"SELECT count(*), string_agg({' || '.join(outer)}, ''::bytea) "
           f"FROM (SELECT {', '.join(inner)} FROM samples WHERE {where} "
           "ORDER BY elapsed_s LIMIT :limit) AS w")
    count, blob = conn.run(sql, **params)[0]
    dtype = np.dtype([("t", ">f8")] + [(f"c{i}", ">" + ref.wire) for i, ref in enumerate(refs)])
    records = np.frombuffer(blob or b"", dtype=dtype, count=count)
    if count > 1 and not np.all(records["t"][1:] > records["t"][:-1]):
        records = np.sort(records, order="t")
    truncated = count > max_rows
    if truncated:
        records = records[:max_rows]
    elapsed = records["t"].astype(np.float64)
    values = [records[f"c{i}"].astype(np.float32 if ref.wire == "f4" else np.float64)
              for i, ref in enumerate(refs)]
    return Series(elapsed, values, truncated)
