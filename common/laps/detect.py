"""Lap detection: boundaries, classification, per-lap statistics and producer lap times."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np

from ..model import Session
from . import model
from .boundaries import Boundaries, find_boundaries
from .distance import cumulative_distance
from .geometry import Line
from .model import Lap
from .signals import canonical_values, pit_status, sample_period_s, step_breaks, usable

logger = logging.getLogger(__name__)

# A flying lap in which the car stands still (below STOP_SPEED_KMH) for STOP_MIN_S or longer is
# invalid: it stopped on track, or in the pits of a log without a pit-road channel.
STOP_SPEED_KMH = 5.0
STOP_MIN_S = 10.0
# A flying lap shorter than this share of the median flying lap time, or longer than the other
# share of the median flying lap distance, is invalid.
SHORT_LAP_SHARE = 0.5
LONG_LAP_SHARE = 1.5
# Producer laps with a start time are matched to the detected lap starting within this many
# seconds (or two sample periods, when that is longer).
PRODUCER_MATCH_S = 1.0
SPLIT_BEACONS_KEY = "split_beacons_s"


@dataclass
class _Span:
    """A stretch of the recording between two boundaries.

    ``first`` and ``stop`` are the index range of its samples (``stop`` excluded); ``gap`` is
    True when a recording gap lies inside it.
    """

    start_s: float
    end_s: float
    starts_at_line: bool
    ends_at_line: bool
    first: int
    stop: int
    gap: bool


class _Signals:
    """The channels and derived arrays that classification and statistics read."""

    def __init__(self, session: Session) -> None:
        self.t = session.elapsed_s
        self.breaks = step_breaks(session)
        self.pit = pit_status(session)
        self.distance, self.distance_source = cumulative_distance(session)
        speed = canonical_values(session, "speed")
        if usable(speed):
            self.speed = speed
        elif self.distance is not None:
            self.speed = _speed_from_distance(self.t, self.distance, self.breaks)
        else:
            self.speed = None


def _speed_from_distance(t: np.ndarray, distance_m: np.ndarray, breaks: np.ndarray) -> np.ndarray | None:
    """Return speed in km/h at each sample: the mean of the steps on either side, from distance
    over time. Steps across a recording gap give no speed."""
    if t.size < 2:
        return None
    dt = np.diff(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where((dt > 0) & ~breaks, np.diff(distance_m) / dt * 3.6, np.nan)
    left = np.concatenate(([np.nan], step))
    right = np.concatenate((step, [np.nan]))
    both = np.vstack((left, right))
    count = np.isfinite(both).sum(axis=0)
    total = np.nansum(both, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def detect_laps(session: Session, start_line: Line | None = None) -> list[Lap]:
    """Split ``session`` into laps and classify each one.

    ``start_line`` is ``((lat1, lon1), (lat2, lon2))`` in degrees; it replaces a line stored in
    the file but not beacons, a lap-distance wrap or a lap-number column (see
    ``common.laps.boundaries``). Raises ``ValueError`` for an invalid ``start_line``.
    """
    if session.sample_count == 0:
        return []
    bounds = find_boundaries(session, start_line)
    signals = _Signals(session)
    spans = _spans(signals, bounds.times_s)
    numbers = _numbers(spans, bounds)

    laps = []
    for number, span in zip(numbers, spans):
        kind, valid, reason = _classify(span, signals)
        lap = Lap(
            number=number,
            start_s=span.start_s,
            end_s=span.end_s,
            lap_time_s=round(span.end_s - span.start_s, 3),
            distance_m=_distance(span, signals),
            kind=kind,
            valid=valid,
            reason=reason,
            max_speed_kmh=None,
            mean_speed_kmh=None,
            source=bounds.source,
        )
        lap.max_speed_kmh, lap.mean_speed_kmh = _speeds(span, signals)
        laps.append(lap)

    _check_lengths(laps)
    for lap, span in zip(laps, spans):
        if lap.valid:
            _check_stop(lap, span, signals)
    _attach_split_beacons(laps, session)
    _attach_producer_laps(laps, session)
    logger.debug("%s: %d laps from %s, distance from %s", session.file, len(laps), bounds.source,
                 signals.distance_source)
    return laps


def lap_of_samples(elapsed_s: np.ndarray, laps: list[Lap]) -> np.ndarray:
    """Return the lap number of each sample, or -1 for a sample outside every lap.

    A lap contains the samples from its start up to but not including its end. The last lap also
    contains the sample at its end.
    """
    out = np.full(elapsed_s.shape, -1, dtype=np.int64)
    for k, lap in enumerate(laps):
        if k == len(laps) - 1:
            inside = (elapsed_s >= lap.start_s) & (elapsed_s <= lap.end_s)
        else:
            inside = (elapsed_s >= lap.start_s) & (elapsed_s < lap.end_s)
        out[inside] = lap.number
    return out


def _spans(signals: _Signals, crossings_s: list[float]) -> list[_Span]:
    t = signals.t
    first, last = float(t[0]), float(t[-1])
    crossings = [c for c in crossings_s if first <= c <= last]
    edges: list[tuple[float, float, bool, bool]] = []
    if not crossings:
        edges.append((first, last, False, False))
    else:
        if crossings[0] > first:
            edges.append((first, crossings[0], False, True))
        edges.extend((a, b, True, True) for a, b in itertools.pairwise(crossings))
        if crossings[-1] < last:
            edges.append((crossings[-1], last, True, False))

    spans = []
    for k, (start, end, at_start, at_end) in enumerate(edges):
        i0 = int(np.searchsorted(t, start, side="left"))
        if k == len(edges) - 1:
            i1 = int(np.searchsorted(t, end, side="right"))
        else:
            i1 = int(np.searchsorted(t, end, side="left"))
        step_lo = max(0, int(np.searchsorted(t, start, side="right")) - 1)
        step_hi = int(np.searchsorted(t, end, side="left"))
        gap = bool(signals.breaks[step_lo:step_hi].any())
        spans.append(_Span(start, end, at_start, at_end, i0, i1, gap))
    return spans


def _numbers(spans: list[_Span], bounds: Boundaries) -> list[int]:
    """Number the laps: as the source counts them when it can, otherwise 0 for a lap before
    the first crossing and 1, 2, ... from the first crossing on."""
    if bounds.first_number is not None:
        return [bounds.first_number + k for k in range(len(spans))]
    if bounds.counter is not None:
        numbers = [_counter_at_end(span, bounds.counter) for span in spans]
        if all(n is not None for n in numbers) and all(b > a for a, b in itertools.pairwise(numbers)):
            return [int(n) for n in numbers]
        logger.info("lap counter does not number the detected laps in order; numbering them 0, 1, ...")
    first = 1 if spans and spans[0].starts_at_line else 0
    return list(range(first, first + len(spans)))


def _counter_at_end(span: _Span, counter: np.ndarray) -> int | None:
    """Return the counter's last value inside the span: a counter that lags the line still
    shows this lap's number just before the next crossing."""
    values = counter[span.first:span.stop]
    values = values[np.isfinite(values)]
    return int(values[-1]) if values.size else None


