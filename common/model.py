"""The in-memory data model shared by every format reader and the later stages.

A format reader turns bytes into a ``ParsedLog``: channels as the file names them, in the units
the file states, with their own timestamps when the file samples them at different rates.
``common.normalize`` then turns a ``ParsedLog`` into a ``Session`` on one time base, with
canonical names, canonical units, range checks and a quality report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CONTINUOUS = "continuous"
DISCRETE = "discrete"


@dataclass
class SourceChannel:
    """One channel as the file stores it.

    ``values`` is float64 with NaN for a missing value. ``times`` (seconds, same length as
    ``values``) is set only when the channel has timestamps of its own; otherwise the channel is
    sampled on ``ParsedLog.time``. ``kind`` overrides the canonical table's kind when a reader knows
    better (for example a lap counter that the table does not list).
    """

    name: str
    unit: str
    values: np.ndarray
    times: np.ndarray | None = None
    rate_hz: float | None = None
    kind: str | None = None
    group: str | None = None


@dataclass
class ProducerLap:
    """A lap time written by the producing tool itself (segment times, comment lines, lap table)."""

    number: int
    lap_time_s: float
    start_s: float | None = None
    sector_times_s: list[float] = field(default_factory=list)


@dataclass
class Metadata:
    """Session facts found in the file; every field is optional."""

    track: str | None = None
    car: str | None = None
    driver: str | None = None
    session_type: str | None = None
    start_time: dt.datetime | None = None
    # True when the file's date could be read day-first or month-first and nothing decides it.
    start_time_ambiguous: bool = False
    device: str | None = None
    producer: str | None = None
    sample_rate_hz: float | None = None
    comment: str | None = None
    track_length_m: float | None = None
    # Anything else the file states, by the file's own key.
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; the start time is ISO 8601."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, dt.datetime):
                value = value.isoformat()
            out[key] = value
        return out


@dataclass
class ParsedLog:
    """What a format reader returns: the file's channels and facts, not yet normalized."""

    file: str
    format: str
    time: np.ndarray
    channels: list[SourceChannel]
    metadata: Metadata = field(default_factory=Metadata)
    # Lap marker times (seconds on the file's time axis), as beacons or start-line crossings.
    beacons_s: list[float] = field(default_factory=list)
    producer_laps: list[ProducerLap] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0
    # Rows the reader skipped, by reason.
    rows_dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class Channel:
    """One channel of a normalized session, on the session's time base.

    ``column`` is the wide sample table's typed column when this channel fills one; every other
    channel is stored in the ``extra`` array at ``extra_index``.
    """

    source_name: str
    source_unit: str
    canonical: str | None
    unit: str
    kind: str
    rate_hz: float | None
    provenance: str
    values: np.ndarray
    column: str | None = None
    extra_index: int | None = None
    group: str | None = None


@dataclass
class Session:
    """A normalized session: one time base, canonical units, quality report."""

    file: str
    format: str
    elapsed_s: np.ndarray
    channels: list[Channel]
    metadata: Metadata
    beacons_s: list[float]
    producer_laps: list[ProducerLap]
    quality: dict[str, Any]
    warnings: list[str]
    # Seconds subtracted from the file's own time axis so that the session starts at 0.
    time_offset_s: float = 0.0

    @property
    def sample_count(self) -> int:
        return int(self.elapsed_s.shape[0])

    @property
    def duration_s(self) -> float:
        if self.sample_count == 0:
            return 0.0
        return float(self.elapsed_s[-1] - self.elapsed_s[0])

    def channel(self, name: str) -> Channel:
        """Return the channel stored in column ``name`` or, failing that, with that source name."""
        for ch in self.channels:
            if ch.column == name:
                return ch
        for ch in self.channels:
            if ch.source_name == name:
                return ch
        raise KeyError(name)
