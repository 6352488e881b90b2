"""Session facts from the free-form lines above the header row of a delimited file.

Lines such as ``Track: Spa``, ``Driver=A. Driver``, ``Venue,Demo Ring`` or ``# Car: GT3`` are read
as key/value pairs. Known keys fill ``Metadata`` fields; other pairs go to ``Metadata.extra`` by
their own key, and lines that are not pairs are kept in ``extra["preamble"]``.
"""

from __future__ import annotations

import re

from ..model import Metadata
from . import dates
from .numeric import detect_decimal, parse_number
from .text import split_row

# Keys (lower-case, single spaces) that name a Metadata field.
_FIELD_KEYS = {
    "track": "track", "track name": "track", "venue": "track", "circuit": "track",
    "car": "car", "vehicle": "car", "car name": "car",
    "driver": "driver", "driver name": "driver", "racer": "driver",
    "session": "session_type", "session type": "session_type",
    "device": "device", "logger": "device",
    "comment": "comment", "note": "comment", "notes": "comment",
}
_DATE_KEYS = ("date", "log date", "start date", "created", "recorded", "session date")
_TIME_KEYS = ("time", "log time", "start time", "session time")
_RATE_KEYS = ("sample rate", "sampling rate", "rate", "frequency", "sample frequency", "log rate")

_KNOWN_KEYS = frozenset(_FIELD_KEYS) | frozenset(_DATE_KEYS) | frozenset(_TIME_KEYS) | frozenset(_RATE_KEYS)

_PAIR = re.compile(r"^\s*#?\s*(?P<key>[A-Za-z][\w .()/-]{0,40}?)\s*[:=]\s*(?P<value>.*)$")
_RATE = re.compile(r"^\s*(?P<number>[\d.,]+)\s*(?P<unit>hz|khz)?\s*$", re.IGNORECASE)
_MAX_EXTRA = 50
_MAX_VALUE = 200


def read_preamble(lines: list[str], separator: str, metadata: Metadata) -> None:
    """Fill ``metadata`` from the preamble ``lines`` (decoded, stripped, blank lines removed)."""
    date_text = time_text = None
    loose: list[str] = []
    for line in lines:
        pair = _pair(line, separator)
        if pair is None:
            loose.append(line.lstrip("#").strip()[:_MAX_VALUE])
            continue
        key, value, rest = pair
        if not value and not rest:
            continue
        if key in _FIELD_KEYS:
            setattr(metadata, _FIELD_KEYS[key], value or None)
        elif key in _DATE_KEYS:
            date_text = value
            if rest and dates.parse_time(rest[0]) is not None:
                time_text = rest[0]
        elif key in _TIME_KEYS:
            time_text = value
        elif key in _RATE_KEYS:
            metadata.sample_rate_hz = _rate_hz(value, rest)
        elif len(metadata.extra) < _MAX_EXTRA:
            metadata.extra[key] = " ".join([value] + rest)[:_MAX_VALUE]
    if loose:
        metadata.extra["preamble"] = loose[:20]
    if date_text:
        start, ambiguous = _start_time(date_text, time_text)
        metadata.start_time = start
        metadata.start_time_ambiguous = ambiguous
        if ambiguous:
            metadata.extra["date"] = date_text


def _pair(line: str, separator: str) -> tuple[str, str, list[str]] | None:
    """Return ``(key, value, further_fields)`` of a key/value line, or None."""
    text = line.lstrip("#").strip()
    if separator in text and separator != " ":
        fields = split_row(text, separator)
        while fields and not fields[-1]:
            fields.pop()
        if len(fields) >= 2 and fields[0] and not _is_numberish(fields[0]):
            rest = [f for f in fields[2:] if f]
            return _key(fields[0]), fields[1], rest
    m = _PAIR.match(text)
    if m:
        return _key(m.group("key")), m.group("value").strip().strip('"'), []
    if separator == " ":
        # "Track Brands Hatch": a known one-word key, then the value.
        fields = split_row(text, " ")
        key = _key(fields[0]) if fields else ""
        if len(fields) >= 2 and key in _KNOWN_KEYS:
            return key, " ".join(fields[1:]), []
    return None


def _key(text: str) -> str:
    return " ".join(text.strip().strip('"').lower().split())


def _is_numberish(text: str) -> bool:
    return bool(re.match(r"^[+-]?[\d.,]+$", text))


def _rate_hz(value: str, rest: list[str]) -> float | None:
    unit = rest[0].lower() if rest else ""
    m = _RATE.match(value)
    if not m:
        return None
    unit = (m.group("unit") or unit or "hz").lower()
    decimal, thousands = detect_decimal([[m.group("number")]], ";")
    try:
        number = parse_number(m.group("number"), decimal, thousands)
    except ValueError:
        return None
    if unit == "khz":
        return number * 1000.0
    return number if unit == "hz" and number > 0 else None


def _start_time(date_text: str, time_text: str | None):
    parts = date_text.split()
    if time_text is None and len(parts) == 2 and dates.parse_time(parts[1]) is not None:
        date_text, time_text = parts
    return dates.combine(date_text, time_text)
