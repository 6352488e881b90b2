"""RaceChrono Pro CSV exports, format version 3.

Layout: preamble lines (a banner naming the RaceChrono version, then ``key,value`` rows such as
"Format,3", "Session title", "Track name", "Created,<date>,<time>"), a blank line, then three
header rows: channel names, units, and the data source of each column ("100: gps", "calc",
"200: canbus"; empty for the columns every row has). One row per sample follows.

RaceChrono writes one row whenever any source delivers a value, so sources at different rates
leave empty cells. A channel with empty cells keeps its own timestamps (the rows where it has a
value), and ``normalize`` merges the channels on real time. The same name can appear for several
sources (``speed`` from gps, calc and canbus); those columns become channels named
"speed (gps)", "speed (calc)" and "speed (canbus)", each with the source as its group.

The time axis is ``elapsed_time`` (seconds since the session started), so a file that holds only
a fragment of a session keeps its place in the session. ``timestamp`` (Unix time, UTC) gives the
start time, and is the time axis when ``elapsed_time`` is missing or empty. A lap whose first row
and the next lap's first row are both in the file becomes a producer lap: RaceChrono writes a row
at each start-line crossing, so the lap time is the difference of those two rows'
``elapsed_time``.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import ParseError
from ..model import DISCRETE, Metadata, ParsedLog, ProducerLap, SourceChannel
from .laptimes import utc_from_unix
from .numeric import read_numeric_block
from .text import decode_text, iter_lines, split_row, to_utf8

FORMAT = "racechrono"

_BANNER = re.compile(rb"racechrono", re.IGNORECASE)
_NAMES_ROW = re.compile(rb"(?m)^\s*\"?timestamp\"?\s*,.*\belapsed_time\b")
_SOURCE_ID = re.compile(r"^\s*\d+\s*:\s*")
_HEADER_SCAN_LINES = 100

_TIME_COLUMN = "elapsed_time"
_CLOCK_COLUMN = "timestamp"
_DISCRETE_COLUMNS = {"lap_number", "fragment_id", "fix_type"}

# Preamble keys that map to Metadata fields; the rest go to Metadata.extra.
_FIELDS = {
    "track name": "track",
    "driver name": "driver",
    "vehicle name": "car",
    "session type": "session_type",
    "note": "comment",
}


def sniff(head: bytes, name: str) -> float:
    """Return 1.0 for a RaceChrono v3 names row, 0.6 for the RaceChrono banner alone."""
    body, _ = to_utf8(head)
    if _NAMES_ROW.search(body):
        return 1.0
    first = body.split(b"\n", 1)[0]
    return 0.6 if _BANNER.search(first) else 0.0


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read a RaceChrono Pro CSV v3 export."""
    body, _encoding = to_utf8(data)
    header = _read_header(body, name)
    columns, rows = read_numeric_block(body, header.data_start, header.data_line, header.columns, ",",
                                       name)
    by_name = dict(zip(header.raw_names, columns))
    if _TIME_COLUMN in by_name and np.isfinite(by_name[_TIME_COLUMN]).any():
        time = by_name[_TIME_COLUMN]
    elif _CLOCK_COLUMN in by_name:
        time = by_name[_CLOCK_COLUMN]
    else:
        raise ParseError(name, "no time column", line=header.names_line,
                         expected=f"a column named {_TIME_COLUMN!r} or {_CLOCK_COLUMN!r}",
                         found=", ".join(header.raw_names[:8]))

    rows_dropped: dict[str, int] = {}
    keep = _not_repeated(columns)
    if not keep.all():
        rows_dropped["duplicate row"] = int(np.count_nonzero(~keep))
        columns = [c[keep] for c in columns]
        time = time[keep]
        by_name = dict(zip(header.raw_names, columns))

    channels = []
    valid_time = np.isfinite(time)
    for raw, column_name, unit, label, values in zip(
        header.raw_names, header.columns, header.units, header.labels, columns
    ):
        if raw in (_TIME_COLUMN, _CLOCK_COLUMN):
            continue
        channel = SourceChannel(name=column_name, unit=unit, values=values, group=label or None)
        if raw in _DISCRETE_COLUMNS:
            channel.kind = DISCRETE
        present = ~np.isnan(values) & valid_time
        if not present[valid_time].all():
            channel.times = time[present]
            channel.values = values[present]
        channels.append(channel)

    metadata = _metadata(header, by_name, time, name)
    laps, partial = _producer_laps(by_name.get("lap_number"), by_name.get("fragment_id"), time)
    if partial:
        metadata.extra["partial_laps"] = partial
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=time,
        channels=channels,
        metadata=metadata,
        producer_laps=laps,
        rows_read=rows,
        rows_dropped=rows_dropped,
    )


