"""Layout of a delimited telemetry file whose producer is unknown.

``find_layout`` looks at the first lines of a text file and finds the field separator, the block
of data rows, the header rows above it (channel names, units, other header rows) and the preamble
above those. The data block is the longest run of rows with the same number of fields that are
mostly numbers. The separator whose run has the most numeric fields wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..channels import canonical_for, normalize_unit
from .numeric import MISSING_TOKENS
from .text import decode_text, iter_lines, split_row

SEPARATORS = (",", ";", "\t", "|", " ")
# Lines looked at to find the layout; the data block starts within them in every file seen.
LAYOUT_LINES = 400
# Header rows above the data block looked at, at most: names, units and a few others.
_MAX_HEADER_ROWS = 5

_NUMBER = re.compile(r"^[+-]?(?:\d[\d.,' \u00a0\u202f]*|[.,]\d+)(?:[eE][+-]?\d+)?$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\s*(?:[AaPp][Mm])?$")
_DATE_TIME = re.compile(
    r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2}|UTC)?$"
)
# "Speed (km/h)", "Speed [m/s]", "Speed {mph}"
_BRACKETED_UNIT = re.compile(r"^(?P<name>.*?)\s*[(\[{]\s*(?P<unit>[^()\[\]{}]{1,16}?)\s*[)\]}]$")
_SUFFIX_UNIT = re.compile(r"^(?P<name>.+?)_(?P<unit>[A-Za-z%°/²0-9^]{1,8})$")


@dataclass
class Line:
    """One line of the file: 1-based number, byte offsets in the UTF-8 body, decoded text."""

    number: int
    start: int
    end: int
    text: str


@dataclass
class Layout:
    """Positions and contents of the parts of a delimited file.

    ``names`` has one entry per data field, padded with empty strings when the header is shorter.
    ``units`` is None when the file has no units row.
    """

    separator: str
    width: int
    names: list[str]
    units: list[str] | None
    extra_rows: list[list[str]]
    preamble: list[str]
    header_found: bool
    data_offset: int
    data_line: int
    data_rows_seen: int
    sample_rows: list[list[str]] = field(default_factory=list)


def is_number(text: str) -> bool:
    """Return True when ``text`` is a number in any common locale (missing-value tokens are not)."""
    return bool(_NUMBER.match(text))


def is_time_text(text: str) -> bool:
    """Return True when ``text`` is a clock time or a date with a time."""
    return bool(_CLOCK.match(text) or _DATE_TIME.match(text))


def split_name_unit(raw: str) -> tuple[str, str]:
    """Split a column title such as "Speed (km/h)", "Speed [m/s]" or "speed_mph" into name and unit.

    Only a unit that the channel table lists is split off. A suffix after an underscore is split
    off only when the whole title is not a channel alias, so "Brake (calculated)", "engine_rpm"
    and "lap_dist_pct" stay whole.
    """
    raw = raw.strip()
    m = _BRACKETED_UNIT.match(raw)
    if m and m.group("name") and _is_unit(m.group("unit")):
        return m.group("name").strip(), m.group("unit").strip()
    if canonical_for(raw) is not None:
        return raw, ""
    m = _SUFFIX_UNIT.match(raw)
    if m and _is_unit(m.group("unit")):
        return m.group("name").strip(" _"), m.group("unit")
    return raw, ""


def _is_unit(text: str) -> bool:
    unit = normalize_unit(text)
    if unit:
        return True
    key = text.strip().lower()
    return key in TIME_UNITS or key in OTHER_UNITS


# Units seen in telemetry titles that no canonical channel is stored in. They only tell a unit
# apart from other words in brackets, as in "Damper (mm)" against "Brake (calculated)".
OTHER_UNITS = frozenset({
    "mm", "cm", "in", "kg", "n", "nm", "n*m", "n.m", "v", "mv", "a", "ma", "w", "kw", "hp", "ps",
    "hz", "khz", "lambda", "afr", "ml", "l/h", "l/min", "cc", "sats", "db", "mm/s", "deg/s^2",
    "rad/s^2", "g/s", "kg/h", "%/s", "bar/s", "s/s", "1/s", "kg/m^3",
})


# Time units that the channel table does not list because no channel is stored in them.
TIME_UNITS = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 1e-3, "msec": 1e-3, "millis": 1e-3, "milliseconds": 1e-3,
    "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "microseconds": 1e-6,
    "ns": 1e-9, "min": 60.0, "minutes": 60.0, "h": 3600.0, "hours": 3600.0,
}


def find_layout(body: bytes, *, complete: bool = True, max_lines: int = LAYOUT_LINES) -> Layout | None:
    """Return the layout of the UTF-8 ``body``, or None when it holds no block of numeric rows.

    With ``complete`` False, ``body`` is only the first bytes of a file, and its last line is
    ignored unless it ends with a line break, because it may be cut.
    """
    lines = _head_lines(body, max_lines, complete)
    best: tuple[float, int, str, tuple[int, int, int]] | None = None
    for rank, separator in enumerate(SEPARATORS):
        run = _longest_numeric_run(lines, separator)
        if run is None:
            continue
        score = run[2]
        if best is None or score > best[0] + 1e-9:
            best = (score, rank, separator, run)
    if best is None:
        return None
    _, _, separator, (first, count, _score, width) = best
    return _layout_around(lines, separator, first, count, width)


def _head_lines(body: bytes, max_lines: int, complete: bool) -> list[Line]:
    lines = []
    for number, start, end, raw in iter_lines(body):
        if not complete and end > len(body) and number > 1:
            break
        lines.append(Line(number, start, end, decode_text(raw)))
        if len(lines) >= max_lines:
            break
    return lines


def _is_comment(text: str) -> bool:
    return text.lstrip().startswith("#")


def _row_kind(fields: list[str]) -> tuple[bool, float]:
    """Return ``(data_like, numeric_fraction)`` of one row's fields."""
    non_empty = [f for f in fields if f and f.lower() not in MISSING_TOKENS]
    if not non_empty:
        return False, 0.0
    numbers = sum(1 for f in non_empty if is_number(f))
    times = sum(1 for f in non_empty if not is_number(f) and is_time_text(f))
    fraction = (numbers + times) / len(non_empty)
    return numbers >= 1 and fraction >= 0.5, numbers / len(non_empty)


