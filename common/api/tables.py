"""Row tables (database rows with named columns) as CSV or Parquet."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import math
from typing import Any

import flask

from .responses import CSV, PARQUET


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def to_csv(names: list[str], rows: list[list[Any]], filename: str,
           headers: dict[str, str]) -> flask.Response:
    """CSV (RFC 4180) with a header row; NULL is an empty field, booleans are true/false."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_text(v) for v in row])
    return flask.Response(out.getvalue(), mimetype=CSV, headers={
        **headers, "Content-Disposition": f'attachment; filename="{filename}"'})


def _arrow_type(sql_type: str):
    import pyarrow as pa

    return {
        "bigint": pa.int64(), "integer": pa.int32(), "smallint": pa.int16(),
        "double precision": pa.float64(), "real": pa.float32(), "numeric": pa.float64(),
        "boolean": pa.bool_(), "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "timestamp without time zone": pa.timestamp("us"), "date": pa.date32(),
    }.get(sql_type, pa.string())


def to_parquet(names: list[str], sql_types: list[str], rows: list[list[Any]], filename: str,
               headers: dict[str, str]) -> flask.Response:
    """Parquet with one column per database column, typed from the SQL type (numeric as double)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for i, sql_type in enumerate(sql_types):
        kind = _arrow_type(sql_type)
        values = [row[i] for row in rows]
        if sql_type == "numeric":
            values = [float(v) if isinstance(v, decimal.Decimal) else v for v in values]
        elif kind == pa.string():
            values = [None if v is None else str(v) for v in values]
        arrays.append(pa.array(values, type=kind))
    table = pa.Table.from_arrays(arrays, names=names)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return flask.Response(sink.getvalue(), mimetype=PARQUET, headers={
        **headers, "Content-Disposition": f'attachment; filename="{filename}"'})