class _Header:
    """The preamble and the three header rows of one file."""

    def __init__(self) -> None:
        self.banner = ""
        self.preamble: dict[str, str] = {}
        self.raw_names: list[str] = []
        self.columns: list[str] = []
        self.units: list[str] = []
        self.labels: list[str] = []
        self.sources: dict[str, str] = {}
        self.names_line = 0
        self.data_start = 0
        self.data_line = 0


def _read_header(body: bytes, name: str) -> _Header:
    header = _Header()
    lines = iter_lines(body)
    names: list[str] | None = None
    extra_rows: list[list[str]] = []
    for number, _start, _end, raw in lines:
        text = decode_text(raw)
        if names is None:
            fields = split_row(text, ",")
            if fields and fields[0].lower() == _CLOCK_COLUMN and _TIME_COLUMN in fields:
                names = _trim(fields)
                header.names_line = number
                continue
            if number == 1 and "racechrono" in text.lower():
                header.banner = text.strip()
            elif fields and fields[0]:
                header.preamble[fields[0].lower()] = " ".join(f for f in fields[1:] if f)
            if number >= _HEADER_SCAN_LINES:
                raise ParseError(name, "no channel-name row in the first lines", line=number,
                                 expected='a row starting with "timestamp" that names "elapsed_time"',
                                 found=_short(text))
            continue
        fields = split_row(text, ",")
        if len(extra_rows) < 2 and not _looks_numeric(fields):
            extra_rows.append(fields)
            continue
        header.data_start = _start
        header.data_line = number
        break
    if names is None:
        raise ParseError(name, "no channel-name row", expected='a row starting with "timestamp"',
                         found="end of file")
    if header.data_line == 0:
        raise ParseError(name, "no data rows after the header", line=header.names_line,
                         expected="one row per sample", found="end of file")

    width = len(names)
    units = extra_rows[0] if extra_rows else []
    sources = extra_rows[1] if len(extra_rows) > 1 else []
    for label, row in (("units", units), ("data source", sources)):
        if any(_trim(row)[width:]):
            raise ParseError(name, f"the {label} row is longer than the channel-name row",
                             line=header.names_line + (1 if label == "units" else 2),
                             expected=f"{width} fields", found=f"{len(_trim(row))}")
    header.raw_names = names
    header.units = [_unit(u) for u in (units + [""] * width)[:width]]
    header.labels, header.sources = _source_labels((sources + [""] * width)[:width])
    header.columns = _column_names(names, header.labels)
    return header


def _source_labels(sources: list[str]) -> tuple[list[str], dict[str, str]]:
    """Return each column's source label and the map from source id to source.

    "100: gps" becomes "gps"; when two source ids share a label, the full text is kept so that
    the labels stay distinct.
    """
    short = [_SOURCE_ID.sub("", s).strip() for s in sources]
    ids: dict[str, str] = {}
    full_by_short: dict[str, set[str]] = {}
    for text, label in zip(sources, short):
        if text:
            full_by_short.setdefault(label, set()).add(text.strip())
            m = _SOURCE_ID.match(text)
            if m:
                ids[m.group(0).strip().rstrip(":").strip()] = label
    labels = [
        text.strip() if len(full_by_short.get(label, ())) > 1 else label
        for text, label in zip(sources, short)
    ]
    return labels, ids


