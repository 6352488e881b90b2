"""Channel lookup and recording gaps: what lap detection reads from a normalized session."""

from __future__ import annotations

import numpy as np

from ..channels import normalize_name
from ..model import Session
from ..normalize import GAP_FACTOR, GAP_MIN_S

# A car slower than this (km/h) may really stand still at a repeated GPS position.
MOVING_KMH = 5.0
# Source channel names (after ``normalize_name``) that tell whether the car is on pit road.
# None of them is a canonical channel, so they keep their source names through normalization.
PIT_CHANNEL_NAMES = (
    "onpitroad", "on_pit_road", "car_on_pit_road", "is_on_pit_road", "pit_road", "in_pit",
    "in_pits", "pit_lane", "in_pit_lane", "pitlane", "pit",
)
# Names of a discrete channel that numbers the stretches of an interrupted recording: GPX track
# segments (<trkseg>) and RaceChrono recording fragments (fragment_id).
SEGMENT_CHANNEL_NAMES = ("segment", "track_segment", "trkseg", "segment_index", "fragment_id")
# Names of a channel holding the time since the current lap started, in seconds (MoTeC ADL
# "Running Lap Time", iRacing "LapCurrentLapTime").
RUNNING_LAP_TIME_NAMES = (
    "running_lap_time", "lapcurrentlaptime", "lap_current_lap_time", "current_lap_time",
    "lap_time_running", "elapsed_lap_time",
)
# Texts of ``metadata.extra["events"]`` entries (TrackAddict comment lines) that open and close
# a stay on pit road.
PIT_ENTRY_EVENTS = ("pit lane entry", "pit entry", "pit in")
PIT_EXIT_EVENTS = ("pit lane exit", "pit exit", "pit out")


def canonical_values(session: Session, name: str) -> np.ndarray | None:
    """Return the values of canonical channel ``name``, or None when the session has none.

    The channel stored in the column wins; otherwise the first channel mapped to that name.
    """
    for channel in session.channels:
        if channel.column == name:
            return channel.values
    for channel in session.channels:
        if channel.canonical == name:
            return channel.values
    return None


def source_values(session: Session, names: tuple[str, ...]) -> np.ndarray | None:
    """Return the first channel whose normalized source name is in ``names``, in that order."""
    by_name = {}
    for channel in session.channels:
        by_name.setdefault(normalize_name(channel.source_name), channel.values)
    for name in names:
        if name in by_name:
            return by_name[name]
    return None


def usable(values: np.ndarray | None) -> bool:
    """Return True when ``values`` exists and has at least one finite value."""
    return values is not None and bool(np.isfinite(values).any())


def sample_period_s(elapsed_s: np.ndarray) -> float:
    """Return the median time step in seconds, or 0 for fewer than two samples."""
    if elapsed_s.size < 2:
        return 0.0
    return float(np.median(np.diff(elapsed_s)))


def gap_threshold_s(elapsed_s: np.ndarray) -> float:
    """Return the step length in seconds above which a time step is a recording gap.

    It is the same rule that ``common.normalize`` uses to stop interpolation: the larger of
    ``GAP_MIN_S`` and ``GAP_FACTOR`` times the median step.
    """
    return max(GAP_MIN_S, GAP_FACTOR * sample_period_s(elapsed_s))


def step_breaks(session: Session) -> np.ndarray:
    """Return one flag per time step (length n - 1): True where the recording is interrupted.

    A step is interrupted when it is longer than ``gap_threshold_s`` or when the GPS track
    segment number changes across it. Distances are never integrated over such a step and no
    line crossing is interpolated inside it.
    """
    elapsed = session.elapsed_s
    if elapsed.size < 2:
        return np.zeros(0, dtype=bool)
    breaks = np.diff(elapsed) > gap_threshold_s(elapsed)
    segment = source_values(session, SEGMENT_CHANNEL_NAMES)
    if segment is not None:
        with np.errstate(invalid="ignore"):
            changed = segment[1:] != segment[:-1]
        changed &= np.isfinite(segment[1:]) & np.isfinite(segment[:-1])
        breaks |= changed
    return breaks


def pit_status(session: Session) -> np.ndarray | None:
    """Return a boolean array, True where the car is on pit road, or None without pit data.

    A pit-road channel (1 on pit road; a missing value counts as 0) comes first. Otherwise pit
    entry and exit events in ``metadata.extra["events"]`` (``{"time_s": ..., "text": ...}``,
    times on the file's time axis) mark the car on pit road from each entry to the next exit, or
    to the end of the recording.
    """
    values = source_values(session, PIT_CHANNEL_NAMES)
    if usable(values):
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(values, nan=0.0) >= 0.5
    return _pit_from_events(session)


def _pit_from_events(session: Session) -> np.ndarray | None:
    events = session.metadata.extra.get("events")
    if not isinstance(events, list):
        return None
    marks = []
    for event in events:
        if not isinstance(event, dict) or event.get("time_s") is None:
            continue
        text = str(event.get("text", "")).strip().lower()
        if text in PIT_ENTRY_EVENTS:
            marks.append((float(event["time_s"]) - session.time_offset_s, True))
        elif text in PIT_EXIT_EVENTS:
            marks.append((float(event["time_s"]) - session.time_offset_s, False))
    if not marks:
        return None
    t = session.elapsed_s
    on_pit = np.zeros(t.shape, dtype=bool)
    marks.sort()
    # Before the first event the car is on pit road exactly when that event is an exit.
    state = not marks[0][1]
    previous = -np.inf
    for time_s, entry in marks:
        on_pit[(t >= previous) & (t < time_s)] = state
        state, previous = entry, time_s
    on_pit[t >= previous] = state
    return on_pit


def running_lap_time(session: Session) -> np.ndarray | None:
    """Return the source's time since the lap start (s) on the time base, or None."""
    values = source_values(session, RUNNING_LAP_TIME_NAMES)
    return values if usable(values) else None


def fresh_positions(session: Session) -> tuple[np.ndarray, np.ndarray] | None:
    """Return latitude and longitude with repeated fixes blanked (NaN), or None without GPS.

    Some loggers (TrackAddict) write a row per sensor sample and repeat the last GPS fix until
    the next one arrives. Interpolating between such rows would put every crossing at a fix
    time. So a sample that repeats the previous position while the car moves (speed at least
    ``MOVING_KMH``, or no speed channel) is dropped, and the first sample of each fix stays.
    """
    lat = canonical_values(session, "latitude")
    lon = canonical_values(session, "longitude")
    if not (usable(lat) and usable(lon)):
        return None
    repeated = np.zeros(lat.shape, dtype=bool)
    repeated[1:] = (lat[1:] == lat[:-1]) & (lon[1:] == lon[:-1])
    if not repeated.any():
        return lat, lon
    speed = canonical_values(session, "speed")
    if usable(speed):
        with np.errstate(invalid="ignore"):
            repeated &= ~(speed < MOVING_KMH)
    lat, lon = lat.copy(), lon.copy()
    lat[repeated] = np.nan
    lon[repeated] = np.nan
    return lat, lon
