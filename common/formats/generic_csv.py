"""Any other delimited telemetry file: CSV, semicolon, tab or space separated, with or without header.

The reader comes last in the registry and sniffs low, so that every reader for a known producer
wins over it. It finds the layout (``delimited.find_layout``), splits units out of titles such as
"Speed (km/h)", "Speed [m/s]" or "speed_mph", picks the time column (``timeaxis``), and reads the
numbers with ``numeric.read_numeric_block``.

A text column that names the source of each row means that several sources were interleaved row
by row. It is found by its name ("source", "device", ...) or, without such a name, because at
least two of its values fill columns that the others leave empty. Each channel then gets its own
timestamps, taken from the rows where it has a value, so that ``normalize`` merges the sources
on real time instead of on row positions. Other text columns are left out with a warning.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from ..channels import canonical_for, normalize_name
from ..errors import ParseError
from ..model import DISCRETE, Metadata, ParsedLog, SourceChannel
from .delimited import Layout, find_layout, is_number, is_time_text, split_name_unit
from .numeric import MISSING_TOKENS, detect_decimal, read_numeric_block
from .preamble import read_preamble
from .text import looks_like_text, to_utf8
from .timeaxis import find_time_column, numeric_time, text_time

logger = logging.getLogger(__name__)

FORMAT = "generic_csv"

SNIFF_SCORE = 0.35
_HEAD_BYTES = 64 * 1024
# Names (after ``normalize_name``) of a text column that names the source of each row.
SOURCE_NAMES = ("source", "src", "data_source", "device", "sensor", "origin", "stream")
# A text column with at most this many distinct values in the sampled rows may name sources.
_MAX_SOURCES = 8
# Placeholders that units rows write for "no unit".
_NO_UNIT = ("-", "--", "n/a", "none")
_COMMENT_LINE = re.compile(rb"(?m)^[ \t]*#[^\r\n]*(?:\r\n|\r|\n)?")


def sniff(head: bytes, name: str) -> float:
    """Return a low score for text holding a block of numeric rows, 0.0 for anything else."""
    body, _encoding = to_utf8(head)
    if not looks_like_text(body[:4096]) or _structured_text(body):
        return 0.0
    layout = find_layout(body, complete=len(head) < _HEAD_BYTES)
    if layout is None or layout.width < 2:
        return 0.0
    if not layout.header_found and layout.data_rows_seen < 3:
        return 0.0
    return SNIFF_SCORE


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read a delimited telemetry file of unknown origin."""
    return read_delimited(data, name, FORMAT)


def read_delimited(data: bytes, name: str, format_id: str, producer: str | None = None) -> ParsedLog:
    """Read any delimited telemetry file into a ``ParsedLog`` labelled ``format_id``."""
    if not data:
        raise ParseError(name, "empty file", expected="a delimited telemetry file", found="0 bytes")
    body, encoding = to_utf8(data)
    if not looks_like_text(body[:_HEAD_BYTES]):
        raise ParseError(name, "not a text file", expected="a delimited telemetry file",
                         found=describe_binary(data))
    kind = _structured_text(body)
    if kind:
        raise ParseError(name, "not a delimited file", line=1, expected="a delimited telemetry file",
                         found=kind)
    layout = find_layout(body, complete=True)
    if layout is None:
        raise ParseError(name, "no rows of numbers found", line=1,
                         expected="rows of numbers separated by commas, semicolons, tabs or spaces",
                         found=_first_line(body))

    names, units = _column_names(layout)
    samples = [[row[j] if j < len(row) else "" for row in layout.sample_rows] for j in range(layout.width)]
    locale = detect_decimal(layout.sample_rows, layout.separator)
    time_index = find_time_column(names, units, samples, locale)
    text_kinds = _text_columns(samples, time_index)
    source_index = _source_column(names, samples, text_kinds, time_index)

    warnings: list[str] = []
    rows_dropped: dict[str, int] = {}
    text_columns = {names[j] for j in text_kinds if j in (time_index, source_index)}
    skip_columns = {names[j] for j in text_kinds if j not in (time_index, source_index)}
    for column in sorted(skip_columns):
        warnings.append(f"column {column!r} holds text, not numbers; it was not read")

    body, start = _prepare_block(body, layout, rows_dropped)
    stats: dict[str, int] = {}
    columns, rows = read_numeric_block(body, start, layout.data_line, names, layout.separator, name,
                                       decimal=locale[0], thousands=locale[1],
                                       text_columns=text_columns, skip_columns=skip_columns,
                                       stats=stats)
    rows_dropped.update(stats)

    metadata = Metadata(producer=producer)
    metadata.extra["encoding"] = encoding
    if time_index is not None:
        metadata.extra["time column"] = names[time_index]
    read_preamble(layout.preamble, layout.separator, metadata)
    time = _time_axis(columns, names, units, time_index, rows, metadata, warnings)

    channels = []
    for j, column in enumerate(columns):
        if column is None or j in (time_index, source_index):
            continue
        if not layout.names[j].strip() and np.isnan(column).all():
            # An empty column made by a separator at the end of each row.
            continue
        channels.append(SourceChannel(name=names[j], unit=units[j], values=column))

    if source_index is not None:
        time = _interleave(channels, time, columns[source_index])

    return ParsedLog(
        file=name,
        format=format_id,
        time=time,
        channels=channels,
        metadata=metadata,
        warnings=warnings,
        rows_read=rows,
        rows_dropped=rows_dropped,
    )