def _column_names(names: list[str], labels: list[str]) -> list[str]:
    """Give names that several sources share the source as a suffix; number any left over."""
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    out: list[str] = []
    seen: set[str] = set()
    for i, (n, label) in enumerate(zip(names, labels)):
        base = n or f"column {i + 1}"
        if counts.get(n, 0) > 1 and label:
            base = f"{base} ({label})"
        unique = base
        suffix = 2
        while unique in seen:
            unique = f"{base} #{suffix}"
            suffix += 1
        seen.add(unique)
        out.append(unique)
    return out


def _unit(text: str) -> str:
    """Return the unit as the channel table spells it; RaceChrono writes the degree sign as '.'."""
    unit = text.strip()
    if unit in (".C", ".F"):
        return unit[1]
    return unit


def _not_repeated(columns: list[np.ndarray]) -> np.ndarray:
    """Return a mask that drops each row identical to the row before it (NaN equals NaN)."""
    n = columns[0].shape[0] if columns else 0
    if n < 2:
        return np.ones(n, dtype=bool)
    same = np.ones(n - 1, dtype=bool)
    for column in columns:
        a, b = column[1:], column[:-1]
        same &= (a == b) | (np.isnan(a) & np.isnan(b))
    return np.concatenate(([True], ~same))


def _metadata(header: _Header, by_name: dict[str, np.ndarray], time: np.ndarray, name: str) -> Metadata:
    md = Metadata(producer=_producer(header.banner))
    for key, value in header.preamble.items():
        if key in _FIELDS:
            setattr(md, _FIELDS[key], value or None)
        elif value:
            md.extra[key.replace(" ", "_")] = value
    if header.sources:
        md.extra["sources"] = header.sources

    clock = by_name.get(_CLOCK_COLUMN)
    if clock is not None:
        finite = np.nonzero(np.isfinite(time) & np.isfinite(clock))[0]
        if finite.size:
            first = finite[np.argmin(time[finite])]
            md.start_time = utc_from_unix(float(clock[first]))
    return md


def _producer(banner: str) -> str:
    m = re.search(r"RaceChrono[^(]*", banner)
    return m.group(0).strip() if m else "RaceChrono"


def _producer_laps(
    lap: np.ndarray | None, fragment: np.ndarray | None, time: np.ndarray
) -> tuple[list[ProducerLap], list[int]]:
    """Return the laps that start and end inside the file, and the numbers of the partial laps.

    A lap counts only when its rows all belong to one recording fragment, because elapsed time
    across a paused recording is not a lap time.
    """
    if lap is None:
        return [], []
    ok = np.isfinite(lap) & np.isfinite(time)
    lap, time = lap[ok], time[ok]
    frag = fragment[ok] if fragment is not None else None
    if lap.size == 0:
        return [], []
    change = np.nonzero(np.diff(lap) != 0)[0] + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [lap.size]))
    laps: list[ProducerLap] = []
    partial: list[int] = []
    for k, (s, e) in enumerate(zip(starts, ends)):
        number = int(lap[s])
        complete = 0 < k < len(starts) - 1 and int(lap[e]) == number + 1
        if complete and frag is not None:
            span = frag[s:e + 1]
            complete = bool(np.all(span == span[0]))
        if complete:
            laps.append(ProducerLap(number=number, lap_time_s=round(float(time[e] - time[s]), 6),
                                    start_s=float(time[s])))
        else:
            partial.append(number)
    return laps, partial


def _trim(fields: list[str]) -> list[str]:
    fields = list(fields)
    while fields and not fields[-1]:
        fields.pop()
    return fields


def _looks_numeric(fields: list[str]) -> bool:
    first = next((f for f in fields if f), "")
    try:
        float(first)
    except ValueError:
        return False
    return True


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
