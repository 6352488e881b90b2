"""Chunk messages: one slice of a session's samples in a compact, typed, compressed encoding.

A chunk is an Arrow IPC stream compressed with zstd. Its columns are ``elapsed_s`` (float64), the
canonical columns the session fills (typed as in the samples table) and ``extra.<i>`` (float32)
for the other channels, where ``i`` is the channel's index in ``samples.extra``. Message
attributes name the session, the chunk's sequence number, the chunk count, the row count and the
encoding version.

Chunk boundaries depend only on the session's rows and columns and on ``chunk_target_bytes``, so
parsing the same file again produces the same chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import channels as table
from .errors import ChunkError
from .model import Session

ENCODING = "arrow-ipc-zstd/1"
_ARROW_TYPES = {
    "real": pa.float32(),
    "double precision": pa.float64(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
}
COLUMN_TYPES: dict[str, pa.DataType] = {c.name: _ARROW_TYPES[c.sql_type] for c in table.CANONICAL}
EXTRA_PREFIX = "extra."


@dataclass(frozen=True)
class Chunk:
    """One encoded chunk and its Pub/Sub attributes."""

    session_id: str
    seq: int
    count: int
    rows: int
    data: bytes

    @property
    def attributes(self) -> dict[str, str]:
        return {
            "session_id": self.session_id,
            "seq": str(self.seq),
            "count": str(self.count),
            "rows": str(self.rows),
            "encoding": ENCODING,
        }


def rows_per_chunk(session: Session, target_bytes: int) -> int:
    """Return how many rows fit in ``target_bytes`` of uncompressed column data (at least 1)."""
    width = 8
    for ch in session.channels:
        width += COLUMN_TYPES[ch.column].byte_width if ch.column else 4
    return max(1, target_bytes // width)


def session_arrays(session: Session) -> list[tuple[str, pa.Array]]:
    """Return the session's columns as typed Arrow arrays, in chunk column order."""
    arrays: list[tuple[str, pa.Array]] = [("elapsed_s", pa.array(session.elapsed_s, pa.float64()))]
    for ch in session.channels:
        if ch.column:
            arrow_type = COLUMN_TYPES[ch.column]
            arrays.append((ch.column, _typed(ch.values, arrow_type)))
    for ch in sorted((c for c in session.channels if c.column is None), key=lambda c: c.extra_index):
        arrays.append((f"{EXTRA_PREFIX}{ch.extra_index}", _typed(ch.values, pa.float32())))
    return arrays


def _typed(values: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    if pa.types.is_integer(arrow_type):
        missing = np.isnan(values)
        ints = np.where(missing, 0, np.round(values)).astype(arrow_type.to_pandas_dtype())
        return pa.array(ints, arrow_type, mask=missing)
    return pa.array(values.astype(arrow_type.to_pandas_dtype(), copy=False), arrow_type)


def encode_session(session_id: str, session: Session, target_bytes: int) -> Iterator[Chunk]:
    """Split a normalized session into encoded chunks, in sequence order."""
    arrays = session_arrays(session)
    full = pa.table(dict(arrays))
    step = rows_per_chunk(session, target_bytes)
    total = session.sample_count
    count = max(1, -(-total // step))
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    for seq in range(count):
        part = full.slice(seq * step, step)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, part.schema, options=options) as writer:
            writer.write_table(part)
        yield Chunk(session_id, seq, count, part.num_rows, sink.getvalue().to_pybytes())


def decode_chunk(session_id: str, seq: int | None, data: bytes) -> pa.Table:
    """Decode a chunk's payload; raise ``ChunkError`` when it is not a valid chunk."""
    try:
        with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
            decoded = reader.read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise ChunkError(session_id, seq, f"payload is not an {ENCODING} stream: {exc}") from exc
    names = decoded.column_names
    if not names or names[0] != "elapsed_s":
        raise ChunkError(session_id, seq, f"first column must be elapsed_s, found {names[:1]}")
    for name in names[1:]:
        if name.startswith(EXTRA_PREFIX):
            if not name[len(EXTRA_PREFIX):].isdigit():
                raise ChunkError(session_id, seq, f"invalid extra column name {name!r}")
        elif name not in COLUMN_TYPES:
            raise ChunkError(session_id, seq, f"unknown column {name!r}")
    return decoded


def parse_attributes(attributes: dict[str, str]) -> tuple[str, int, int, int]:
    """Return ``(session_id, seq, count, rows)`` from message attributes; raise ``ChunkError``."""
    session_id = attributes.get("session_id", "")
    if len(session_id) != 64 or any(c not in "0123456789abcdef" for c in session_id):
        raise ChunkError(session_id or "<missing>", None,
                         "attribute session_id must be 64 lower-case hex digits")
    encoding = attributes.get("encoding")
    if encoding != ENCODING:
        raise ChunkError(session_id, None, f"unsupported encoding {encoding!r}; expected {ENCODING}")
    try:
        seq = int(attributes["seq"])
        count = int(attributes["count"])
        rows = int(attributes.get("rows", "-1"))
    except (KeyError, ValueError) as exc:
        raise ChunkError(session_id, None, f"attributes seq and count must be integers: {exc}") from exc
    if not 0 <= seq < count:
        raise ChunkError(session_id, seq, f"seq must be in [0, {count}), found {seq}")
    return session_id, seq, count, rows