def _classify(span: _Span, signals: _Signals) -> tuple[str, bool, str | None]:
    """Return the kind, validity and reason of one span."""
    pit = signals.pit
    has_samples = span.stop > span.first
    on_pit_start = pit is not None and has_samples and bool(pit[span.first])
    on_pit_end = pit is not None and has_samples and bool(pit[span.stop - 1])
    any_pit = pit is not None and has_samples and bool(pit[span.first:span.stop].any())

    if not span.starts_at_line and not span.ends_at_line:
        if on_pit_start:
            return model.PARTIAL, False, "no line crossing in the recording; starts on pit road"
        return model.PARTIAL, False, "no line crossing in the recording"
    if span.gap:
        return model.PARTIAL, False, "spans a recording gap"
    if not span.starts_at_line:
        if pit is None:
            return model.OUT, False, "starts before the first line crossing"
        if on_pit_start:
            return model.OUT, False, "starts on pit road, before the first line crossing"
        return model.PARTIAL, False, "recording starts mid-lap"
    if not span.ends_at_line:
        if pit is None:
            return model.IN, False, "ends after the last line crossing"
        if on_pit_end:
            return model.IN, False, "ends on pit road, after the last line crossing"
        return model.PARTIAL, False, "recording ends mid-lap"
    if on_pit_start:
        return model.OUT, False, "starts on pit road"
    if any_pit:
        return model.IN, False, "ends on pit road" if on_pit_end else "enters pit road"
    return model.FLYING, True, None


def _distance(span: _Span, signals: _Signals) -> float | None:
    if signals.distance is None:
        return None
    at = np.interp([span.start_s, span.end_s], signals.t, signals.distance)
    return float(at[1] - at[0])


def _speeds(span: _Span, signals: _Signals) -> tuple[float | None, float | None]:
    """Return the lap's maximum and time-weighted mean speed in km/h.

    Both are None when the session has neither a speed channel nor a distance to derive speed
    from. Steps across a recording gap do not count towards the mean.
    """
    if signals.speed is None:
        return None, None
    t = signals.t
    lo, hi = span.first, span.stop
    v = signals.speed[lo:hi]
    finite = np.isfinite(v)
    if not finite.any():
        return None, None
    top = float(np.max(v[finite]))
    if hi - lo < 2:
        return top, float(v[finite][0])
    dt = np.diff(t[lo:hi])
    ok = np.isfinite(v[:-1]) & np.isfinite(v[1:]) & ~signals.breaks[lo:hi - 1]
    if not ok.any() or dt[ok].sum() <= 0:
        return top, float(np.mean(v[finite]))
    area = float(np.sum(0.5 * (v[:-1][ok] + v[1:][ok]) * dt[ok]))
    return top, area / float(dt[ok].sum())


