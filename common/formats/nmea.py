"""NMEA 0183 logs: RMC and GGA sentences from any talker ($GP, $GN, $GL, $GA, $GB, $BD).

Each sentence is checked against its ``*hh`` checksum (the XOR of the bytes between ``$`` and
``*``). A sentence with a wrong or missing checksum is dropped and counted, and the rest of the
file is still read. Only a log in which no sentence has a checksum is read unchecked, with a
warning.

RMC sentences give the rows: time, position (``ddmm.mmmm`` with N/S/E/W), speed in knots and
course over ground. Their ``ddmmyy`` date sets the day. Sentences without a date (GGA, or RMC
with an empty date field) take the day of the sentence before them, plus one day when the time
of day goes back by more than 12 hours, which is a midnight rollover. GGA sentences add altitude
(m), satellites in use, HDOP and the fix quality as channels with their own timestamps, so they
are joined to the RMC rows on the time of day. A file without RMC sentences is read from GGA
alone, and its start date stays unknown. NMEA times are UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ParseError
from ..model import DISCRETE, Metadata, ParsedLog, SourceChannel
from .text import iter_lines

FORMAT = "nmea"

_SENTENCE = re.compile(rb"^\$(?P<talker>[A-Z]{2})(?P<type>[A-Z]{3}),")
_HALF_DAY_S = 43_200.0
_DAY_S = 86_400.0

_DROP_CHECKSUM = "bad checksum"
_DROP_NO_CHECKSUM = "missing checksum"
_DROP_NO_FIX = "no fix"
_DROP_INVALID = "invalid field"
_DROP_OTHER = "other sentence types"
_DROP_NOT_NMEA = "not an NMEA sentence"


@dataclass
class _Fix:
    """One RMC or GGA sentence; ``time_of_day_s`` is seconds after midnight UTC."""

    kind: str
    time_of_day_s: float
    date: dt.date | None
    latitude: float
    longitude: float
    speed_kn: float = float("nan")
    course_deg: float = float("nan")
    altitude_m: float = float("nan")
    satellites: float = float("nan")
    hdop: float = float("nan")
    quality: float = float("nan")


def sniff(head: bytes, name: str) -> float:
    """Return 0.9 when most of the first non-empty lines are NMEA sentences with RMC or GGA among them."""
    lines = [raw.strip() for _n, _s, _e, raw in iter_lines(head[:16384])]
    lines = [line for line in lines if line][:40]
    if not lines:
        return 0.0
    sentences = [m.group("type") for m in (_SENTENCE.match(line) for line in lines) if m]
    if len(sentences) * 2 < len(lines):
        return 0.0
    return 0.9 if b"RMC" in sentences or b"GGA" in sentences else 0.5


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read the RMC and GGA sentences of an NMEA log."""
    parts = [part for _n, _s, _e, raw in iter_lines(data) for part in _split_sentences(raw)]
    # Where the logger writes checksums, a sentence without one was cut short: real logs contain
    # lines where a sentence breaks off and the next one starts. Only a log without any checksum
    # is read unchecked.
    checksums = any(b"*" in part for part in parts)
    dropped: dict[str, int] = {}
    fixes: list[_Fix] = []
    for part in parts:
        result = _sentence(part, checksums)
        if isinstance(result, str):
            _count(dropped, result)
        else:
            fixes.append(result)

    rmc = [f for f in fixes if f.kind == "RMC"]
    gga = [f for f in fixes if f.kind == "GGA"]
    if not rmc and not gga:
        raise ParseError(name, "no usable RMC or GGA sentence", expected="$xxRMC or $xxGGA sentences",
                         found=f"{len(parts)} sentences or lines, dropped: {dropped}" if dropped else "none")

    seconds, start = _absolute_times(fixes)
    warnings: list[str] = []
    if not checksums:
        warnings.append("no sentence has a checksum; all were read unchecked")
    if start is None:
        warnings.append("no RMC date in the file; the start date is unknown")

    main_kind = "RMC" if rmc else "GGA"
    main = np.array([i for i, f in enumerate(fixes) if f.kind == main_kind])
    base_s = seconds[main[0]]
    rows = [fixes[i] for i in main]
    channels = [
        SourceChannel("latitude", "deg", np.array([f.latitude for f in rows])),
        SourceChannel("longitude", "deg", np.array([f.longitude for f in rows])),
    ]
    if rmc:
        channels.append(SourceChannel("speed", "kn", np.array([f.speed_kn for f in rows])))
        channels.append(SourceChannel("heading", "deg", np.array([f.course_deg for f in rows])))
        gga_index = np.array([i for i, f in enumerate(fixes) if f.kind == "GGA"], dtype=int)
        channels += _gga_channels(gga, seconds[gga_index] - base_s)
    else:
        channels += _gga_channels(gga, None)

    if start is not None:
        start = start + dt.timedelta(seconds=float(base_s - seconds[0]))
    metadata = Metadata(producer="NMEA 0183", start_time=start)
    metadata.extra["rmc_sentences"] = len(rmc)
    metadata.extra["gga_sentences"] = len(gga)
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=seconds[main] - base_s,
        channels=channels,
        metadata=metadata,
        warnings=warnings,
        rows_read=len(parts),
        rows_dropped=dropped,
    )


