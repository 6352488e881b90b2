"""Helpers shared by the lap-timer readers: lap time texts and Unix timestamps."""

from __future__ import annotations

import datetime as dt
import math
import re

_LAP_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$")


def parse_lap_time(text: str) -> float | None:
    """Return the seconds of a lap time written ``[[H:]M:]S[.fff]``, or None when it is not one.

    "01:02.8" is 62.8 s and "00:07:24.553" is 444.553 s. The result is rounded to the microsecond
    so that it equals the decimal the file wrote.
    """
    m = _LAP_TIME.match(text.strip())
    if not m:
        return None
    first, second, seconds_text = m.groups()
    if second is not None:
        hours, minutes = int(first), int(second)
    else:
        hours, minutes = 0, int(first or 0)
    seconds = float(seconds_text)
    if (first is not None or second is not None) and seconds >= 60:
        return None
    return round(hours * 3600 + minutes * 60 + seconds, 6)


def utc_from_unix(seconds: float) -> dt.datetime | None:
    """Return the UTC datetime of a Unix time in seconds, or None when it is not a plausible date.

    Plausible means from 1990 to 2100: a counter that starts at 0 is not a clock.
    """
    if not math.isfinite(seconds) or not 631_152_000 <= seconds <= 4_102_444_800:
        return None
    return dt.datetime.fromtimestamp(round(seconds, 6), tz=dt.UTC)
