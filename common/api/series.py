"""Reading a session's channels from ``samples`` into numpy arrays.

Requested channel names are matched against the session's ``channels`` rows and only ever turn
into a column name from the canonical table (``common.channels.BY_NAME``) or an integer index
into ``samples.extra``; the name itself never becomes SQL. Every value is a bind parameter.

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


def session_key(conn: pg8000.native.Connection, session_id: str) -> int:
    rows = conn.run("SELECT session_key FROM sessions WHERE session_id = :id", id=session_id)
    if not rows:
        raise not_found(f"session {session_id}")
    return rows[0][0]


def resolve(conn: pg8000.native.Connection, key: int, session_id: str,
            names: list[str]) -> list[ChannelRef]:
    """Match each name to a channel: by storage column (canonical name) first, then source name."""
    known = conn.run(
        "SELECT source_name, canonical_name, unit, storage_column, extra_index FROM channels "
        "WHERE session_key = :k ORDER BY position", k=key)
    refs = []
    for name in names:
        match = next((row for row in known if row[3] is not None and row[3] == name), None)
        if match is None:
            match = next((row for row in known if row[0] == name), None)
        if match is None:
            raise not_found(f"channel {name!r} in session {session_id}")
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
    sql = (f"SELECT count(*), string_agg({' || '.join(outer)}, ''::bytea ORDER BY elapsed_s) "
           f"FROM (SELECT {', '.join(inner)} FROM samples WHERE {where} "
           "ORDER BY elapsed_s LIMIT :limit) AS w")
    count, blob = conn.run(sql, **params)[0]
    dtype = np.dtype([("t", ">f8")] + [(f"c{i}", ">" + ref.wire) for i, ref in enumerate(refs)])
    records = np.frombuffer(blob or b"", dtype=dtype, count=count)
    truncated = count > max_rows
    if truncated:
        records = records[:max_rows]
    elapsed = records["t"].astype(np.float64)
    values = [records[f"c{i}"].astype(np.float32 if ref.wire == "f4" else np.float64)
              for i, ref in enumerate(refs)]
    return Series(elapsed, values, truncated)


def lap_window(conn: pg8000.native.Connection, key: int, session_id: str,
               lap: int) -> tuple[float, float]:
    """Return a stored lap's start and end, in seconds from the session start."""
    rows = conn.run("SELECT start_s, end_s FROM laps WHERE session_key = :k AND lap_number = :n",
                    k=key, n=lap)
    if not rows:
        raise not_found(f"lap {lap} of session {session_id}")
    return float(rows[0][0]), float(rows[0][1])