def _longest_numeric_run(lines: list[Line], separator: str) -> tuple[int, int, float, int] | None:
    """Return ``(first_index, rows, score, width)`` of the best run of data-like rows."""
    best = None
    current: list = []  # [first_index, rows, score, width]
    for i, line in enumerate(lines):
        text = line.text
        if not text.strip() or _is_comment(text):
            continue
        if separator != " " and not text.strip().strip(separator + '"').strip():
            continue
        fields = split_row(text, separator)
        data_like, fraction = _row_kind(fields) if len(fields) >= 2 else (False, 0.0)
        if data_like and current and current[3] == len(fields):
            current[1] += 1
            current[2] += fraction
        elif data_like:
            current = [i, 1, fraction, len(fields)]
        else:
            current = []
        if current and (best is None or current[2] > best[2] + 1e-9):
            best = list(current)
    if best is None:
        return None
    return best[0], best[1], best[2], best[3]


def _layout_around(lines: list[Line], separator: str, first: int, count: int, width: int) -> Layout:
    header_rows: list[tuple[int, list[str], bool]] = []  # (line index, fields, units_like)
    i = first - 1
    while i >= 0 and len(header_rows) < _MAX_HEADER_ROWS:
        text = lines[i].text
        if not text.strip() or (separator != " " and not text.strip().strip(separator + '"').strip()):
            i -= 1
            continue
        if _is_comment(text):
            # A commented header right above the data ("# time,speed") is the header.
            if not header_rows:
                fields = split_row(text.lstrip()[1:], separator)
                if _names_like(fields, width):
                    header_rows.append((i, fields, False))
            break
        fields = split_row(text, separator)
        units_like = _units_like(fields, width)
        if units_like or _names_like(fields, width):
            header_rows.append((i, fields, units_like))
            i -= 1
            continue
        break
    header_rows.reverse()

    names: list[str] = []
    units: list[str] | None = None
    extra: list[list[str]] = []
    header_found = False
    top = first
    names_at = _names_row(header_rows, width)
    if names_at is not None:
        header_rows = header_rows[names_at:]
        top, names, _ = header_rows[0]
        header_found = True
        for _index, fields, units_like in header_rows[1:]:
            if units is None and units_like:
                units = fields
            else:
                extra.append(fields)

    names = (names + [""] * width)[:width]
    if units is not None:
        units = (units + [""] * width)[:width]
    preamble = [ln.text.strip() for ln in lines[:top] if ln.text.strip()]
    sample = []
    for line in lines[first:first + count]:
        if line.text.strip() and not _is_comment(line.text):
            sample.append(split_row(line.text, separator))
    data = lines[first]
    return Layout(separator, width, names, units, extra, preamble, header_found, data.start,
                  data.number, count, sample)


def _names_row(rows: list[tuple[int, list[str], bool]], width: int) -> int | None:
    """Return the position in ``rows`` of the channel-name row, or None.

    The names row is the topmost row that names every column. Failing that, it is the names-like
    row nearest the data, because preamble lines above may look like short lists of words. A row
    that only looks like units is the names row when nothing else is, which keeps every word.
    """
    candidates = [k for k, (_i, fields, units_like) in enumerate(rows)
                  if not units_like and _names_like(fields, width)]
    full = [k for k in candidates if len(_trim(rows[k][1])) == width]
    if full:
        return full[0]
    if candidates:
        return candidates[-1]
    if rows and rows[0][2]:
        return 0
    return None


def _names_like(fields: list[str], width: int) -> bool:
    trimmed = _trim(fields)
    non_empty = [f for f in trimmed if f]
    if len(non_empty) < min(2, width) or len(trimmed) > width:
        return False
    if len(non_empty) < 0.5 * width:
        return False
    return not any(is_number(f) for f in non_empty)


def _units_like(fields: list[str], width: int) -> bool:
    trimmed = _trim(fields)
    non_empty = [f for f in trimmed if f and f not in ("-", "--")]
    if not non_empty or len(trimmed) > width:
        return False
    known = sum(1 for f in non_empty if _is_unit(f) or f.lower() in ("unix time", "epoch", "date"))
    return known >= 0.6 * len(non_empty)


def _trim(fields: list[str]) -> list[str]:
    out = list(fields)
    while out and not out[-1]:
        out.pop()
    return out
