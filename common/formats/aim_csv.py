"""AiM Race Studio CSV exports ("Format,AiM CSV File").

Layout: metadata rows (key, value), each padded with empty fields to the width of the table in
Race Studio 3 and fully quoted in the quoted variant; "Beacon Markers" with one lap-marker time
(seconds) per field; "Segment Times" with one segment time per field written ``mm:ss.t``; a blank
row; the channel-name row starting with "Time"; the units row; optionally a row of separators
only; then one row per sample.

The beacon markers end each segment (the last one is often the end of the session), so segment
``k`` runs from marker ``k - 1`` (0 for the first) to marker ``k``. Segment times become producer
laps with the lap time as the file writes it, rounded to its tenths.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

import numpy as np

from ..errors import ParseError
from ..model import Metadata, ParsedLog, ProducerLap
from . import dates
from .laptimes import parse_lap_time
from .numeric import read_numeric_block, time_and_channels
from .text import decode_text, guess_separator, iter_lines, quote_short, split_row, to_utf8, unique_names

FORMAT = "aim_csv"

_SIGNATURE = re.compile(rb'^\s*"?Format"?\s*[,;\t]\s*"?AiM CSV', re.IGNORECASE)
_HEADER_SCAN_LINES = 200

# Metadata keys that map to Metadata fields; the rest go to Metadata.extra.
_FIELDS = {
    "venue": "track",
    "track": "track",
    "vehicle": "car",
    "racer": "driver",
    "driver": "driver",
    "user": "driver",
    "comment": "comment",
    "data source": "device",
    "logger": "device",
}
_HANDLED = {"format", "date", "time", "sample rate", "duration", "beacon markers", "segment times"}

_LONG_DATE = re.compile(r"^(?:[A-Za-z]+,\s*)?([A-Za-z]+)\s+(\d{1,2}),\s*(\d{4})$")
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"))}


def sniff(head: bytes, name: str) -> float:
    """Return 1.0 when the first line is an AiM CSV "Format" row."""
    body, _ = to_utf8(head)
    return 1.0 if _SIGNATURE.match(body) else 0.0


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read an AiM Race Studio CSV export."""
    body, _encoding = to_utf8(data)
    lines = iter_lines(body)
    first = next(lines, None)
    if first is None:
        raise ParseError(name, "empty file", expected="an AiM CSV export")
    separator = guess_separator(decode_text(first[3]))

    meta: dict[str, list[str]] = {}
    names: list[str] | None = None
    names_line = 0
    units: list[str] | None = None
    data_start = data_line = None
    for number, start, _end, raw in itertools.chain([first], lines):
        text = decode_text(raw)
        fields = split_row(text, separator)
        if not any(fields):
            continue
        if names is None:
            if _is_names_row(fields):
                names, names_line = _trim(fields), number
                continue
            if fields[0]:
                # Some exporters write a list in one field separated by spaces.
                meta[fields[0].lower()] = [t for f in fields[1:] for t in f.split() if t]
            if number > _HEADER_SCAN_LINES:
                raise ParseError(name, "no channel-name row in the header", line=number,
                                 expected='a row starting with "Time"', found=quote_short(text))
            continue
        if units is None and not _looks_numeric(fields):
            units = fields
            continue
        data_start, data_line = start, number
        break

    if names is None:
        raise ParseError(name, "no channel-name row", expected='a row starting with "Time"',
                         found="end of file")
    if data_start is None or data_line is None:
        raise ParseError(name, "no data rows after the header", line=names_line,
                         expected="one row per sample", found="end of file")
    names = unique_names(names)
    units = ((units or []) + [""] * len(names))[: len(names)]

    columns, rows = read_numeric_block(body, data_start, data_line, names, separator, name)
    time, channels = time_and_channels(names, units, columns)

    metadata = _metadata(meta, name)
    beacons = _numbers(meta.get("beacon markers", []), "Beacon Markers", name)
    laps = _segments(meta.get("segment times", []), beacons, name)
    warnings = []
    duration = metadata.extra.get("duration_s")
    finite = time[np.isfinite(time)]
    if duration is not None and finite.size and duration - (finite[-1] - finite[0]) > 1.0:
        warnings.append(f"the data covers {finite[-1] - finite[0]:.3f} s but the header gives a "
                        f"duration of {duration:.3f} s; the export may be cut short")
    if laps and len(beacons) != len(laps):
        warnings.append(f"{len(laps)} segment times but {len(beacons)} beacon markers; "
                        f"segment start times left unset")
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=time,
        channels=channels,
        metadata=metadata,
        beacons_s=beacons,
        producer_laps=laps,
        warnings=warnings,
        rows_read=rows,
    )


