"""Columnar telemetry as JSON, CSV or Parquet.

Values keep the precision they are stored with: float32 channels print as the shortest text
that reads back to the same float32 (``3.74``, not ``3.740000009536743``). Missing values are
``null`` in JSON, empty fields in CSV and nulls in Parquet. Numbers are formatted by orjson,
which does it in C: formatting 16,000 floats with Python's own repr takes about 10 ms, which
would be most of a lap request's time.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import flask
import numpy as np
import orjson

from .responses import CSV, JSON, PARQUET
from .series import ChannelRef

FORMATS = {"json": JSON, "csv": CSV, "parquet": PARQUET}


def choose_format(request: flask.Request, requested: str | None) -> str:
    """Return json, csv or parquet: the ``format`` parameter, else the Accept header, else json."""
    if requested:
        return requested
    best = request.accept_mimetypes.best_match([JSON, CSV, PARQUET], default=JSON)
    return {JSON: "json", CSV: "csv", PARQUET: "parquet"}[best]


def json_numbers(values: np.ndarray, integer: bool) -> bytes:
    """Return the values as a JSON array, with null for NaN and infinities.

    orjson prints float32 values as the shortest text that reads back to the same float32,
    and float64 values as the shortest that reads back to the same float64.
    """
    if integer:
        bad = ~np.isfinite(values)
        if bad.any():
            items = [None if missing else int(v) for v, missing in zip(values.tolist(), bad.tolist())]
            return orjson.dumps(items)
        return orjson.dumps(values.astype(np.int64), option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)


def number_strings(values: np.ndarray, integer: bool, missing: str) -> list[str]:
    """Return the values as text, as in ``json_numbers``, with ``missing`` for NaN."""
    if len(values) == 0:
        return []
    items = json_numbers(values, integer)[1:-1].decode().split(",")
    return [missing if item == "null" else item for item in items]


def to_json(meta: dict[str, Any], elapsed_s: np.ndarray, refs: list[ChannelRef],
            values: list[np.ndarray]) -> flask.Response:
    """Columnar JSON: ``meta`` fields, ``elapsed_s`` and ``channels[name].values``."""
    parts = [orjson.dumps(meta)[:-1], b',"elapsed_s":', json_numbers(elapsed_s, False), b',"channels":{']
    for i, (ref, column) in enumerate(zip(refs, values)):
        head = orjson.dumps({"source_name": ref.source_name, "canonical": ref.canonical,
                             "unit": ref.unit, "integer": ref.integer})
        parts += [b"," if i else b"", orjson.dumps(ref.requested), b":", head[:-1], b',"values":',
                  json_numbers(column, ref.integer), b"}"]
    parts.append(b"}}")
    return flask.Response(b"".join(parts), mimetype=JSON)


def to_csv(elapsed_s: np.ndarray, refs: list[ChannelRef], values: list[np.ndarray],
           filename: str) -> flask.Response:
    """CSV (RFC 4180): a header row of channel names as requested, then one row per sample."""
    head = io.StringIO()
    csv.writer(head, lineterminator="\r\n").writerow(["elapsed_s"] + [ref.requested for ref in refs])
    columns = [number_strings(elapsed_s, False, "")]
    columns += [number_strings(v, ref.integer, "") for ref, v in zip(refs, values)]
    rows = "\r\n".join(",".join(row) for row in zip(*columns))
    text = head.getvalue() + rows + ("\r\n" if rows else "")
    return flask.Response(text, mimetype=CSV,
                          headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def to_parquet(meta: dict[str, Any], elapsed_s: np.ndarray, refs: list[ChannelRef],
               values: list[np.ndarray], filename: str) -> flask.Response:
    """Parquet: one column per channel named as requested; unit and source name in field metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [pa.field("elapsed_s", pa.float64(), nullable=False, metadata={"unit": "s"})]
    arrays = [pa.array(elapsed_s)]
    for ref, column in zip(refs, values):
        mask = np.isnan(column)
        if ref.integer:
            array = pa.array(np.nan_to_num(column).astype(np.int64), mask=mask, type=pa.int64())
        else:
            array = pa.array(column, mask=mask)
        arrays.append(array)
        fields.append(pa.field(ref.requested, array.type, metadata={
            "unit": ref.unit, "source_name": ref.source_name, "canonical": ref.canonical or ""}))
    schema = pa.schema(fields, metadata={"simtel": json.dumps(meta)})
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), sink)
    return flask.Response(sink.getvalue(), mimetype=PARQUET,
                          headers={"Content-Disposition": f'attachment; filename="{filename}"'})
