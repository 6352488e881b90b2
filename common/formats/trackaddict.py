"""TrackAddict and RaceRender CSV logs.

Layout: "#" comment lines ("# RaceRender Data: TrackAddict 4.3.5 on Android 9 [device] (Mode: 0)",
"# End Point: lat, lon @ heading deg", "# Key: value"), the column-name row with units inside the
names ("Speed (Km/h)", "Altitude (ft)"), then one row per sample at an irregular step. More
comment lines sit between the data rows: "# Lap N: HH:MM:SS.fff" when lap N ends, and events
such as "# Pit Lane Entry", "# Pit Lane Exit" and "# Session End".

A name ending in a parenthesised unit becomes the name before it and that unit. A parenthesised
word that is not a unit ("Brake (calculated)") stays part of the name. "Time" (seconds since the
start) is the time axis and "UTC Time" (Unix time) gives the start time. Events are stored in
``Metadata.extra["events"]`` with the "Time" value of the last data row before them.
"""

from __future__ import annotations

import re

import numpy as np

from ..channels import normalize_unit
from ..errors import ParseError
from ..model import DISCRETE, Metadata, ParsedLog, ProducerLap, SourceChannel
from .laptimes import parse_lap_time, utc_from_unix
from .numeric import read_numeric_block
from .text import decode_text, guess_separator, iter_lines, quote_short, split_row, to_utf8, unique_names

FORMAT = "trackaddict"

_BANNER = re.compile(rb"^\s*#\s*RaceRender Data", re.IGNORECASE)
_HEADER_ROW = re.compile(rb'(?m)^"?Time"?\s*,\s*"?UTC Time"?\s*,')
_PRODUCER = re.compile(r"^RaceRender Data:\s*(?P<app>.+?)(?:\s+on\s+(?P<os>[^\[(]+?))?"
                       r"(?:\s*\[(?P<device>[^\]]*)\])?(?:\s*\((?P<mode>[^)]*)\))?\s*$")