def _is_names_row(fields: list[str]) -> bool:
    """Tell the channel-name row from the "Time" metadata row, whose value is a clock time."""
    non_empty = [f for f in fields if f]
    if fields[0].lower() != "time" or len(non_empty) < 2:
        return False
    return len(non_empty) > 2 or dates.parse_time(non_empty[1]) is None


def _looks_numeric(fields: list[str]) -> bool:
    try:
        float(fields[0].replace(",", "."))
    except ValueError:
        return False
    return True


def _metadata(meta: dict[str, list[str]], name: str) -> Metadata:
    md = Metadata(producer="AiM Race Studio")
    for key, values in meta.items():
        value = " ".join(values)
        if key in _FIELDS:
            if value and getattr(md, _FIELDS[key]) is None:
                setattr(md, _FIELDS[key], value)
        elif key not in _HANDLED and value:
            md.extra[key.replace(" ", "_")] = value
    fmt = " ".join(meta.get("format", []))
    if fmt:
        md.extra["format"] = fmt

    date_text = " ".join(meta.get("date", []))
    time_text = " ".join(meta.get("time", []))
    md.start_time, md.start_time_ambiguous = _start_time(date_text, time_text)
    if md.start_time_ambiguous:
        md.extra["date"] = date_text
        md.extra["time"] = time_text

    rate = meta.get("sample rate", [])
    if rate:
        md.sample_rate_hz = _number(rate[0], "Sample Rate", name)
    duration = meta.get("duration", [])
    if duration:
        md.extra["duration_s"] = _number(duration[0], "Duration", name)
    return md


def _start_time(date_text: str, time_text: str) -> tuple[dt.datetime | None, bool]:
    """Combine the header date and time into a naive local datetime.

    Race Studio 3 writes the date in words ("Sunday, December 15, 2024"); older exports write it
    in digits, read by ``dates.combine``.
    """
    m = _LONG_DATE.match(date_text.strip())
    if not m:
        return dates.combine(date_text, time_text)
    month = _MONTHS.get(m.group(1).lower())
    if month is None:
        return None, False
    try:
        day = dt.date(int(m.group(3)), month, int(m.group(2)))
    except ValueError:
        return None, False
    clock = dates.parse_time(time_text) if time_text else None
    return dt.datetime.combine(day, clock or dt.time(0, 0)), False


def _numbers(texts: list[str], field: str, name: str) -> list[float]:
    return [_number(t, field, name) for t in texts]


def _number(text: str, field: str, name: str) -> float:
    try:
        return float(text.replace(",", "."))
    except ValueError as exc:
        raise ParseError(name, f"invalid {field.lower()}", field=field, expected="a number",
                         found=repr(text)) from exc


def _segments(texts: list[str], beacons: list[float], name: str) -> list[ProducerLap]:
    laps = []
    starts = [0.0] + beacons[:-1] if len(beacons) == len(texts) else [None] * len(texts)
    for number, (text, start) in enumerate(zip(texts, starts), start=1):
        seconds = parse_lap_time(text)
        if seconds is None:
            raise ParseError(name, "invalid segment time", field="Segment Times",
                             expected="a time written mm:ss.t", found=repr(text))
        laps.append(ProducerLap(number=number, lap_time_s=seconds, start_s=start))
    return laps


def _trim(fields: list[str]) -> list[str]:
    fields = list(fields)
    while fields and not fields[-1]:
        fields.pop()
    return fields




