"""Racelogic VBOX ``.vbo`` files and the clones written by RaceBox and RaceChrono.

Layout: a "File created on DD/MM/YYYY @ HH:MM" line, then sections in square brackets:
``[header]`` (one channel name per line, some with the unit as the last word: "velocity kmh"),
``[channel units]`` (optional, and often shorter than the channel list), ``[comments]``
("Key : Value" lines and free text), ``[laptiming]`` (start and split lines), ``[column names]``
(the short names, space-separated, in data order) and ``[data]`` (one space-separated row per
sample). Text is cp1252 or UTF-8.

Conventions of the format, applied here:

- ``time`` is the UTC time of day written ``HHMMSS.SSS``. It becomes seconds since the first
  sample, with a day added each time the clock wraps past midnight.
- Latitude and longitude are in minutes. Latitude is north positive; longitude is WEST positive,
  so east longitudes are negative (RaceBox follows the same rule). They become degrees with east
  positive. Columns named with a leading underscore (``_lat``) are a second antenna or a second
  solution and are converted the same way.
- Dates are day first ("11/04/2026" is 11 April), as Racelogic writes them.
- ``[channel units]`` lists units for the channels at the end of the list (the logger modules)
  when it is shorter than the channel list, so it is aligned to the end. Channels whose unit the
  format fixes (position, speed, heading, height, the satellite counts) keep that unit.
- A ``[laptiming]`` line holds two points (four numbers in minutes) of a start or split line.
  Which number of a pair is the latitude differs between producers, so the order that puts the
  line nearest the recorded positions is used.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from ..errors import ParseError
from ..model import DISCRETE, Metadata, ParsedLog, SourceChannel
from .text import decode_text, iter_lines, to_utf8, unique_names

FORMAT = "vbo"

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_SNIFF_HEADER = re.compile(rb"(?im)^\s*\[header\]\s*$")
_SNIFF_DATA = re.compile(rb"(?im)^\s*\[(?:column names|data)\]\s*$")
_CREATED = re.compile(r"file created on\s+(\d{1,2})/(\d{1,2})/(\d{2,4})(?:\s*@\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?",
                      re.IGNORECASE)
_DATE_TIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2,4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_COMMENT_PAIR = re.compile(r"^([^:]+?)\s*:\s*(.*)$")

_BLOCK_ROWS = 50_000

_LAT_NAMES = {"lat", "latitude"}
_LON_NAMES = {"long", "longitude", "lng", "lon"}

# Unit words that end a [header] name ("velocity kmh", "Long accel g").
_UNIT_WORDS = {"kmh": "km/h", "km/h": "km/h", "mph": "mph", "m/s": "m/s", "g": "g", "knots": "kn",
               "kn": "kn", "deg": "deg", "m": "m", "ft": "ft"}
# Units the format fixes, by column name without a leading underscore.
_BUILTIN_UNITS = {
    "sats": "count", "satellites": "count", "glonass_sats": "count", "gps_sats": "count",
    "velocity": "km/h", "heading": "deg", "height": "m", "longacc": "g", "latacc": "g",
    "lat": "deg", "latitude": "deg", "long": "deg", "longitude": "deg", "lng": "deg", "lon": "deg",
}
_BUILTIN = set(_BUILTIN_UNITS) | {
    "time", "vert-vel", "vertical velocity", "imu_kalman_filter_status", "solution_type",
    "velocity_quality", "event-1", "event-2", "event_1_time", "avifileindex", "avisynctime",
}
_DISCRETE = {"sats", "satellites", "glonass_sats", "gps_sats", "solution_type", "imu_kalman_filter_status"}

# [comments] keys that map to Metadata fields.
_FIELDS = {"venue": "track", "track": "track", "circuit": "track", "driver": "driver",
           "vehicle": "car", "car": "car"}


def sniff(head: bytes, name: str) -> float:
    """Return 1.0 for a ``[header]`` section followed by ``[column names]`` or ``[data]``."""
    has_header = bool(_SNIFF_HEADER.search(head))
    has_data = bool(_SNIFF_DATA.search(head))
    if has_header and has_data:
        return 1.0
    if head.lstrip().lower().startswith(b"file created on") and (has_header or has_data):
        return 0.9
    return 0.4 if has_header and name.lower().endswith(".vbo") else 0.0


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read a ``.vbo`` file."""
    body, _encoding = to_utf8(data)
    layout = _read_sections(body, name)
    names, units, warnings = _channel_names(layout, name)

    values, rows_read, dropped = _read_data(body, layout, names, name)
    keys = [_key(n) for n in names]
    if "time" not in keys:
        raise ParseError(name, "no time column", line=layout.names_line, expected='a column named "time"',
                         found=" ".join(names[:8]))
    clock = _clock_seconds(values[:, keys.index("time")])
    time = _elapsed(clock)

    channels = []
    position: dict[str, np.ndarray] = {}
    for j, (column_name, key, unit) in enumerate(zip(names, keys, units)):
        if key == "time":
            continue
        column = np.ascontiguousarray(values[:, j])
        if key in _LAT_NAMES:
            column, unit = column / 60.0, "deg"
        elif key in _LON_NAMES:
            column, unit = -column / 60.0, "deg"
        if column_name.lower() in ("lat", "latitude", "long", "longitude", "lng", "lon"):
            position.setdefault("lat" if key in _LAT_NAMES else "lon", column)
        channel = SourceChannel(name=column_name, unit=unit, values=column)
        if key in _DISCRETE:
            channel.kind = DISCRETE
        channels.append(channel)

    metadata = _metadata(layout, clock, name)
    _read_laptiming(layout, position, metadata, name)
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=time,
        channels=channels,
        metadata=metadata,
        warnings=warnings,
        rows_read=rows_read,
        rows_dropped=dropped,
    )