def _split_sentences(raw: bytes) -> list[bytes]:
    """Split a line at each ``$``, because damaged logs run several sentences into one line.

    Text before the first ``$`` (a logger's own timestamp, for example) is not a sentence and is
    left out. A line without any ``$`` is returned whole, to be counted as not NMEA.
    """
    line = raw.strip()
    if not line:
        return []
    if b"$" not in line:
        return [line]
    return [b"$" + part.strip() for part in line.split(b"$")[1:]]


def _count(dropped: dict[str, int], reason: str) -> None:
    dropped[reason] = dropped.get(reason, 0) + 1


def _gga_channels(gga: list[_Fix], times: np.ndarray | None) -> list[SourceChannel]:
    """Return altitude, satellites, HDOP and fix quality; with ``times``, on their own timestamps."""
    if not gga:
        return []
    specs = (("altitude", "m", "altitude_m", None), ("satellites", "count", "satellites", DISCRETE),
             ("hdop", "", "hdop", None), ("fix_quality", "", "quality", DISCRETE))
    channels = []
    for channel_name, unit, attribute, kind in specs:
        values = np.array([getattr(f, attribute) for f in gga], dtype=np.float64)
        if np.isnan(values).all():
            continue
        channels.append(SourceChannel(channel_name, unit, values, times=times, kind=kind))
    return channels


def _sentence(line: bytes, require_checksum: bool) -> _Fix | str:
    """Return the fix in ``line``, or the reason to drop it."""
    match = _SENTENCE.match(line)
    if not match:
        return _DROP_NOT_NMEA
    star = line.rfind(b"*")
    if star >= 0:
        stated = line[star + 1:star + 3]
        if len(stated) != 2:
            return _DROP_CHECKSUM
        try:
            expected = int(stated, 16)
        except ValueError:
            return _DROP_CHECKSUM
        actual = 0
        for byte in line[1:star]:
            actual ^= byte
        if actual != expected:
            return _DROP_CHECKSUM
        body = line[:star]
    elif require_checksum:
        return _DROP_NO_CHECKSUM
    else:
        body = line
    kind = match.group("type").decode("ascii")
    if kind not in ("RMC", "GGA"):
        return _DROP_OTHER
    fields = body.decode("ascii", errors="replace").split(",")[1:]
    try:
        fix = _rmc(fields) if kind == "RMC" else _gga(fields)
    except (ValueError, IndexError):
        return _DROP_INVALID
    if fix is None:
        return _DROP_NO_FIX
    return fix


def _rmc(fields: list[str]) -> _Fix | None:
    """time, status, lat, N/S, lon, E/W, speed (kn), course (deg), date (ddmmyy), ..."""
    if fields[1] != "A":
        return None
    return _Fix(
        kind="RMC",
        time_of_day_s=_time_of_day(fields[0]),
        date=_date(fields[8]) if len(fields) > 8 and fields[8] else None,
        latitude=_coordinate(fields[2], fields[3], "NS", 90.0),
        longitude=_coordinate(fields[4], fields[5], "EW", 180.0),
        speed_kn=_optional(fields[6]),
        course_deg=_optional(fields[7]),
    )


