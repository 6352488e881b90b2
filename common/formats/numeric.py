"""Fast reading of the numeric block of a delimited file, with exact error locations.

Three paths read the block, each tried when the one before cannot:

1. pyarrow's streaming CSV reader parses every numeric column straight to float64, batch by
   batch into preallocated arrays, with a large block cut into one part per CPU. This is the path
   for well-formed files with a plain decimal mark (``.`` or ``,``).
2. pyarrow reads the numeric columns as strings, and Arrow compute functions check each column
   against the number pattern of the file's locale, remove thousands marks and cast. This reads
   thousands separators, and a decimal comma or thousands mark that first appears after the rows
   sampled for detection.
3. Python reads the block row by row. It accepts what can be read without guessing and raises a
   ``ParseError`` that names the line, the channel, what was expected and what was found.

Cells that are empty or hold a missing-value token (``MISSING_TOKENS``) become NaN.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import threading
from collections.abc import Collection

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import ParseError
from ..model import SourceChannel
from .text import decode_text, split_row

# Cell texts that mean "no value", compared lower-case after stripping spaces and quotes.
MISSING_TOKENS = frozenset({"", "-", "--", "na", "n/a", "#n/a", "null", "none", "nan"})
_ARROW_NULLS = ["", "-", "--", "NA", "na", "N/A", "n/a", "#N/A", "null", "NULL", "Null", "None", "none"]

# Characters that group thousands in the locales seen in telemetry exports: comma, dot,
# apostrophe (Switzerland), space, no-break space and narrow no-break space (France).
THOUSANDS_MARKS = (",", ".", "'", " ", "\u00a0", "\u202f")

_PLAIN = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
# A grouped number never starts with 0, so "0,050" is a decimal comma, not a thousands comma.
_GROUPED = re.compile(
    r"^[+-]?[1-9]\d{0,2}(?P<t>[.,' \u00a0\u202f])\d{3}(?:(?P=t)\d{3})*(?:(?P<d>[.,])\d*)?(?:[eE][+-]?\d+)?$"
)
_AMBIGUOUS_DOT = re.compile(r"^[+-]?[1-9]\d{0,2}\.\d{3}$")


class _NeedsSlowPath(Exception):
    """The string path found a value it cannot read; the slow path locates it."""


def detect_decimal(sample_rows: list[list[str]], separator: str) -> tuple[str, str | None]:
    """Return ``(decimal_mark, thousands_mark)`` seen in the fields of a few data rows.

    A field with both marks (``7.125,5`` or ``7,125.5``) decides both. A lone comma followed by
    other than three digits (``98,25``) is a decimal comma. ``1,234`` alone is read as a thousands
    comma in comma-separated files, where it had to be quoted. Otherwise it is read as a decimal
    comma, because a separator other than the comma is most often chosen to free it for decimals.
    """
    votes = {"dot": 0, "comma": 0, "ambiguous_comma": 0, "ambiguous_dot": 0}
    thousands_seen: dict[str, int] = {}
    for row in sample_rows:
        for field in row:
            _vote(field.strip().strip('"').strip(), votes, thousands_seen)

    if votes["comma"] > votes["dot"]:
        decimal = ","
    elif votes["dot"] > votes["comma"]:
        decimal = "."
    elif thousands_seen:
        mark = max(thousands_seen, key=lambda m: thousands_seen[m])
        decimal = "," if mark == "." else "."
    elif votes["ambiguous_comma"]:
        decimal = "." if separator == "," else ","
    else:
        decimal = "."

    candidates = {m: n for m, n in thousands_seen.items() if m != decimal}
    if decimal == "." and votes["ambiguous_comma"]:
        candidates[","] = candidates.get(",", 0) + votes["ambiguous_comma"]
    if decimal == "," and votes["ambiguous_dot"]:
        candidates["."] = candidates.get(".", 0) + votes["ambiguous_dot"]
    thousands = max(candidates, key=lambda m: candidates[m]) if candidates else None
    return decimal, thousands


def _vote(field: str, votes: dict[str, int], thousands_seen: dict[str, int]) -> None:
    if not field or field.lower() in MISSING_TOKENS:
        return
    if _PLAIN.match(field):
        if _AMBIGUOUS_DOT.match(field):
            votes["ambiguous_dot"] += 1
        elif "." in field.split("e")[0].split("E")[0]:
            votes["dot"] += 1
        return
    m = _GROUPED.match(field)
    if m:
        mark, decimal = m.group("t"), m.group("d")
        if decimal and decimal != mark:
            votes["comma" if decimal == "," else "dot"] += 1
            thousands_seen[mark] = thousands_seen.get(mark, 0) + 1
        elif mark == "," and field.count(",") == 1 and not decimal:
            votes["ambiguous_comma"] += 1
        elif not decimal:
            thousands_seen[mark] = thousands_seen.get(mark, 0) + 1
        return
    if _COMMA_DECIMAL.match(field):
        votes["comma"] += 1


def parse_number(text: str, decimal: str = ".", thousands: str | None = None) -> float:
    """Parse one number written with ``decimal`` and ``thousands`` marks; raise ``ValueError``.

    A missing-value token returns NaN.
    """
    value = text.strip().strip('"').strip()
    if value.lower() in MISSING_TOKENS:
        return float("nan")
    if not _locale_pattern(decimal, thousands).match(value):
        raise ValueError(f"not a number: {text!r}")
    if thousands:
        value = value.replace(thousands, "")
    if decimal != ".":
        value = value.replace(decimal, ".")
    return float(value)


def _locale_pattern(decimal: str, thousands: str | None) -> re.Pattern[str]:
    """Return the pattern of a number written with these marks (thousands groups optional)."""
    d = re.escape(decimal)
    digits = rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+" if thousands else r"\d+"
    return re.compile(
        rf"^[+-]?(?:{digits})?(?:{d}\d*)?(?:[eE][+-]?\d+)?$|^(?i:[+-]?(?:nan|inf|infinity))$"
    )


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
    text_columns: Collection[str] = (),
    skip_columns: Collection[str] = (),
    stats: dict[str, int] | None = None,
) -> tuple[list[np.ndarray | None], int]:
    """Read the rows of ``body`` from byte ``start`` as float64 columns; NaN for missing cells.

    ``first_line`` is the 1-based line number of ``start`` for error messages. Columns named in
    ``text_columns`` come back as object arrays of ``str`` (None for an empty cell) and columns in
    ``skip_columns`` as None. Returns the columns in ``names`` order and the number of rows read.
    A last row with fewer fields than ``names``, as written by a logger that stopped mid-row, is
    left out and counted in ``stats["truncated last row"]``.
    """
    text_columns = set(text_columns)
    skip_columns = set(skip_columns)
    end = _end_of_complete_rows(body, start, len(names), separator, stats)
    sample = None
    if decimal is None:
        sample = sample_rows(body, start, separator, end)
        decimal, thousands = detect_decimal(sample, separator)

    if thousands is None:
        try:
            return _fast(body, start, end, names, separator, decimal, text_columns, skip_columns)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    try:
        return _via_strings(body, start, end, names, separator, decimal, thousands,
                            sample or sample_rows(body, start, separator, end),
                            text_columns, skip_columns)
    except (_NeedsSlowPath, pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        # UnicodeDecodeError: a single-byte text such as a cp1252 no-break space in a number.
        pass
    return _slow(body, start, end, first_line, names, separator, decimal, thousands, file,
                 text_columns, skip_columns)


def _end_of_complete_rows(body: bytes, start: int, width: int, separator: str,
                          stats: dict[str, int] | None) -> int:
    """Return the end of the block without a short last row, which a logger cut off mid-write."""
    end = len(body)
    # Strip trailing line breaks from the last 64 KiB only, so the block is not copied.
    tail = body[max(start, end - 65536):end]
    content_end = end - (len(tail) - len(tail.rstrip(b"\r\n\t ")))
    if content_end <= max(start, end - 65536):
        return end
    window = max(start, content_end - 65536)
    line_start = max(body.rfind(b"\n", window, content_end), body.rfind(b"\r", window, content_end)) + 1
    line_start = max(line_start, start)
    fields = split_row(decode_text(body[line_start:content_end]), separator)
    if line_start > start and 0 < len(fields) < width:
        if stats is not None:
            stats["truncated last row"] = stats.get("truncated last row", 0) + 1
        return line_start
    return end


def sample_rows(body: bytes, start: int, separator: str, end: int | None = None,
                count: int = 50) -> list[list[str]]:
    """Return up to ``count`` rows each from the start, middle and end of the block."""
    end = len(body) if end is None else end
    rows: list[list[str]] = []
    size = end - start
    offsets = [start] if size <= 3 * 8192 else [start, start + size // 2, end - 8192]
    for offset in offsets:
        chunk = body[offset:min(offset + 8192, end)]
        if offset != start:
            chunk = chunk[chunk.find(b"\n") + 1:]
        text = decode_text(chunk)
        lines = text.splitlines()
        if offset + 8192 < end and lines:
            lines = lines[:-1]
        rows += [split_row(ln, separator) for ln in lines[:count] if ln.strip()]
    return rows


# Block size of the streaming fast path. With one streaming reader on the one-hour benchmark file,
# 1 MiB gave the lowest peak memory and was no slower than 2 to 16 MiB.
_STREAM_BLOCK_BYTES = 1 << 20
# Blocks from this size on are streamed in parallel parts, at most this many.
_PARALLEL_MIN_BYTES = 8 << 20
_MAX_PARTS = 4


def _read_options(names: list[str]) -> pacsv.ReadOptions:
    return pacsv.ReadOptions(column_names=names, block_size=8 << 20)


def _parse_options(separator: str) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(delimiter=separator, ignore_empty_lines=True)


def _source(body: bytes, start: int, end: int) -> pa.BufferReader:
    return pa.BufferReader(pa.py_buffer(memoryview(body)[start:end]))


def _fast(body: bytes, start: int, end: int, names: list[str], separator: str, decimal: str,
          text_columns: set[str], skip_columns: set[str]) -> tuple[list[np.ndarray | None], int]:
    """Stream the block through pyarrow into preallocated float64 arrays, in parallel parts.

    Streaming keeps pyarrow's parse buffers to a few blocks, so peak memory stays near the file's
    bytes plus one float64 copy of the values. Reading the whole table at once took about 0.7
    times the file size more, in parse buffers (measured with benchmarks/parse.py). A large block
    is cut at line breaks into one part per CPU, and the parts are streamed in threads, because
    one streaming reader parses on one core.
    """
    wanted = [n for n in names if n not in skip_columns]
    convert = pacsv.ConvertOptions(
        column_types={n: (pa.binary() if n in text_columns else pa.float64()) for n in wanted},
        include_columns=wanted,
        null_values=_ARROW_NULLS,
        quoted_strings_can_be_null=True,
        decimal_point=decimal,
    )
    parts = _split_block(body, start, end)
    offsets = np.cumsum([0] + [capacity for _lo, _hi, capacity in parts]).tolist()
    numeric = {n: np.empty(offsets[-1]) for n in wanted if n not in text_columns}
    texts: list[dict[str, list[pa.Array]]] = [{n: [] for n in wanted if n in text_columns} for _ in parts]
    outcomes: list[int | BaseException] = [0] * len(parts)

    def stream(k: int) -> None:
        lo, hi, capacity = parts[k]
        try:
            outcomes[k] = _stream_part(body, lo, hi, names, separator, convert, numeric,
                                       offsets[k], capacity, texts[k])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread below
            outcomes[k] = exc

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(1, len(parts))]
    for thread in threads:
        thread.start()
    stream(0)
    for thread in threads:
        thread.join()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome

    # Move each part's rows down to follow the rows of the parts before it.
    rows = 0
    for k, count in enumerate(outcomes):
        if offsets[k] != rows:
            for values in numeric.values():
                values[rows:rows + count] = values[offsets[k]:offsets[k] + count]
        rows += count

    by_name: dict[str, np.ndarray] = {}
    capacity = offsets[-1]
    for n, values in numeric.items():
        # Blank lines make the capacity larger than the row count; copy only when that wastes much.
        by_name[n] = values[:rows] if rows >= 0.95 * capacity else values[:rows].copy()
    for n in texts[0]:
        chunks = [chunk for part in texts for chunk in part[n]]
        by_name[n] = _text_column(pa.chunked_array(chunks, type=pa.binary()))
    return [by_name.get(n) for n in names], rows


def _stream_part(body: bytes, lo: int, hi: int, names: list[str], separator: str,
                 convert: pacsv.ConvertOptions, numeric: dict[str, np.ndarray], offset: int,
                 capacity: int, texts: dict[str, list[pa.Array]]) -> int:
    """Stream rows ``lo:hi`` of ``body`` into ``numeric`` from row ``offset``; return the row count."""
    reader = pacsv.open_csv(
        _source(body, lo, hi),
        read_options=pacsv.ReadOptions(column_names=names, block_size=_STREAM_BLOCK_BYTES),
        parse_options=_parse_options(separator),
        convert_options=convert,
    )
    rows = 0
    for batch in reader:
        count = batch.num_rows
        if rows + count > capacity:
            # Line breaks were counted as LF, or CR in a file without LF; mixed ends may hold more.
            raise pa.ArrowInvalid("more rows than line breaks")
        for n, column in zip(batch.schema.names, batch.columns):
            if n in texts:
                texts[n].append(column)
            else:
                numeric[n][offset + rows:offset + rows + count] = column.to_numpy(zero_copy_only=False)
        rows += count
    return rows


def _split_block(body: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """Cut the block at line breaks into ``(lo, hi, max_rows)`` parts, one per CPU when large.

    A part ends just after a line feed, so it contains at most as many rows as its line feeds,
    and only the last part may end without one. Like pyarrow's own cutting into blocks (``newlines_in_values``
    off), this assumes that no quoted value in the numeric block contains a line break.
    """
    size = end - start
    count = min(os.cpu_count() or 1, _MAX_PARTS) if size >= _PARALLEL_MIN_BYTES else 1
    cuts = [start]
    for k in range(1, count):
        position = body.find(b"\n", start + size * k // count, end)
        if position < 0 or position + 1 >= end:
            break
        if position + 1 > cuts[-1]:
            cuts.append(position + 1)
    cuts.append(end)

    parts = []
    for lo, hi in itertools.pairwise(cuts):
        breaks = body.count(b"\n", lo, hi)
        if breaks == 0:
            breaks = body.count(b"\r", lo, hi)
        parts.append((lo, hi, breaks + (1 if hi == end else 0)))
    return parts


def _text_column(column: pa.ChunkedArray) -> np.ndarray:
    cache: dict[bytes, str] = {}
    out = np.empty(len(column), dtype=object)
    for i, raw in enumerate(column.to_pylist()):
        if raw is None:
            out[i] = None
            continue
        text = cache.get(raw)
        if text is None:
            text = cache[raw] = decode_text(raw).strip()
        out[i] = text or None
    return out


def _via_strings(body: bytes, start: int, end: int, names: list[str], separator: str,
                 decimal: str, thousands: str | None, sample: list[list[str]],
                 text_columns: set[str], skip_columns: set[str]) -> tuple[list[np.ndarray | None], int]:
    wanted = [n for n in names if n not in skip_columns]
    types = {n: (pa.binary() if n in text_columns else pa.string()) for n in wanted}
    table = pacsv.read_csv(
        _source(body, start, end),
        read_options=_read_options(names),
        parse_options=_parse_options(separator),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            include_columns=wanted,
            null_values=[""],
            quoted_strings_can_be_null=True,
            check_utf8=False,
        ),
    )
    numeric = [n for n in wanted if n not in text_columns]
    trimmed = {n: pc.utf8_trim_whitespace(table.column(n)) for n in numeric}

    # Values that do not fit the sampled locale show the file's locale when the sample did not.
    expected = _locale_pattern(decimal, thousands).pattern
    odd: list[str] = []
    for n in numeric:
        column = trimmed[n]
        fits = pc.match_substring_regex(column, expected)
        unusual = pc.filter(column, pc.invert(pc.fill_null(fits, True)))
        odd += [v for v in unusual.slice(0, 20).to_pylist() if v.lower() not in MISSING_TOKENS]
    if odd:
        decimal, thousands = detect_decimal(sample + [odd], separator)

    by_name: dict[str, np.ndarray] = {}
    for n in wanted:
        if n in text_columns:
            by_name[n] = _text_column(table.column(n))
        else:
            by_name[n] = _cast_locale(trimmed.pop(n), decimal, thousands)
    return [by_name.get(n) for n in names], table.num_rows


def _cast_locale(column: pa.ChunkedArray, decimal: str, thousands: str | None) -> np.ndarray:
    """Cast one string column written in the given locale to float64; NaN for missing values."""
    lowered = pc.utf8_lower(column)
    missing = pc.is_in(lowered, value_set=pa.array(sorted(MISSING_TOKENS - {"nan"})))
    column = pc.if_else(missing, pa.scalar(None, pa.string()), column)
    valid = pc.match_substring_regex(column, _locale_pattern(decimal, thousands).pattern)
    if not pc.all(pc.fill_null(valid, True)).as_py():
        raise _NeedsSlowPath()
    if thousands:
        column = pc.replace_substring(column, thousands, "")
    if decimal != ".":
        column = pc.replace_substring(column, decimal, ".")
    return pc.cast(column, pa.float64()).to_numpy()


def _slow(body: bytes, start: int, end: int, first_line: int, names: list[str], separator: str,
          decimal: str, thousands: str | None, file: str, text_columns: set[str],
          skip_columns: set[str]) -> tuple[list[np.ndarray | None], int]:
    text = decode_text(body[start:end])
    lines = text.splitlines()
    width = len(names)
    values = np.full((len(lines), width), np.nan)
    texts: dict[int, list[str | None]] = {j: [] for j, n in enumerate(names) if n in text_columns}
    numeric = [j for j, n in enumerate(names) if n not in text_columns and n not in skip_columns]
    rows = 0
    for i, line in enumerate(lines):
        if not line.strip() or not line.strip(separator + ' "'):
            continue
        number = first_line + i
        fields = _fields(line, separator)
        while len(fields) > width and not fields[-1].strip():
            fields.pop()
        if len(fields) != width:
            raise ParseError(file, "wrong number of fields", line=number,
                             expected=f"{width} fields", found=f"{len(fields)}")
        for j in numeric:
            field = fields[j]
            try:
                values[rows, j] = parse_number(field, decimal, thousands)
            except ValueError as exc:
                raise ParseError(file, "value is not a number", line=number, field=names[j],
                                 expected=_describe_locale(decimal, thousands),
                                 found=repr(field)) from exc
        for j, column in texts.items():
            column.append(fields[j].strip() or None)
        rows += 1
    values = values[:rows]
    out: list[np.ndarray | None] = []
    for j, n in enumerate(names):
        if n in skip_columns:
            out.append(None)
        elif j in texts:
            out.append(np.array(texts[j], dtype=object))
        else:
            out.append(np.ascontiguousarray(values[:, j]))
    return out, rows


def _fields(line: str, separator: str) -> list[str]:
    if separator == " ":
        return split_row(line, separator)
    return next(csv.reader(io.StringIO(line), delimiter=separator), [])


def _describe_locale(decimal: str, thousands: str | None) -> str:
    text = f"a number with decimal mark {decimal!r}"
    if thousands:
        text += f" and thousands mark {thousands!r}"
    return text


def time_and_channels(names: list[str], units: list[str],
                      columns: list[np.ndarray]) -> tuple[np.ndarray, list[SourceChannel]]:
    """Split columns read in file order into the time axis (first column, in s) and channels."""
    time = columns[0]
    if units[0].strip().lower() == "ms":
        time = time / 1000.0
    channels = [
        SourceChannel(name=n, unit=u, values=v)
        for n, u, v in zip(names[1:], units[1:], columns[1:])
    ]
    return time, channels