class _Layout:
    """The sections of one file before ``[data]``."""

    def __init__(self) -> None:
        self.preamble: list[str] = []
        self.sections: dict[str, list[tuple[int, str]]] = {}
        self.names_line: int | None = None
        self.data_start: int | None = None
        self.data_line = 0


def _read_sections(body: bytes, name: str) -> _Layout:
    layout = _Layout()
    current: list[tuple[int, str]] | None = None
    for number, _start, end, raw in iter_lines(body):
        text = decode_text(raw)
        m = _SECTION.match(text)
        if m:
            section = m.group(1).strip().lower()
            if section == "data":
                layout.data_start, layout.data_line = end, number + 1
                break
            current = layout.sections.setdefault(section, [])
            if section == "column names":
                layout.names_line = number + 1
            continue
        if current is None:
            if text.strip():
                layout.preamble.append(text.strip())
        else:
            current.append((number, text))
    if layout.data_start is None:
        raise ParseError(name, "no [data] section", expected="a line reading [data] before the samples",
                         found="end of file")
    return layout


def _channel_names(layout: _Layout, name: str) -> tuple[list[str], list[str], list[str]]:
    """Return the channel names in data order, their units, and warnings about the header."""
    warnings: list[str] = []
    header = [text.strip() for _, text in layout.sections.get("header", []) if text.strip()]
    column_lines = [(n, text) for n, text in layout.sections.get("column names", []) if text.strip()]
    columns = column_lines[0][1].split() if column_lines else []
    if column_lines:
        layout.names_line = column_lines[0][0]

    header_units = [_unit_from_header(h) for h in header]
    if columns:
        names = columns
        if header and len(header) != len(columns):
            warnings.append(f"[header] lists {len(header)} channels but [column names] {len(columns)}; "
                            f"units written in [header] names are ignored")
            header_units = [""] * len(columns)
    elif header:
        names = [_strip_unit_word(h) for h in header]
    else:
        raise ParseError(name, "no channel names", expected="a [column names] or [header] section",
                         found="neither")
    if len(header_units) != len(names):
        header_units = [""] * len(names)

    units = [header_units[i] or _BUILTIN_UNITS.get(_key(n), "") for i, n in enumerate(names)]
    listed = [_clean_unit(text) for _, text in layout.sections.get("channel units", [])]
    while listed and not listed[-1]:
        listed.pop()
    if listed:
        units = _apply_units(names, units, listed, warnings)
    return unique_names(names), units, warnings


def _apply_units(names: list[str], units: list[str], listed: list[str], warnings: list[str]) -> list[str]:
    """Put the ``[channel units]`` entries on the channels, aligned to the end when fewer."""
    units = list(units)
    if len(listed) > len(names):
        warnings.append(f"[channel units] lists {len(listed)} units for {len(names)} channels; "
                        f"the extra units are ignored")
        listed = listed[: len(names)]
    if len(listed) == len(names):
        return [u or units[i] for i, u in enumerate(listed)]

    warnings.append(f"[channel units] lists {len(listed)} units for {len(names)} channels; "
                    f"they are applied to the last {len(listed)} channels")
    first = len(names) - len(listed)
    for offset, unit in enumerate(listed):
        i = first + offset
        if unit and _key(names[i]) not in _BUILTIN:
            units[i] = unit
    return units


