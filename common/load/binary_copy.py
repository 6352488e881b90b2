"""Build PostgreSQL binary COPY buffers for the samples table with numpy, without a per-row loop.

Each row is laid out as a fixed-width numpy record (field count, then length and value of every
field, big-endian). Missing values become NULL: their length is set to -1 and their value bytes are
cut out with one boolean mask over the record bytes, which keeps the whole build vectorized.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .. import channels as table
from ..chunks import EXTRA_PREFIX

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
_FLOAT4_OID = 700

_NUMPY_TYPES = {
    "real": ">f4",
    "double precision": ">f8",
    "smallint": ">i2",
    "integer": ">i4",
}
_SQL_TYPES = {c.name: c.sql_type for c in table.CANONICAL}


def build(session_key: int, chunk: pa.Table) -> tuple[list[str], bytes]:
    """Return the COPY column list and the binary buffer holding every row of ``chunk``."""
    n = chunk.num_rows
    names = chunk.column_names
    canonical = [c for c in names[1:] if not c.startswith(EXTRA_PREFIX)]
    extras = sorted((c for c in names if c.startswith(EXTRA_PREFIX)),
                    key=lambda c: int(c[len(EXTRA_PREFIX):]))
    m = len(extras)
    if extras and [int(c[len(EXTRA_PREFIX):]) for c in extras] != list(range(m)):
        raise ValueError(f"extra columns must be numbered 0..{m - 1}, found {extras}")

    fields: list[tuple] = [("count", ">i2"), ("key_len", ">i4"), ("key", ">i8"),
                           ("t_len", ">i4"), ("t", ">f8")]
    for i, name in enumerate(canonical):
        fields += [(f"len{i}", ">i4"), (f"val{i}", _NUMPY_TYPES[_SQL_TYPES[name]])]
    if m:
        fields += [("xlen", ">i4"), ("ndim", ">i4"), ("hasnull", ">i4"), ("oid", ">i4"),
                   ("dim", ">i4"), ("lbound", ">i4"), ("elems", [("len", ">i4"), ("val", ">f4")], (m,))]
    dtype = np.dtype(fields)
    rec = np.empty(n, dtype=dtype)
    rec["count"] = 2 + len(canonical) + (1 if m else 0)
    rec["key_len"] = 8
    rec["key"] = session_key
    rec["t_len"] = 8
    rec["t"] = _numpy(chunk.column(0), np.float64)

    drop: list[tuple[str, np.ndarray]] = []
    for i, name in enumerate(canonical):
        column = chunk.column(name)
        values, missing = _values_and_mask(column, _NUMPY_TYPES[_SQL_TYPES[name]])
        rec[f"val{i}"] = values
        width = dtype[f"val{i}"].itemsize
        if missing is not None and missing.any():
            rec[f"len{i}"] = np.where(missing, -1, width)
            drop.append((f"val{i}", missing))
        else:
            rec[f"len{i}"] = width

    extra_missing = None
    if m:
        matrix = np.empty((n, m), dtype=np.float32)
        for j, name in enumerate(extras):
            matrix[:, j] = _numpy(chunk.column(name), np.float32)
        extra_missing = np.isnan(matrix)
        nulls_per_row = extra_missing.sum(axis=1)
        rec["ndim"] = 1
        rec["hasnull"] = (nulls_per_row > 0).astype(np.int32)
        rec["oid"] = _FLOAT4_OID
        rec["dim"] = m
        rec["lbound"] = 1
        rec["elems"]["val"] = matrix
        rec["elems"]["len"] = np.where(extra_missing, -1, 4)
        # Array header (20 bytes) plus each element's length word, plus 4 bytes per present value.
        rec["xlen"] = 20 + 4 * m + 4 * (m - nulls_per_row)

    raw = rec.view(np.uint8).reshape(n, dtype.itemsize)
    if drop or (extra_missing is not None and extra_missing.any()):
        keep = np.ones(raw.shape, dtype=bool)
        for field, missing in drop:
            start = dtype.fields[field][1]
            keep[missing, start:start + dtype[field].itemsize] = False
        if extra_missing is not None and extra_missing.any():
            start = dtype.fields["elems"][1]
            value_bytes = (start + 4 + 8 * np.arange(m)[:, None] + np.arange(4)).ravel()
            keep[:, value_bytes] &= ~np.repeat(extra_missing, 4, axis=1)
        body = raw[keep].tobytes()
    else:
        body = raw.tobytes()

    columns = ["session_key", "elapsed_s", *canonical] + (["extra"] if m else [])
    return columns, HEADER + body + TRAILER


def _numpy(column: pa.ChunkedArray, dtype) -> np.ndarray:
    return np.asarray(column.to_numpy(), dtype=dtype)


def _values_and_mask(column: pa.ChunkedArray, numpy_type: str) -> tuple[np.ndarray, np.ndarray | None]:
    if numpy_type.startswith(">f"):
        values = np.asarray(column.to_numpy(), dtype=numpy_type[1:])
        return values, np.isnan(values)
    combined = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    missing = np.asarray(combined.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(combined.fill_null(0).to_numpy(), dtype=numpy_type[1:])
    return values, (missing if missing.any() else None)