def _column_names(layout: Layout) -> tuple[list[str], list[str]]:
    """Return unique channel names and their units, from the header, the units row or neither."""
    names, units = [], []
    for j, raw in enumerate(layout.names):
        if layout.header_found and raw:
            base, unit = split_name_unit(raw)
        else:
            base, unit = f"Channel {j + 1}", ""
        stated = layout.units[j].strip() if layout.units else ""
        if stated in _NO_UNIT:
            stated = ""
        names.append(base or f"Channel {j + 1}")
        units.append(stated or unit)
    return _dedupe(names), units


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n} #{seen[n]}")
        else:
            seen[n] = 1
            out.append(n)
    return out


def _text_columns(samples: list[list[str]], time_index: int | None) -> set[int]:
    """Return the indexes of columns whose sampled values hold no number, or times as text.

    A column with numbers and some text is numeric, so that its text values are reported as
    errors with their line instead of the column being left out.
    """
    out = set()
    for j, values in enumerate(samples):
        present = [v for v in values if v and v.lower() not in MISSING_TOKENS]
        if not present:
            continue
        no_number = not any(is_number(v) for v in present)
        time_text = j == time_index and all(is_time_text(v) for v in present)
        if no_number or time_text:
            out.add(j)
    return out


def _source_column(names: list[str], samples: list[list[str]], text_kinds: set[int],
                   time_index: int | None) -> int | None:
    candidates = [j for j in sorted(text_kinds) if j != time_index]
    for j in candidates:
        if normalize_name(names[j]) in SOURCE_NAMES:
            return j
    for j in candidates:
        distinct = {v for v in samples[j] if v}
        if 2 <= len(distinct) <= _MAX_SOURCES and _filled_by_source(samples, j):
            return j
    return None


def _filled_by_source(samples: list[list[str]], source: int) -> bool:
    """Return True when at least two sources each fill a column that no other source fills.

    That is how interleaved sources look; a text column over sparse rows is not enough.
    """
    filled: dict[str, set[int]] = {}
    for i, name in enumerate(samples[source]):
        if name:
            columns = {j for j, values in enumerate(samples) if j != source and values[i]}
            filled.setdefault(name, set()).update(columns)
    exclusive = 0
    for name, columns in filled.items():
        others = set().union(*(c for n, c in filled.items() if n != name))
        if columns - others:
            exclusive += 1
    return exclusive >= 2


def _prepare_block(body: bytes, layout: Layout, rows_dropped: dict[str, int]) -> tuple[bytes, int]:
    """Return a body whose data block pyarrow can read: no comment lines, single spaces.

    NOTE: after comment lines are removed, line numbers in errors count the lines that remain.
    """
    start = layout.data_offset
    changed = None
    if body.find(b"#", start) >= 0:
        cleaned, count = _COMMENT_LINE.subn(b"", body[start:])
        if count:
            rows_dropped["comment line"] = rows_dropped.get("comment line", 0) + count
            changed = cleaned
    if layout.separator == " ":
        text = changed if changed is not None else body[start:]
        text = re.sub(rb"[ ]{2,}", b" ", text)
        changed = re.sub(rb"(?m)^ | $", b"", text)
    if changed is None:
        return body, start
    return changed, 0


def _time_axis(columns: list, names: list[str], units: list[str], time_index: int | None, rows: int,
               metadata: Metadata, warnings: list[str]) -> np.ndarray:
    if time_index is None:
        rate = metadata.sample_rate_hz
        if rate:
            warnings.append(f"no time column; rows are taken {1.0 / rate:g} s apart from the stated "
                            f"sample rate of {rate:g} Hz")
            return np.arange(rows, dtype=np.float64) / rate
        warnings.append("no time column and no sample rate; the row number is used as the time in s")
        return np.arange(rows, dtype=np.float64)
    column = columns[time_index]
    if column.dtype == object:
        axis = text_time(column)
    else:
        axis = numeric_time(column, units[time_index], names[time_index])
    warnings.extend(axis.warnings)
    if metadata.start_time is None and axis.start_time is not None:
        metadata.start_time = axis.start_time
    if axis.start_time_ambiguous and metadata.start_time is None:
        metadata.start_time_ambiguous = True
    return axis.seconds


def _interleave(channels: list[SourceChannel], time: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Give each channel the times of the rows where it has a value; return all row times."""
    valid_time = np.isfinite(time)
    for ch in channels:
        mask = valid_time & ~np.isnan(ch.values)
        ch.times = time[mask]
        ch.values = ch.values[mask]
        names = {s for s in sources[mask] if s}
        if len(names) == 1:
            ch.group = names.pop()
        if canonical_for(ch.name) is None and _looks_discrete(ch.values):
            ch.kind = DISCRETE
    return np.unique(time[valid_time])


def _looks_discrete(values: np.ndarray) -> bool:
    """Return True for whole-number values with few distinct levels, such as flags or counters."""
    if values.size == 0 or not np.all(values == np.round(values)):
        return False
    return np.unique(values).size <= 32


def _structured_text(body: bytes) -> str | None:
    """Name the kind of text that has numbers in rows but is not a table (JSON, XML, NMEA)."""
    start = body.lstrip()[:16]
    if start.startswith((b"{", b"[")):
        return "JSON text"
    if start.startswith(b"<"):
        return "XML or HTML text"
    if re.match(rb"^\$(GP|GN|GL|GA|BD)[A-Z]{3},", start):
        return "NMEA 0183 sentences"
    return None


def describe_binary(data: bytes) -> str:
    """Describe what a binary file looks like, for error messages."""
    head = data[:16]
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    return f"binary data starting {head[:8].hex(' ')}"


def _first_line(body: bytes) -> str:
    line = body.lstrip()[:200].split(b"\n", 1)[0].strip()
    text = line.decode("utf-8", errors="replace")
    return repr(text[:60] + ("..." if len(text) > 60 else ""))
