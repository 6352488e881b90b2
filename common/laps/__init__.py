"""Laps, sectors and distance from every boundary source a telemetry format provides.

Pure functions over a normalized ``Session`` (numpy arrays), plus storage:

- ``detect_laps(session, start_line=None)``: the session's laps, classified as out-, flying,
  in- or partial laps, with validity, distance, speeds, sector times and the producer's own lap
  time when the file has one.
- ``integrate_distance(session)``: cumulative distance in metres from speed or GPS positions.
- ``store_laps(conn, session_key, laps)``: replace a session's rows in the ``laps`` table.
- ``summarize_laps(laps)`` and ``format_lap_table(laps)``: for the command line.

Conventions that format readers can rely on:

- ``session.beacons_s`` are lap beacons.
- ``metadata.extra["start_line"]`` is ``((lat1, lon1), (lat2, lon2))`` in degrees.
- ``metadata.extra["split_beacons_s"]`` lists split markers in seconds on the file's time axis.
- ``metadata.extra["events"]`` entries ``{"time_s": ..., "text": "Pit Lane Entry"}`` (or
  "Pit Lane Exit") give the pit status when no pit-road channel does.
- A discrete source channel named ``segment`` (or ``fragment_id``) numbers the stretches of an
  interrupted recording.
- A source channel such as ``OnPitRoad`` (1 on pit road) gives the pit status.
- ``ProducerLap.start_s`` is on the file's time axis.
"""

from .boundaries import Boundaries, find_boundaries
from .detect import detect_laps, lap_of_samples
from .distance import cumulative_distance, haversine_m, integrate_distance
from .geometry import Line, find_start_line, line_crossings
from .model import FLYING, IN, KINDS, OUT, PARTIAL, Lap
from .report import format_lap_table, format_lap_time, summarize_laps
from .store import store_laps

__all__ = [
    "FLYING",
    "IN",
    "KINDS",
    "OUT",
    "PARTIAL",
    "Boundaries",
    "Lap",
    "Line",
    "cumulative_distance",
    "detect_laps",
    "find_boundaries",
    "find_start_line",
    "format_lap_table",
    "format_lap_time",
    "haversine_m",
    "integrate_distance",
    "lap_of_samples",
    "line_crossings",
    "store_laps",
    "summarize_laps",
]
