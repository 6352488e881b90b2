"""MoTeC i2 CSV exports ("MoTeC CSV" and "MoTeC CSV File").

Layout: metadata rows holding one or two key/value pairs (a pair is key, value and an optional
unit; the second pair starts after a run of empty fields), an optional "Beacon Markers" row, blank
rows, the channel-name row (some exporters write it twice), the units row, blank rows, then one row
per sample. Fields may be quoted or not. The numeric block is read with pyarrow's CSV reader; a
block it cannot read is read again row by row so that the error names the line and the field.
"""

from __future__ import annotations

import itertools
import re

from ..errors import ParseError
from ..model import Metadata, ParsedLog
from . import dates
from .delimited import is_number
from .numeric import (
    THOUSANDS_MARKS,
    detect_decimal,
    parse_number,
    read_numeric_block,
    sample_rows,
    time_and_channels,
)
from .text import decode_text, guess_separator, iter_lines, quote_short, split_row, to_utf8, unique_names

FORMAT = "motec_csv"

_SIGNATURE = re.compile(rb'^\s*"?Format"?\s*[,;\t]\s*"?MoTeC CSV', re.IGNORECASE)
_HEADER_SCAN_LINES = 200

# Metadata keys that map to Metadata fields; the rest go to Metadata.extra.
_FIELDS = {
    "venue": "track",
    "vehicle": "car",
    "driver": "driver",
    "session": "session_type",
    "device": "device",
    "comment": "comment",
}


def sniff(head: bytes, name: str) -> float:
    """Return 1.0 when the first line is a MoTeC CSV "Format" row."""
    body, _ = to_utf8(head)
    return 1.0 if _SIGNATURE.match(body) else 0.0


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read a MoTeC i2 CSV export."""
    body, _encoding = to_utf8(data)
    lines = iter_lines(body)
    first = next(lines, None)
    if first is None:
        raise ParseError(name, "empty file", expected="a MoTeC CSV export")
    separator = guess_separator(decode_text(first[3]))

    meta: dict[str, tuple[str, str]] = {}
    names: list[str] | None = None
    units: list[str] | None = None
    data_start = None
    data_line = None
    pending = [first]
    for number, _start, _end, raw in itertools.chain(pending, lines):
        text = decode_text(raw)
        if not text.strip().strip(separator).strip():
            continue
        fields = split_row(text, separator)
        if names is None:
            if _is_names_row(fields):
                names = fields
                continue
            _read_pairs(fields, meta)
            if number > _HEADER_SCAN_LINES:
                raise ParseError(name, "no channel-name row in the header", line=number,
                                 expected='a row starting with "Time"', found=quote_short(text))
            continue
        if fields == names:
            continue
        if units is None and not _looks_numeric(fields):
            units = fields
            continue
        data_start = _start
        data_line = number
        break

    if names is None:
        raise ParseError(name, "no channel-name row", expected='a row starting with "Time"',
                         found="end of file")
    names = unique_names(_trim_trailing_empty(names))
    if units is None:
        units = [""] * len(names)
    units = (units + [""] * len(names))[: len(names)]
    if data_start is None:
        raise ParseError(name, "no data rows after the header", expected="one row per sample",
                         found="end of file")

    locale = detect_decimal(sample_rows(body, data_start, separator), separator)
    stats: dict[str, int] = {}
    columns, rows = read_numeric_block(body, data_start, data_line, names, separator, name,
                                       decimal=locale[0], thousands=locale[1], stats=stats)
    time, channels = time_and_channels(names, units, columns)
    metadata, beacons = _metadata(meta, name, locale)
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=time,
        channels=channels,
        metadata=metadata,
        beacons_s=beacons,
        rows_read=rows,
        rows_dropped=stats,
    )


def _is_names_row(fields: list[str]) -> bool:
    non_empty = [f for f in fields if f]
    return len(non_empty) >= 2 and fields[0].lower() == "time"


def _looks_numeric(fields: list[str]) -> bool:
    return is_number(fields[0])


def _read_pairs(fields: list[str], meta: dict[str, tuple[str, str]]) -> None:
    """Read the key/value pairs of one metadata row into ``meta`` as ``key -> (value, unit)``.

    "Beacon Markers" keeps every remaining field, because some exporters write one marker per
    field instead of one space-separated list.
    """
    i = 0
    n = len(fields)
    while i < n:
        key = fields[i]
        if not key:
            i += 1
            continue
        if key.lower() == "beacon markers":
            meta["beacon markers"] = (" ".join(f for f in fields[i + 1:] if f), "")
            return
        value = fields[i + 1] if i + 1 < n else ""
        unit = fields[i + 2] if i + 2 < n else ""
        meta[key.lower()] = (value, unit)
        i += 3 if unit else 2
        while i < n and not fields[i]:
            i += 1


def _metadata(meta: dict[str, tuple[str, str]], name: str,
              locale: tuple[str, str | None]) -> tuple[Metadata, list[float]]:
    """Return the metadata and beacon times; numbers are read in the data rows' ``locale``."""
    md = Metadata(producer="MoTeC i2")
    for key, (value, unit) in meta.items():
        if key in _FIELDS:
            setattr(md, _FIELDS[key], value or None)
        elif key in ("log date", "log time", "beacon markers", "sample rate", "format"):
            continue
        else:
            md.extra[key] = f"{value} {unit}".strip()
    fmt = meta.get("format", ("", ""))[0]
    if fmt:
        md.extra["format"] = fmt

    date_text = meta.get("log date", ("", ""))[0]
    time_text = meta.get("log time", ("", ""))[0]
    start, ambiguous = dates.combine(date_text, time_text)
    md.start_time = start
    md.start_time_ambiguous = ambiguous
    if ambiguous:
        md.extra["log date"] = date_text
        md.extra["log time"] = time_text

    rate_text, rate_unit = meta.get("sample rate", ("", ""))
    if rate_text:
        try:
            rate = _header_number(rate_text, locale)
        except ValueError as exc:
            raise ParseError(name, "invalid sample rate", field="Sample Rate",
                             expected="a number in Hz", found=repr(rate_text)) from exc
        md.sample_rate_hz = rate if rate_unit.lower() in ("", "hz") else None

    beacons: list[float] = []
    for token in meta.get("beacon markers", ("", ""))[0].split():
        try:
            beacons.append(_header_number(token, locale))
        except ValueError as exc:
            raise ParseError(name, "invalid beacon marker", field="Beacon Markers",
                             expected="times in seconds separated by spaces",
                             found=repr(token)) from exc
    return md, beacons


def _header_number(text: str, locale: tuple[str, str | None]) -> float:
    """Parse a header number in the data rows' locale; raise ``ValueError``.

    The data rows may show no thousands mark, so the marks that go with their decimal mark are
    tried too; a header number with the other decimal mark is read last.
    """
    decimal, thousands = locale
    marks = [thousands] + [m for m in THOUSANDS_MARKS if m not in (decimal, thousands)]
    for mark in marks:
        try:
            return parse_number(text, decimal, mark)
        except ValueError:
            continue
    return float(text.replace(",", "."))


def _trim_trailing_empty(fields: list[str]) -> list[str]:
    while fields and not fields[-1]:
        fields = fields[:-1]
    return fields

