"""Columnar telemetry as JSON, CSV or Parquet.

Values keep the precision they are stored with: float32 channels print as the shortest text
that reads back to the same float32 (``3.74``, not ``3.740000009536743``). Missing values are
``null`` in JSON, empty fields in CSV and nulls in Parquet.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import flask
import numpy as np

from .responses import CSV, JSON, PARQUET
from .series import ChannelRef

FORMATS = {"json": JSON, "csv": CSV, "parquet": PARQUET}


def choose_format(request: flask.Request, requested: str | None) -> str:
    """Return json, csv or parquet: the ``format`` parameter, else the Accept header, else json."""
    if requested:
        return requested
    best = request.accept_mimetypes.best_match([JSON, CSV, PARQUET], default=JSON)
    return {JSON: "json", CSV: "csv", PARQUET: "parquet"}[best]


def number_strings(values: np.ndarray, integer: bool, missing: str) -> np.ndarray:
    """Return the values as text, with ``missing`` for NaN (and infinities)."""
    bad = ~np.isfinite(values)
    if integer:
        text = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0).astype(np.int64).astype(str)
    else:
        text = values.astype(str)
    return np.where(bad, missing, text)


def _json_array(values: np.ndarray, integer: bool) -> str:
    return "[" + ",".join(number_strings(values, integer, "null").tolist()) + "]"


def to_json(meta: dict[str, Any], elapsed_s: np.ndarray, refs: list[ChannelRef],
            values: list[np.ndarray]) -> flask.Response:
    """Columnar JSON: ``meta`` fields, ``elapsed_s`` and ``channels[name].values``."""
    channels = []
    for ref, column in zip(refs, values):
        head = json.dumps({"source_name": ref.source_name, "canonical": ref.canonical,
                           "unit": ref.unit, "integer": ref.integer})
        values = _json_array(column, ref.integer)
        channels.append(f'{json.dumps(ref.requested)}:{head[:-1]},"values":{values}}}')
    text = (json.dumps(meta)[:-1] + ',"elapsed_s":' + _json_array(elapsed_s, False)
            + ',"channels":{' + ",".join(channels) + "}}")
    return flask.Response(text, mimetype=JSON)


def to_csv(elapsed_s: np.ndarray, refs: list[ChannelRef], values: list[np.ndarray],
           filename: str) -> flask.Response:
    """CSV (RFC 4180): a header row of channel names as requested, then one row per sample."""
    head = io.StringIO()
    csv.writer(head, lineterminator="\r\n").writerow(["elapsed_s"] + [ref.requested for ref in refs])
    columns = [number_strings(elapsed_s, False, "").tolist()]
    columns += [number_strings(v, ref.integer, "").tolist() for ref, v in zip(refs, values)]
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
