"""The time column of a delimited file: which column it is and how to turn it into seconds.

A time column is chosen by name first (``TIME_NAMES``, in order of preference), then as the first
column whose sampled values increase and whose name is not a known channel. Numbers are scaled by
the column's unit; numbers that can only be a Unix time are read as one, and set the session's
start time. Clock times and dates with times are read as text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np

from ..channels import canonical_for, normalize_name
from . import dates
from .delimited import TIME_UNITS, is_number, is_time_text
from .numeric import MISSING_TOKENS, parse_number

# Column names (after ``normalize_name``) that hold the time of each row, most preferred first.
TIME_NAMES = (
    "time", "t", "elapsed", "elapsed_time", "session_time", "sessiontime", "time_s", "time_sec",
    "timestamp", "time_stamp", "datetime", "date_time", "utc_time", "gps_time", "time_utc",
    "clock", "seconds", "secs", "millis", "time_ms", "unix_time", "epoch", "timecode",
)

# Earliest plausible Unix time in seconds (1973-03-03); smaller values are elapsed times.
_UNIX_MIN_S = 1e8

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?\s*([AaPp][Mm])?$")
_STAMP = re.compile(
    r"^(?P<date>\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4})[ T]"
    r"(?P<clock>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?P<zone>Z|UTC|[+-]\d{2}:?\d{2})?$"
)


@dataclass
class TimeAxis:
    """Row times in seconds (NaN where unreadable), with what was learnt about the start."""

    seconds: np.ndarray
    start_time: dt.datetime | None = None
    start_time_ambiguous: bool = False
    warnings: list[str] = field(default_factory=list)


def find_time_column(names: list[str], units: list[str], samples: list[list[str]],
                     locale: tuple[str, str | None] = (".", None)) -> int | None:
    """Return the index of the time column, or None when no column contains the row times.

    ``samples`` contains the sampled texts of each column, and ``locale`` is the file's
    ``(decimal_mark, thousands_mark)``.
    """
    keys = [normalize_name(n) for n in names]
    for wanted in TIME_NAMES:
        for j, key in enumerate(keys):
            if key == wanted and _usable_as_time(samples[j], locale):
                return j
    for j in range(len(keys)):
        unit = units[j].strip().lower()
        is_time_unit = unit in TIME_UNITS or unit in ("unix time", "epoch")
        if is_time_unit and canonical_for(names[j]) is None and _increasing(samples[j], locale):
            return j
    for j, key in enumerate(keys):
        if canonical_for(names[j]) is None and "lap" not in key and _increasing(samples[j], locale):
            return j
    return None


def _usable_as_time(values: list[str], locale: tuple[str, str | None]) -> bool:
    present = [v for v in values if v and v.lower() not in MISSING_TOKENS]
    if not present:
        return False
    if all(is_time_text(v) and not is_number(v) for v in present):
        return True
    numbers = _numbers(present, locale)
    if numbers is None:
        return False
    return bool(np.all(np.diff(numbers) >= 0)) and (numbers.size < 2 or numbers[-1] > numbers[0])


def _increasing(values: list[str], locale: tuple[str, str | None]) -> bool:
    present = [v for v in values if v and v.lower() not in MISSING_TOKENS]
    if len(present) < 3 or not all(is_number(v) for v in present):
        return False
    numbers = _numbers(present, locale)
    return numbers is not None and bool(np.all(np.diff(numbers) > 0))


def _numbers(values: list[str], locale: tuple[str, str | None]) -> np.ndarray | None:
    try:
        return np.array([parse_number(v, *locale) for v in values], dtype=np.float64)
    except ValueError:
        return None


def numeric_time(values: np.ndarray, unit: str, name: str) -> TimeAxis:
    """Convert a numeric time column to seconds using its unit, or its magnitude without one."""
    unit_key = unit.strip().lower()
    finite = values[np.isfinite(values)]
    axis = TimeAxis(values)
    if finite.size == 0:
        return axis
    first = float(finite[0])
    key = normalize_name(name)

    if unit_key in TIME_UNITS:
        scale = TIME_UNITS[unit_key]
    elif unit_key in ("unix time", "epoch"):
        scale = 1.0
    elif key in ("millis", "time_ms") or key.endswith("_ms"):
        scale = 1e-3
    elif first >= 1e17:
        scale = 1e-9
    elif first >= 1e14:
        scale = 1e-6
    elif first >= 1e11:
        scale = 1e-3
    else:
        scale = 1.0
    if scale != 1.0:
        axis.seconds = values * scale
    if first * scale >= _UNIX_MIN_S:
        axis.start_time = dt.datetime.fromtimestamp(first * scale, tz=dt.UTC)
    return axis


def text_time(values: np.ndarray) -> TimeAxis:
    """Convert clock times ("14:05:10.25") or dates with times to seconds; NaN where unreadable.

    Clock times that go backwards by more than 12 hours are taken to have passed midnight.
    Dates are read with ``dates.parse_date``, so a day/month order that nothing decides leaves the
    start time unset and flagged ambiguous, and the times count from midnight of an unknown day.
    """
    seconds = np.full(len(values), np.nan)
    start_time = None
    ambiguous = False
    zone_seen = False
    date_cache: dict[str, tuple[dt.date | None, bool]] = {}
    day_offset = 0.0
    previous_clock = None
    for i, raw in enumerate(values):
        if raw is None:
            continue
        text = str(raw).strip()
        stamp = _STAMP.match(text)
        clock_text = stamp.group("clock") if stamp else text
        clock = _clock_seconds(clock_text)
        if clock is None:
            continue
        if stamp:
            date_text = stamp.group("date")
            if date_text not in date_cache:
                date_cache[date_text] = dates.parse_date(date_text)
            date, is_ambiguous = date_cache[date_text]
            ambiguous = ambiguous or is_ambiguous
            offset = _zone_offset_s(stamp.group("zone"))
            zone_seen = zone_seen or stamp.group("zone") is not None
            if date is not None:
                day = dt.datetime.combine(date, dt.time(0), tzinfo=dt.UTC).timestamp()
                seconds[i] = day + clock - offset
                if start_time is None:
                    start_time = _start(seconds[i], zone_seen)
                continue
        if previous_clock is not None and clock + day_offset < previous_clock - 43200:
            day_offset += 86400.0
        seconds[i] = clock + day_offset
        previous_clock = seconds[i]
    axis = TimeAxis(seconds, start_time, ambiguous and start_time is None)
    return axis


def _start(epoch_s: float, aware: bool) -> dt.datetime:
    value = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC)
    return value if aware else value.replace(tzinfo=None)


def _clock_seconds(text: str) -> float | None:
    m = _CLOCK.match(text)
    if not m:
        return None
    hours, minutes = int(m.group(1)), int(m.group(2))
    if m.group(3) is None:
        # "M:SS.f" without hours, as lap-timer exports write elapsed times.
        hours, minutes, secs = 0, hours, minutes
    else:
        secs = int(m.group(3))
    fraction = float("0." + m.group(4)) if m.group(4) else 0.0
    meridiem = (m.group(5) or "").lower()
    if meridiem == "pm" and hours < 12:
        hours += 12
    elif meridiem == "am" and hours == 12:
        hours = 0
    return hours * 3600.0 + minutes * 60.0 + secs + fraction


def _zone_offset_s(zone: str | None) -> float:
    if not zone or zone in ("Z", "UTC"):
        return 0.0
    sign = -1.0 if zone[0] == "-" else 1.0
    digits = zone[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)