def _check_stop(lap: Lap, span: _Span, signals: _Signals) -> None:
    """Mark a flying lap invalid when the car stands still in it for ``STOP_MIN_S`` or longer."""
    if signals.speed is None or span.stop - span.first < 2:
        return
    t = signals.t[span.first:span.stop]
    with np.errstate(invalid="ignore"):
        slow = signals.speed[span.first:span.stop] < STOP_SPEED_KMH
    if not slow.any():
        return
    edges = np.diff(np.concatenate(([0], slow.astype(np.int8), [0])))
    run_starts = np.nonzero(edges == 1)[0]
    run_ends = np.nonzero(edges == -1)[0] - 1
    longest = float(np.max(t[run_ends] - t[run_starts]))
    if longest >= STOP_MIN_S:
        lap.valid = False
        lap.reason = f"stands still for {longest:.0f} s"


def _check_lengths(laps: list[Lap]) -> None:
    """Mark flying laps invalid whose time or distance is far from the median flying lap.

    A lap shorter than ``SHORT_LAP_SHARE`` of the median time comes from a false crossing. A lap
    longer than ``LONG_LAP_SHARE`` of the median distance spans a missed crossing (a pit lane
    that bypasses the line, a GPS dropout at the line). Needs three flying laps to compare.
    """
    flying = [lap for lap in laps if lap.kind == model.FLYING and lap.valid]
    if len(flying) < 3:
        return
    time_limit = SHORT_LAP_SHARE * float(np.median([lap.lap_time_s for lap in flying]))
    distances = [lap.distance_m for lap in flying if lap.distance_m is not None]
    distance_limit = LONG_LAP_SHARE * float(np.median(distances)) if len(distances) >= 3 else None
    for lap in flying:
        if lap.lap_time_s < time_limit:
            lap.valid = False
            lap.reason = "shorter than half the median lap time"
        elif distance_limit is not None and lap.distance_m is not None and lap.distance_m > distance_limit:
            lap.valid = False
            lap.reason = (f"{lap.distance_m / (distance_limit / LONG_LAP_SHARE):.1f} times the median lap "
                          "distance: a line crossing is missing")


def _attach_split_beacons(laps: list[Lap], session: Session) -> None:
    """Fill sector times from split markers inside laps that start and end at the line.

    ``metadata.extra["split_beacons_s"]`` lists split marker times in seconds on the file's
    time axis, for formats that tell split beacons apart from lap beacons.
    """
    splits = session.metadata.extra.get(SPLIT_BEACONS_KEY)
    if not splits:
        return
    times = sorted(float(s) - session.time_offset_s for s in splits)
    for lap in laps:
        if lap.kind != model.FLYING or lap.sector_times_s:
            continue
        inside = [s for s in times if lap.start_s < s < lap.end_s]
        if not inside:
            continue
        edges = [lap.start_s, *inside, lap.end_s]
        lap.sector_times_s = [round(b - a, 3) for a, b in itertools.pairwise(edges)]


def _attach_producer_laps(laps: list[Lap], session: Session) -> None:
    """Store each producer lap time (and its sector times) on the detected lap it describes.

    A producer lap with a start time (seconds on the file's time axis) matches the lap whose
    start and duration both lie within the tolerance of its own, the larger of
    ``PRODUCER_MATCH_S`` and two sample periods. One without a start time matches the lap with
    its number when the durations agree within the same tolerance.
    """
    if not session.producer_laps or not laps:
        return
    tolerance = max(PRODUCER_MATCH_S, 2.0 * sample_period_s(session.elapsed_s))
    for producer in session.producer_laps:
        if producer.start_s is not None:
            start = producer.start_s - session.time_offset_s
            candidates = [lap for lap in laps if abs(lap.start_s - start) <= tolerance]
        else:
            candidates = [lap for lap in laps if lap.number == producer.number]
        candidates = [lap for lap in candidates
                      if abs((lap.end_s - lap.start_s) - producer.lap_time_s) <= tolerance]
        if not candidates:
            logger.info("%s: producer lap %d (%.3f s) matches no detected lap", session.file,
                        producer.number, producer.lap_time_s)
            continue
        target = min(candidates, key=lambda lap: abs((lap.end_s - lap.start_s) - producer.lap_time_s))
        target.producer_lap_time_s = producer.lap_time_s
        if producer.sector_times_s and not target.sector_times_s:
            target.sector_times_s = list(producer.sector_times_s)