def _read_data(body: bytes, layout: _Layout, names: list[str],
               name: str) -> tuple[np.ndarray, int, dict[str, int]]:
    """Return the samples as a (rows, channels) float64 array, the row count and dropped rows.

    Rows are converted in blocks of ``_BLOCK_ROWS`` so that the text tokens of a large file are
    never all in memory at once.
    """
    assert layout.data_start is not None
    lines = body[layout.data_start:].decode("latin-1").splitlines()
    width = len(names)
    blocks: list[np.ndarray] = []
    tokens: list[str] = []
    numbers: list[int] = []
    dropped: dict[str, int] = {}
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    for i, line in enumerate(lines):
        row = line.split()
        if not row:
            continue
        if row[0].startswith("["):
            break
        if len(row) != width:
            if i == last and len(row) < width:
                # A log cut off while writing its last row: keep everything before it.
                dropped["truncated last row"] = 1
                break
            raise ParseError(name, "wrong number of values", line=layout.data_line + i,
                             expected=f"{width} space-separated values", found=f"{len(row)}")
        tokens.extend(row)
        numbers.append(layout.data_line + i)
        if len(numbers) == _BLOCK_ROWS:
            blocks.append(_to_block(tokens, numbers, names, name))
            tokens, numbers = [], []
    if numbers:
        blocks.append(_to_block(tokens, numbers, names, name))
    if not blocks:
        raise ParseError(name, "no data rows", line=layout.data_line, expected="one row per sample",
                         found="none")
    values = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return values, int(values.shape[0]), dropped


def _to_block(tokens: list[str], numbers: list[int], names: list[str], name: str) -> np.ndarray:
    """Convert the tokens of whole rows to a (rows, channels) array; name the first bad value."""
    try:
        return np.array(tokens, dtype=np.float64).reshape(len(numbers), len(names))
    except ValueError:
        pass
    width = len(names)
    for k, number in enumerate(numbers):
        for token, channel in zip(tokens[k * width:(k + 1) * width], names):
            try:
                float(token)
            except ValueError:
                raise ParseError(name, "value is not a number", line=number, field=channel,
                                 expected="a number", found=repr(token)) from None
    raise ParseError(name, "values are not numbers", line=numbers[0], expected="numbers",
                     found="a value that numpy cannot read")


def _clock_seconds(hhmmss: np.ndarray) -> np.ndarray:
    """Convert ``HHMMSS.SSS`` values to seconds since midnight; invalid clock values become NaN."""
    with np.errstate(invalid="ignore"):
        hours = np.floor(hhmmss / 10000.0)
        minutes = np.floor((hhmmss - hours * 10000.0) / 100.0)
        seconds = hhmmss - hours * 10000.0 - minutes * 100.0
        seconds = np.round(hours * 3600.0 + minutes * 60.0 + seconds, 6)
        bad = ~((hours >= 0) & (hours < 24) & (minutes < 60) & (hhmmss - hours * 10000.0 - minutes * 100.0 < 61))
    seconds[bad] = np.nan
    return seconds


def _elapsed(clock: np.ndarray) -> np.ndarray:
    """Return seconds since the first valid sample, adding a day at each midnight wrap."""
    finite = np.isfinite(clock)
    if not finite.any():
        return clock.copy()
    valid = clock[finite]
    wraps = np.concatenate(([0], np.cumsum(np.diff(valid) < -43200.0)))
    unwrapped = np.full(clock.shape, np.nan)
    unwrapped[finite] = valid + 86400.0 * wraps
    return np.round(unwrapped - valid[0], 6)


def _metadata(layout: _Layout, clock: np.ndarray, name: str) -> Metadata:
    md = Metadata()
    free: list[str] = []
    date_match = None
    for _, text in layout.sections.get("comments", []):
        line = text.strip()
        if not line:
            continue
        pair = _COMMENT_PAIR.match(line)
        if line.lower().startswith("generated by "):
            md.producer = line[len("generated by "):].strip()
            continue
        if not pair:
            free.append(line)
            continue
        key, value = pair.group(1).strip().lower(), pair.group(2).strip()
        if key in _FIELDS:
            setattr(md, _FIELDS[key], value or None)
        elif key == "log rate (hz)":
            try:
                md.sample_rate_hz = float(value)
            except ValueError:
                md.extra["log_rate_hz"] = value
        elif key == "utc date started":
            date_match = _DATE_TIME.match(value)
            md.extra["utc_date_started"] = value
        else:
            md.extra[re.sub(r"\W+", "_", key).strip("_")] = value
    if md.producer is None and any(line.lower() == "racelogic" for line in free):
        md.producer = "Racelogic"
        free = [line for line in free if line.lower() != "racelogic"]
    if free:
        md.comment = "; ".join(free)

    created = next((_CREATED.search(line) for line in layout.preamble if _CREATED.search(line)), None)
    if created:
        md.extra["file_created"] = created.group(0)[len("file created on"):].strip()
    md.start_time = _start_time(date_match or created, clock)

    modules = []
    for _, text in layout.sections.get("module information", []):
        if text.strip() and text.strip() not in modules:
            modules.append(text.strip())
    if modules:
        md.extra["modules"] = modules
    return md