_END_POINT = re.compile(r"^(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*(?:@\s*(-?\d+(?:\.\d+)?)\s*deg)?")
_LAP = re.compile(r"^Lap\s+(\d+)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_UNIT_SUFFIX = re.compile(r"^(?P<name>.*\S)\s*\((?P<unit>[^()]*)\)$")
# A trailing source tag such as "*OBD" after the unit ("Engine Speed (RPM) *OBD").
_SOURCE_TAG = re.compile(r"^(?P<rest>.*\S)\s+\*(?P<tag>\w+)$")
_HEADER_SCAN_LINES = 200

_TIME_COLUMN = "Time"
_CLOCK_COLUMN = "UTC Time"
_DISCRETE_COLUMNS = {"Lap", "GPS_Update", "Brake (calculated)"}


def sniff(head: bytes, name: str) -> float:
    """Return 1.0 for the RaceRender banner or a "Time","UTC Time" header row."""
    body, _ = to_utf8(head)
    if _BANNER.match(body) or _HEADER_ROW.search(body):
        return 1.0
    return 0.0


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read a TrackAddict / RaceRender CSV log."""
    body, _encoding = to_utf8(data)
    md = Metadata()
    header: list[str] | None = None
    header_line = 0
    separator = ","
    data_start = data_line = None
    for number, start, _end, raw in iter_lines(body):
        text = decode_text(raw).strip()
        if not text:
            continue
        if text.startswith("#"):
            _read_header_comment(text[1:].strip(), md)
            continue
        if header is None and number > _HEADER_SCAN_LINES:
            raise ParseError(name, "no column-name row in the first lines", line=number,
                             expected='a row starting with "Time"', found=quote_short(text))
        if header is None:
            separator = guess_separator(text)
            header = split_row(text, separator)
            header_line = number
            continue
        data_start, data_line = start, number
        break
    if header is None:
        raise ParseError(name, "no column-name row", expected='a row starting with "Time"', found="end of file")
    if data_start is None or data_line is None:
        raise ParseError(name, "no data rows after the header", line=header_line,
                         expected="one row per sample", found="end of file")
    if _TIME_COLUMN not in header:
        raise ParseError(name, "no time column", line=header_line, expected=f'a column named "{_TIME_COLUMN}"',
                         found=quote_short(", ".join(header)))

    blanked, comments = _take_comments(body, data_start, data_line)
    column_ids = unique_names(header)
    columns, rows = read_numeric_block(blanked, data_start, data_line, column_ids, separator, name)
    by_header = dict(zip(header, columns))
    time = by_header[_TIME_COLUMN]

    laps, events = _read_data_comments(comments, time, by_header.get("Lap"), name)
    rows_dropped: dict[str, int] = {}
    keep = _last_of_equal_times(time)
    if not keep.all():
        # TrackAddict writes a second row at the same time when a GPS fix arrives. The later row
        # contains the new fix and the earlier one the previous fix.
        rows_dropped["superseded by a row with the same time"] = int(np.count_nonzero(~keep))
        columns = [c[keep] for c in columns]
        by_header = dict(zip(header, columns))
        time = by_header[_TIME_COLUMN]

    channels = []
    for raw, channel_name, values in zip(header, _channel_names(header), columns):
        if raw in (_TIME_COLUMN, _CLOCK_COLUMN):
            continue
        _, unit, group = _split_name(raw)
        channel = SourceChannel(name=channel_name, unit=unit, values=values, group=group)
        if raw in _DISCRETE_COLUMNS:
            channel.kind = DISCRETE
        channels.append(channel)

    if events:
        md.extra["events"] = events
    clock = by_header.get(_CLOCK_COLUMN)
    if clock is not None:
        finite = np.nonzero(np.isfinite(clock) & np.isfinite(time))[0]
        if finite.size:
            md.start_time = utc_from_unix(float(clock[finite[0]]))
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=time,
        channels=channels,
        metadata=md,
        producer_laps=laps,
        rows_read=rows,
        rows_dropped=rows_dropped,
    )


def _read_header_comment(text: str, md: Metadata) -> None:
    m = _PRODUCER.match(text)
    if m:
        md.producer = m.group("app").strip()
        if m.group("device"):
            md.device = m.group("device").strip()
        if m.group("os"):
            md.extra["platform"] = m.group("os").strip()
        if m.group("mode"):
            md.extra["mode"] = re.sub(r"^mode\s*:\s*", "", m.group("mode").strip(), flags=re.IGNORECASE)
        return
    key, sep, value = text.partition(":")
    if not sep:
        if text:
            md.comment = f"{md.comment}; {text}" if md.comment else text
        return
    key, value = key.strip().lower(), value.strip()
    if key == "end point":
        point = _END_POINT.match(value)
        if point:
            md.extra["end_point"] = [float(point.group(1)), float(point.group(2))]
            if point.group(3) is not None:
                md.extra["end_point_heading_deg"] = float(point.group(3))
            return
    if key in ("track", "venue"):
        md.track = value or None
    elif key in ("vehicle", "car"):
        md.car = value or None
    elif key == "driver":
        md.driver = value or None
    else:
        md.extra[re.sub(r"\W+", "_", key).strip("_")] = value


def _take_comments(body: bytes, start: int, first_line: int) -> tuple[bytes, list[tuple[int, int, str]]]:
    """Return ``body`` with the comment lines after ``start`` emptied, and those comments.

    Each comment is ``(line number, data rows before it, text)``. Emptying a line keeps its line
    break, so line numbers in errors stay those of the file.
    """
    comments: list[tuple[int, int, str]] = []
    pieces = [body[:start]]
    rows = 0
    cursor = start
    for number, line_start, _end, raw in iter_lines(body, start):
        stripped = raw.strip()
        if stripped.startswith(b"#"):
            comments.append((number, rows, decode_text(stripped[1:]).strip()))
            pieces.append(body[cursor:line_start])
            cursor = line_start + len(raw)
        elif stripped:
            rows += 1
    if not comments:
        return body, comments
    pieces.append(body[cursor:])
    return b"".join(pieces), comments


def _read_data_comments(
    comments: list[tuple[int, int, str]], time: np.ndarray, lap: np.ndarray | None, name: str
) -> tuple[list[ProducerLap], list[dict]]:
    """Return the producer laps and the other events written as comments between data rows."""
    laps: list[ProducerLap] = []
    events: list[dict] = []
    for number, rows_before, text in comments:
        at = float(time[rows_before - 1]) if 0 < rows_before <= time.size else None
        m = _LAP.match(text)
        if m:
            seconds = parse_lap_time(m.group(2))
            if seconds is None:
                raise ParseError(name, "invalid lap time", line=number, expected="a time written HH:MM:SS.fff",
                                 found=repr(m.group(2)))
            lap_number = int(m.group(1))
            laps.append(ProducerLap(number=lap_number, lap_time_s=seconds,
                                    start_s=_lap_start(lap, time, lap_number)))
            continue
        events.append({"time_s": at, "text": text})
    return laps, events


def _lap_start(lap: np.ndarray | None, time: np.ndarray, number: int) -> float | None:
    """Return the time of the first row of lap ``number`` by the Lap column, or None."""
    if lap is None:
        return None
    rows = np.nonzero(lap == number)[0]
    if rows.size == 0:
        return None
    value = float(time[rows[0]])
    return value if np.isfinite(value) else None


def _last_of_equal_times(time: np.ndarray) -> np.ndarray:
    """Return a mask that keeps only the last of consecutive rows with the same time."""
    keep = np.ones(time.shape, dtype=bool)
    if time.size > 1:
        keep[:-1] = time[1:] != time[:-1]
    return keep


def _channel_names(header: list[str]) -> list[str]:
    """Return each column's name without its unit; a name already taken keeps its unit text."""
    names = []
    taken: set[str] = set()
    for raw in header:
        name = _split_name(raw)[0]
        if name in taken:
            name = raw.strip()
        names.append(name)
        taken.add(name)
    return unique_names(names)


def _split_name(header: str) -> tuple[str, str, str | None]:
    """Split "Speed (Km/h)" into name, unit and source tag: ("Speed", "Km/h", None).

    A parenthesised word that is not a unit stays in the name. A unit is one the channel table
    knows or a short token without spaces ("V").
    """
    text = header.strip()
    group = None
    tagged = _SOURCE_TAG.match(text)
    if tagged:
        text, group = tagged.group("rest"), tagged.group("tag")
    m = _UNIT_SUFFIX.match(text)
    if not m:
        return text, "", group
    unit = m.group("unit").strip()
    if normalize_unit(unit) is not None or (0 < len(unit) <= 4 and " " not in unit):
        return m.group("name").strip(), unit, group
    return text, "", group




