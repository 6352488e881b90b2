"""Fast reading of the numeric block of a delimited file, with exact error locations.

The fast path hands the block to pyarrow's multi-threaded CSV reader. When it rejects the block
(a text value, a short row, thousands separators), the slow path reads it again row by row: it
accepts what can be read without guessing and raises a ``ParseError`` that names the line, the
channel, what was expected and what was found.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import ParseError
from .text import decode_text

_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
_GROUPED = re.compile(r"^-?\d{1,3}(?:[.,' ]\d{3})+(?:[.,]\d+)?$")


def detect_decimal(sample_rows: list[list[str]], separator: str) -> tuple[str, str | None]:
    """Return ``(decimal_mark, thousands_mark)`` seen in a few data rows."""
    if separator == ",":
        return ".", None
    comma = dot_grouped = False
    for row in sample_rows:
        for field in row:
            f = field.strip().strip('"')
            if _DECIMAL_COMMA.match(f):
                comma = True
            if "," in f and "." in f and f.rfind(",") > f.rfind("."):
                comma = True
                dot_grouped = True
    if comma:
        return ",", "." if dot_grouped else None
    return ".", None


def read_numeric_block(
    body: bytes,
    start: int,
    first_line: int,
    names: list[str],
    separator: str,
    file: str,
    *,
    decimal: str | None = None,
    thousands: str | None = None,
) -> tuple[list[np.ndarray], int]:
    """Read the rows of ``body`` from byte ``start`` as float64 columns; NaN for empty cells.

    ``first_line`` is the 1-based line number of ``start`` for error messages. Returns the
    columns in ``names`` order and the number of rows read.
    """
    if decimal is None:
        sample = _sample_rows(body, start, separator)
        decimal, thousands = detect_decimal(sample, separator)

    if thousands is None:
        try:
            return _fast(body, start, names, separator, decimal)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return _slow(body, start, first_line, names, separator, decimal, thousands, file)


def _sample_rows(body: bytes, start: int, separator: str, count: int = 20) -> list[list[str]]:
    chunk = body[start:start + 8192].decode("utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(chunk), delimiter=separator))
    return [r for r in rows[:count] if any(f.strip() for f in r)]


def _fast(body: bytes, start: int, names: list[str], separator: str,
          decimal: str) -> tuple[list[np.ndarray], int]:
    source = pa.BufferReader(pa.py_buffer(memoryview(body)[start:]))
    table = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(delimiter=separator, ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.float64() for n in names},
            null_values=[""],
            quoted_strings_can_be_null=True,
            decimal_point=decimal,
        ),
    )
    rows = table.num_rows
    columns = []
    # Convert and release one column at a time so that peak memory stays near one copy.
    for _ in range(len(names)):
        column = table.column(0)
        columns.append(column.to_numpy())
        table = table.remove_column(0)
        del column
    return columns, rows


def _slow(body: bytes, start: int, first_line: int, names: list[str], separator: str,
          decimal: str, thousands: str | None, file: str) -> tuple[list[np.ndarray], int]:
    text = decode_text(body[start:])
    lines = text.splitlines()
    width = len(names)
    values = np.full((len(lines), width), np.nan)
    rows = 0
    last_content = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip() or not line.strip(separator + ' "'):
            continue
        number = first_line + i
        fields = next(csv.reader([line], delimiter=separator))
        while len(fields) > width and not fields[-1].strip():
            fields.pop()
        if len(fields) != width:
            if i == last_content and len(fields) < width:
                # A log cut off while writing its last row: keep everything before it.
                break
            raise ParseError(file, "wrong number of fields", line=number,
                             expected=f"{width} fields", found=f"{len(fields)}")
        for j, field in enumerate(fields):
            value = field.strip()
            if not value:
                continue
            if thousands:
                value = value.replace(thousands, "")
            if decimal != ".":
                value = value.replace(decimal, ".")
            try:
                values[rows, j] = float(value)
            except ValueError as exc:
                raise ParseError(file, "value is not a number", line=number, field=names[j],
                                 expected="a number", found=repr(field)) from exc
        rows += 1
    values = values[:rows]
    return [np.ascontiguousarray(values[:, j]) for j in range(width)], rows
