"""Channel lookup and recording gaps: what lap detection reads from a normalized session."""

from __future__ import annotations

import numpy as np

from ..channels import normalize_name
from ..model import Session
from ..normalize import GAP_FACTOR, GAP_MIN_S

# Source channel names (after ``normalize_name``) that tell whether the car is on pit road.
# None of them is a canonical channel, so they keep their source names through normalization.
PIT_CHANNEL_NAMES = (
    "onpitroad", "on_pit_road", "car_on_pit_road", "is_on_pit_road", "pit_road", "in_pit",
    "in_pits", "pit_lane", "in_pit_lane", "pitlane", "pit",
)
# Names of the discrete channel that numbers the track segments of a GPS log (GPX <trkseg>).
SEGMENT_CHANNEL_NAMES = ("segment", "track_segment", "trkseg", "segment_index")


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
    """Return a boolean array, True where the car is on pit road, or None without such a channel.

    A missing value counts as not on pit road.
    """
    values = source_values(session, PIT_CHANNEL_NAMES)
    if not usable(values):
        return None
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(values, nan=0.0) >= 0.5
