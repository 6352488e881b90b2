"""The lap record that lap detection returns and the database stores."""

from __future__ import annotations

from dataclasses import dataclass, field

OUT = "out"
FLYING = "flying"
IN = "in"
PARTIAL = "partial"
KINDS = (OUT, FLYING, IN, PARTIAL)

# Names of the boundary sources, stored in ``Lap.source`` and in the ``laps.source`` column.
SOURCE_BEACON = "beacon"
SOURCE_LAP_DISTANCE_PCT = "lap_distance_pct"
SOURCE_LAP_NUMBER = "lap_number"
SOURCE_START_LINE = "start_line"
SOURCE_AUTO_START_LINE = "auto_start_line"
SOURCE_EXPORT_RANGE = "export_range"
SOURCE_NONE = "none"


@dataclass
class Lap:
    """One lap of a session, or a part of one, on the session's time axis.

    ``start_s`` and ``end_s`` are seconds from the session start. A lap contains the samples with
    ``start_s <= t < end_s``, and the last lap also the sample at ``end_s``. ``lap_time_s`` is
    ``end_s - start_s`` rounded to the millisecond. For out-, in- and partial laps it is only a
    duration, so only a valid lap's ``lap_time_s`` is a lap time. ``distance_m`` is None when
    the session has no distance, speed or position. ``source`` names the boundary source (one of
    the ``SOURCE_*`` names). ``producer_lap_time_s`` is the lap time that the producing tool wrote
    for the same lap, kept for comparison.
    """

    number: int
    start_s: float
    end_s: float
    lap_time_s: float
    distance_m: float | None
    kind: str
    valid: bool
    reason: str | None
    max_speed_kmh: float | None
    mean_speed_kmh: float | None
    sector_times_s: list[float] = field(default_factory=list)
    source: str = SOURCE_NONE
    producer_lap_time_s: float | None = None
