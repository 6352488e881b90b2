"""Lap boundaries (line crossing times) from each source a format provides, best source first.

Sources, in order of precedence:

1. Beacon markers (``session.beacons_s``: MoTeC CSV, AiM, .ldx).
2. The lap-distance fraction (``lap_distance_pct``) wrapping from about 1 to about 0, as in
   iRacing. A lap counter in the same session only numbers the laps: it may lag the line by a
   few samples or flicker, so the wrap decides the time.
3. A lap-number column (``lap_number``: RaceChrono, TrackAddict, MoTeC ADL). A running lap time
   channel, when the log has one, moves each change to the time the lap started.
4. A start/finish line given by the caller or by the file (VBO ``[laptiming]``, stored as
   ``metadata.extra["start_line"]``).
5. For GPS-only logs, a start/finish line found from the repeated path.

Each crossing time is in seconds on the session's time axis.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from ..model import Session
from . import model
from .geometry import Line, find_start_line, line_crossings
from .signals import canonical_values, fresh_positions, running_lap_time, sample_period_s, step_breaks, usable

logger = logging.getLogger(__name__)

# A beacon or counter change closer than this to the previous one is the same crossing.
DUPLICATE_S = 0.001
# A lap counter value that lasts less than this before it changes back is a flicker, in seconds.
FLICKER_S = 1.0
# Seconds around a counter change in which a running lap time channel is read (times 5).
COUNTER_WINDOW_S = 2.0
# Largest interquartile range (s) of the lap starts that a running lap time channel may give.
RUNNING_TIME_SPREAD_S = 0.5
# The lap-distance fraction wraps when it goes from at least HIGH to at most LOW in one step.
WRAP_HIGH = 0.75
WRAP_LOW = 0.25

_EXPORT_RANGE = re.compile(r"^\s*lap\s+(\d+)\s*$", re.IGNORECASE)


@dataclass
class Boundaries:
    """Crossing times (s, ascending) and the source they come from.

    ``counter`` is a lap counter on the time base that numbers the laps, when the source has one.
    ``first_number`` is the number of the lap that starts at the first crossing when the source
    states it. ``line`` is the start/finish line used by a line source.
    """

    times_s: list[float]
    source: str
    counter: np.ndarray | None = None
    first_number: int | None = None
    line: Line | None = None


def find_boundaries(session: Session, start_line: Line | None = None) -> Boundaries:
    """Return the crossings from the best source that has at least one, or none at all.

    A caller's ``start_line`` replaces the file's own line but does not override beacons, a
    lap-distance wrap or a lap-number column. Raises ``ValueError`` for an invalid
    ``start_line``; an invalid line in the file is logged and ignored.
    """
    if start_line is not None:
        start_line = _as_line(start_line)
    breaks = step_breaks(session)
    found = (
        _from_beacons(session)
        or _from_lap_fraction(session, breaks)
        or _from_lap_counter(session, breaks)
    )
    if found is not None and start_line is not None:
        logger.info("%s: laps come from %s; the given start line is not used", session.file, found.source)
    found = found or _from_line(session, breaks, start_line) or _from_auto_line(session, breaks)
    if found is None:
        found = Boundaries([], model.SOURCE_NONE)
    return _with_export_range(session, found)


def _from_beacons(session: Session) -> Boundaries | None:
    """Use the beacon markers inside the recording.

    A marker at the first sample is a crossing: the recording starts at the line. A marker
    within one sample period of the last sample, or after it, is where the logger closed the
    session (AiM writes one there), not a crossing.
    """
    if not session.beacons_s or session.sample_count == 0:
        return None
    t = session.elapsed_s
    period = sample_period_s(t)
    first, last = float(t[0]), float(t[-1])
    times: list[float] = []
    for beacon in sorted(session.beacons_s):
        if beacon < first - max(period, DUPLICATE_S) or beacon > last - period:
            continue
        beacon = max(beacon, first)
        if times and beacon - times[-1] < DUPLICATE_S:
            continue
        times.append(beacon)
    if not times:
        logger.warning("%s: %d beacon markers, none inside the recording (%.3f to %.3f s)",
                       session.file, len(session.beacons_s), first, last)
        return None
    return Boundaries(times, model.SOURCE_BEACON)


def _from_lap_fraction(session: Session, breaks: np.ndarray) -> Boundaries | None:
    """Use the wraps of the lap-distance fraction, interpolated in time at 1.0.

    The fraction is unwrapped into a running lap count. A forward wrap raises it, and a backward
    wrap (a car reversing over the line) lowers it. A crossing is a forward wrap to a count never
    reached before, so a car that rocks back and forth on the line crosses it once.
    """
    fraction = canonical_values(session, "lap_distance_pct")
    if not usable(fraction):
        return None
    t = session.elapsed_s
    idx = np.nonzero(np.isfinite(fraction))[0]
    if idx.size < 2:
        return None
    a, b = idx[:-1], idx[1:]
    before, after = fraction[a], fraction[b]
    # A step across a recording gap (or across missing samples that span one) is skipped.
    broken_before = np.concatenate(([0], np.cumsum(breaks)))
    broken = broken_before[b] > broken_before[a]
    forward = (before >= WRAP_HIGH) & (after <= WRAP_LOW) & ~broken
    backward = (before <= WRAP_LOW) & (after >= WRAP_HIGH) & ~broken

    times: list[float] = []
    level = 0
    best = 0
    for k in np.nonzero(forward | backward)[0]:
        if backward[k]:
            level -= 1
            continue
        level += 1
        if level <= best:
            continue
        best = level
        # Unwrapped, the fraction goes from before to after + 1 and crosses 1.0 in between.
        share = (1.0 - before[k]) / (after[k] + 1.0 - before[k])
        times.append(float(t[a[k]] + share * (t[b[k]] - t[a[k]])))
    if not times:
        return None
    counter = canonical_values(session, "lap_number")
    if counter is not None and not usable(counter):
        counter = None
    if counter is not None:
        _check_counter(session, times, counter)
    return Boundaries(times, model.SOURCE_LAP_DISTANCE_PCT, counter=counter)


def _check_counter(session: Session, wraps_s: list[float], counter: np.ndarray) -> None:
    """Log lap counter changes that no wrap explains. The wraps still decide the crossings."""
    changes = _counter_changes(session.elapsed_s, counter)
    if not changes:
        return
    wraps = np.asarray(wraps_s)
    unexplained = [c for c in changes if wraps.size == 0 or np.min(np.abs(wraps - c)) > 5.0]
    if unexplained:
        logger.info("%s: %d lap counter changes without a lap-distance wrap within 5 s, first at %.3f s",
                    session.file, len(unexplained), unexplained[0])


def _from_lap_counter(session: Session, breaks: np.ndarray) -> Boundaries | None:
    """Use the changes of a lap-number column, at the first sample with the new number.

    A change across a recording gap is dropped, because the crossing time is unknown. The
    counter numbers the laps. When a running lap time channel gives the time the lap started,
    that time replaces the change time.
    """
    counter = canonical_values(session, "lap_number")
    if not usable(counter):
        return None
    t = session.elapsed_s
    times = []
    for change in _counter_changes(t, counter):
        i = int(np.searchsorted(t, change))
        if i > 0 and breaks.size and breaks[i - 1]:
            continue
        times.append(change)
    if not times:
        return None
    return Boundaries(_refine_counter_times(session, times), model.SOURCE_LAP_NUMBER, counter=counter)


def _refine_counter_times(session: Session, changes: list[float]) -> list[float]:
    """Move each counter change to the lap start that a running lap time channel gives.

    A counter can be sampled slowly or updated late: the lap number of a MoTeC ADL log at 1 Hz
    changes seconds after its beacon. The lap start is the time minus the running lap time. A
    change without such a time nearby keeps its own time.
    """
    running = running_lap_time(session)
    if running is None:
        return changes
    return [_start_from_running_time(session.elapsed_s, running, c) for c in changes]


def _start_from_running_time(t: np.ndarray, running: np.ndarray, change: float) -> float:
    """Return the lap start near ``change`` from a running lap time channel, or ``change``.

    Each sample within ``5 x COUNTER_WINDOW_S`` of the change whose running time is below that
    window gives a start ``t - running``. The lap start is the median of the starts that fall
    before the change plus one second. Samples that still show the previous lap, or that were
    interpolated across the reset, give starts outside those bounds and are left out. Starts
    spread wider than ``RUNNING_TIME_SPREAD_S`` leave the change time as it is.
    """
    window = 5.0 * COUNTER_WINDOW_S
    near = (t >= change - window) & (t <= change + window)
    with np.errstate(invalid="ignore"):
        near &= running < window
    starts = t[near] - running[near]
    starts = starts[(starts >= change - window) & (starts <= change + 1.0)]
    if starts.size == 0:
        return change
    # A channel that counts the lap time gives the same start from every sample. A constant or
    # another quantity gives scattered starts, so it is not used.
    spread = float(np.percentile(starts, 75) - np.percentile(starts, 25))
    return float(np.median(starts)) if spread <= RUNNING_TIME_SPREAD_S else change


def _counter_changes(t: np.ndarray, counter: np.ndarray) -> list[float]:
    """Return the times at which a lap counter moves to a higher value that it keeps.

    The counter is split into runs of one value. A run shorter than ``FLICKER_S`` whose value
    comes back right after it is a flicker and is ignored, and so is any change to a value not
    above the highest value seen so far.
    """
    idx = np.nonzero(np.isfinite(counter))[0]
    if idx.size == 0:
        return []
    values = counter[idx]
    starts = np.concatenate(([0], np.nonzero(values[1:] != values[:-1])[0] + 1))
    run_values = values[starts]
    run_times = t[idx[starts]]
    run_ends = np.concatenate((run_times[1:], [t[idx[-1]]]))
    changes: list[float] = []
    highest = run_values[0]
    for k in range(1, run_values.size):
        value = run_values[k]
        if value <= highest:
            continue
        short = run_ends[k] - run_times[k] < FLICKER_S
        returns = k + 1 < run_values.size and run_values[k + 1] <= highest
        if short and returns:
            continue
        highest = value
        changes.append(float(run_times[k]))
    return changes


def _from_line(session: Session, breaks: np.ndarray, start_line: Line | None) -> Boundaries | None:
    line = start_line
    if line is None:
        stored = session.metadata.extra.get("start_line")
        if stored is None:
            return None
        try:
            line = _as_line(stored)
        except ValueError as exc:
            logger.warning("%s: start line in the file ignored: %s", session.file, exc)
            return None
    positions = fresh_positions(session)
    if positions is None:
        logger.warning("%s: start line given but the session has no GPS positions", session.file)
        return None
    times = line_crossings(session.elapsed_s, *positions, breaks, line)
    if not times:
        return None
    return Boundaries(times, model.SOURCE_START_LINE, line=line)


def _from_auto_line(session: Session, breaks: np.ndarray) -> Boundaries | None:
    positions = fresh_positions(session)
    if positions is None:
        return None
    line = find_start_line(session.elapsed_s, *positions, breaks)
    if line is None:
        return None
    # find_start_line puts the line's second end to the left of travel.
    times = line_crossings(session.elapsed_s, *positions, breaks, line, left_to_right=True)
    if not times:
        return None
    return Boundaries(times, model.SOURCE_AUTO_START_LINE, line=line)


def _with_export_range(session: Session, found: Boundaries) -> Boundaries:
    """Treat a MoTeC i2 export of one lap ("Range" "Lap N") as that whole lap.

    Such an export starts at the lap's first sample and ends at its last, so its only line
    crossings are the two ends of the recording. This applies only when no source found a
    crossing inside the recording.
    """
    match = _EXPORT_RANGE.match(str(session.metadata.extra.get("range", "")))
    if not match or session.sample_count < 2:
        return found
    first, last = float(session.elapsed_s[0]), float(session.elapsed_s[-1])
    inside = [c for c in found.times_s if first < c < last]
    if inside:
        return found
    return Boundaries([first, last], model.SOURCE_EXPORT_RANGE, first_number=int(match.group(1)))


def _as_line(value) -> Line:
    """Check and convert a start line given as two (lat, lon) pairs in degrees."""
    try:
        (lat1, lon1), (lat2, lon2) = value
        line = ((float(lat1), float(lon1)), (float(lat2), float(lon2)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid start line {value!r}: expected ((lat1, lon1), (lat2, lon2)) in degrees") from exc
    for lat, lon in line:
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(f"invalid start line {value!r}: coordinates out of range")
    if line[0] == line[1]:
        raise ValueError(f"invalid start line {value!r}: both ends are the same point")
    return line