def _start_time(match: re.Match | None, clock: np.ndarray) -> dt.datetime | None:
    """Combine the header date (day first) with the first sample's UTC clock time."""
    # NOTE: the sample files seen so far have dates that read either way (01/03/2016, 11/04/2026),
    # so day first follows Racelogic's UK convention without a file that confirms it.
    finite = clock[np.isfinite(clock)]
    if match is None or not finite.size:
        return None
    day_text, month_text, year_text, hour, minute = match.group(1, 2, 3, 4, 5)
    year = int(year_text) + (2000 if len(year_text) <= 2 else 0)
    try:
        day = dt.date(year, int(month_text), int(day_text))
    except ValueError:
        return None
    first = float(finite[0])
    if hour is not None:
        # The header clock is minutes before or after the first sample; a difference of more
        # than half a day means that midnight falls between them.
        header_clock = int(hour) * 3600 + int(minute) * 60
        if first - header_clock < -43200:
            day += dt.timedelta(days=1)
        elif first - header_clock > 43200:
            day -= dt.timedelta(days=1)
    midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)
    return midnight + dt.timedelta(seconds=round(first, 6))


def _read_laptiming(layout: _Layout, position: dict[str, np.ndarray], md: Metadata, name: str) -> None:
    """Store start and split lines as pairs of ``[lat, lon]`` points in degrees in ``md.extra``."""
    reference = None
    lat, lon = position.get("lat"), position.get("lon")
    if lat is not None and lon is not None:
        ok = np.isfinite(lat) & np.isfinite(lon) & ((lat != 0) | (lon != 0))
        if ok.any():
            reference = (float(np.median(lat[ok])), float(np.median(lon[ok])))

    splits = []
    for number, text in layout.sections.get("laptiming", []):
        if not text.strip():
            continue
        head, _, label = text.partition("\u00ac")
        tokens = head.split()
        try:
            figures = [float(t) for t in tokens[1:5]]
        except ValueError:
            figures = []
        if len(figures) != 4:
            raise ParseError(name, "invalid [laptiming] line", line=number,
                             expected="a kind and four coordinates in minutes", found=repr(text.strip()))
        points = _line_points(figures, reference)
        kind = tokens[0].lower()
        label = label.strip() or tokens[0]
        if kind == "start" and "start_line" not in md.extra:
            md.extra["start_line"] = points
            md.extra["start_line_name"] = label
        elif kind == "finish":
            md.extra["finish_line"] = points
        else:
            splits.append({"name": label, "points": points})
    if splits:
        md.extra["split_lines"] = splits


def _line_points(figures: list[float], reference: tuple[float, float] | None) -> list[list[float]]:
    """Convert two (a, b) minute pairs to degrees, choosing which of a and b is the latitude."""
    a1, b1, a2, b2 = figures
    lat_first = [[a1 / 60.0, -b1 / 60.0], [a2 / 60.0, -b2 / 60.0]]
    lon_first = [[b1 / 60.0, -a1 / 60.0], [b2 / 60.0, -a2 / 60.0]]
    options = [p for p in (lat_first, lon_first) if all(abs(q[0]) <= 90 and abs(q[1]) <= 180 for q in p)]
    if not options:
        options = [lat_first]
    if reference is not None and len(options) == 2:
        options.sort(key=lambda p: _distance_deg(p[0], reference))
    return [[round(q[0], 9), round(q[1], 9)] for q in options[0]]


def _distance_deg(point: list[float], reference: tuple[float, float]) -> float:
    scale = np.cos(np.radians(reference[0]))
    return float(np.hypot(point[0] - reference[0], (point[1] - reference[1]) * scale))


def _unit_from_header(header_name: str) -> str:
    words = header_name.split()
    if len(words) > 1 and words[-1].lower() in _UNIT_WORDS:
        return _UNIT_WORDS[words[-1].lower()]
    return ""


def _strip_unit_word(header_name: str) -> str:
    words = header_name.split()
    if len(words) > 1 and words[-1].lower() in _UNIT_WORDS:
        words = words[:-1]
    return "_".join(words)


def _clean_unit(text: str) -> str:
    """Return a ``[channel units]`` entry as the channel table spells it.

    Units taken from CAN databases are sometimes cut after the degree sign ("°_(Degree").
    """
    unit = text.strip()
    if unit.startswith("\u00b0") and len(unit) > 1 and unit[1] in "_( ":
        return "deg"
    return unit


def _key(column_name: str) -> str:
    """Return the column name as the format's conventions see it: lower case, no leading '_'."""
    return column_name.strip().lower().lstrip("_").split(" #")[0]