def _gga(fields: list[str]) -> _Fix | None:
    """time, lat, N/S, lon, E/W, quality, satellites, HDOP, altitude, M, geoid separation, M, ..."""
    quality = int(fields[5]) if fields[5] else 0
    if quality == 0:
        return None
    return _Fix(
        kind="GGA",
        time_of_day_s=_time_of_day(fields[0]),
        date=None,
        latitude=_coordinate(fields[1], fields[2], "NS", 90.0),
        longitude=_coordinate(fields[3], fields[4], "EW", 180.0),
        quality=float(quality),
        satellites=_optional(fields[6]),
        hdop=_optional(fields[7]),
        altitude_m=_optional(fields[8]),
    )


def _time_of_day(text: str) -> float:
    """Return seconds after midnight from ``hhmmss`` or ``hhmmss.sss``."""
    if len(text) < 6 or not text[:6].isdigit():
        raise ValueError(f"invalid time {text!r}")
    hours, minutes = int(text[0:2]), int(text[2:4])
    seconds = float(text[4:])
    if hours > 23 or minutes > 59 or not 0 <= seconds < 61:
        raise ValueError(f"invalid time {text!r}")
    return hours * 3600.0 + minutes * 60.0 + seconds


def _date(text: str) -> dt.date:
    """Return the date of ``ddmmyy``: years 80 to 99 are 1980 to 1999, the others 2000 to 2079."""
    if len(text) != 6 or not text.isdigit():
        raise ValueError(f"invalid date {text!r}")
    day, month, year = int(text[0:2]), int(text[2:4]), int(text[4:6])
    return dt.date(year + (1900 if year >= 80 else 2000), month, day)


def _coordinate(value: str, hemisphere: str, allowed: str, limit: float) -> float:
    """Return decimal degrees from ``(d)ddmm.mmmm`` and a hemisphere letter; negative S and W."""
    if hemisphere not in allowed:
        raise ValueError(f"invalid hemisphere {hemisphere!r}")
    number = float(value)
    degrees = int(number // 100)
    minutes = number - degrees * 100
    if minutes >= 60 or number < 0:
        raise ValueError(f"invalid coordinate {value!r}")
    result = degrees + minutes / 60.0
    if result > limit:
        raise ValueError(f"coordinate out of range {value!r}")
    return -result if hemisphere == allowed[1] else result


def _optional(text: str) -> float:
    return float(text) if text.strip() else float("nan")


def _absolute_times(fixes: list[_Fix]) -> tuple[np.ndarray, dt.datetime | None]:
    """Return each fix's time in seconds on one axis, and the first fix's UTC datetime if dated.

    Days are counted from the first dated RMC, or from 0 when no sentence has a date.
    """
    anchor_index = next((i for i, f in enumerate(fixes) if f.date is not None), None)
    rollovers_before_anchor = 0
    if anchor_index is not None:
        for i in range(1, anchor_index + 1):
            if fixes[i].time_of_day_s < fixes[i - 1].time_of_day_s - _HALF_DAY_S:
                rollovers_before_anchor += 1
        anchor_day = fixes[anchor_index].date.toordinal()
        day = anchor_day - rollovers_before_anchor
    else:
        anchor_day = 0
        day = 0

    seconds = np.empty(len(fixes))
    previous = None
    for i, fix in enumerate(fixes):
        if fix.date is not None:
            day = fix.date.toordinal()
        elif previous is not None and fix.time_of_day_s < previous - _HALF_DAY_S:
            day += 1
        previous = fix.time_of_day_s
        seconds[i] = (day - anchor_day) * _DAY_S + fix.time_of_day_s

    if anchor_index is None:
        return seconds, None
    first_day = dt.date.fromordinal(anchor_day) + dt.timedelta(days=int(seconds[0] // _DAY_S))
    midnight = dt.datetime.combine(first_day, dt.time(0, 0), tzinfo=dt.UTC)
    return seconds, midnight + dt.timedelta(seconds=float(seconds[0] % _DAY_S))
