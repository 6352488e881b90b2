"""Date and time parsing for file headers, with ambiguous day/month orders flagged, not guessed."""

from __future__ import annotations

import datetime as dt
import re

_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{2,4})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*([AaPp][Mm])?$")


def parse_date(text: str) -> tuple[dt.date | None, bool]:
    """Parse a header date; return ``(date, ambiguous)``.

    ISO order is read as written. ``D/M/Y`` and ``M/D/Y`` cannot be told apart when both numbers
    are 12 or less: the date is then returned as None with ``ambiguous`` True. Dotted dates
    (``D.M.Y``) are day-first by convention in every locale that writes them.
    """
    text = text.strip()
    m = _ISO.match(text)
    if m:
        year, month, day = (int(g) for g in m.groups())
        return _safe_date(year, month, day), False
    m = _DMY.match(text)
    if not m:
        return None, False
    first, sep, second, year_text = m.groups()
    a, b, year = int(first), int(second), int(year_text)
    if year < 100:
        year += 2000
    if sep == ".":
        return _safe_date(year, b, a), False
    if a > 12 and b <= 12:
        return _safe_date(year, b, a), False
    if b > 12 and a <= 12:
        return _safe_date(year, a, b), False
    if a == b:
        return _safe_date(year, a, b), False
    return None, True


def parse_time(text: str) -> dt.time | None:
    """Parse ``H:MM``, ``H:MM:SS`` or ``H:MM:SS.fff``, with an optional AM/PM suffix."""
    m = _TIME.match(text.strip())
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2))
    second = int(m.group(3) or 0)
    micro = int((m.group(4) or "0")[:6].ljust(6, "0"))
    meridiem = (m.group(5) or "").lower()
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    try:
        return dt.time(hour, minute, second, micro)
    except ValueError:
        return None


def combine(date_text: str | None, time_text: str | None) -> tuple[dt.datetime | None, bool]:
    """Combine header date and time texts into a naive local datetime; return ``(value, ambiguous)``."""
    if not date_text:
        return None, False
    date, ambiguous = parse_date(date_text)
    if date is None:
        return None, ambiguous
    clock = parse_time(time_text) if time_text else None
    return dt.datetime.combine(date, clock or dt.time(0, 0)), False


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
