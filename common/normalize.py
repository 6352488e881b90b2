"""Turn a ``ParsedLog`` into a ``Session``: one time base, canonical names and units, range checks.

Rules, in the order they run:

1. Rows whose time is missing, or not later than the row before, are dropped and counted.
2. The session's time base is the file's shared time axis when every channel uses it. When some
   channels have timestamps of their own, it is the sorted union of the file's row times and every
   channel's timestamps.
3. A channel with its own timestamps is resampled onto the time base. Continuous channels are
   interpolated linearly on the real timestamps, never across a gap longer than
   ``max(GAP_MIN_S, GAP_FACTOR x the channel's median step)`` and never outside the channel's own
   first and last sample. Discrete channels (gear, lap, flags) hold their last known value.
4. Known channels are converted to canonical units with the explicit table in ``common.channels``.
5. Values outside a canonical channel's physical range by at most its tolerance are clamped and
   counted; values further out are stored as missing and counted.
6. The time axis is shifted so that the session starts at 0 s; the shift is kept.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from . import channels as table
from .errors import ParseError
from .model import CONTINUOUS, DISCRETE, Channel, ParsedLog, Session, SourceChannel

logger = logging.getLogger(__name__)

GAP_MIN_S = 1.0
GAP_FACTOR = 5.0
# Canonical channels whose values are directions in degrees, wrapped into [0, 360).
WRAPPED_DEGREES = ("heading",)


def normalize(parsed: ParsedLog) -> Session:
    """Normalize ``parsed``; raise ``ParseError`` when no usable sample remains."""
    rows_dropped = dict(parsed.rows_dropped)
    warnings = list(parsed.warnings)

    time = np.asarray(parsed.time, dtype=np.float64)
    shared = [ch for ch in parsed.channels if ch.times is None]
    own = [ch for ch in parsed.channels if ch.times is not None]

    keep = _increasing_mask(time, rows_dropped) if time.size else np.zeros(0, dtype=bool)
    if keep.all():
        base = time
    else:
        base = time[keep]
        shared = [_take(ch, keep) for ch in shared]

    if own:
        # The file's row times belong to the time base even when every channel has its own
        # timestamps, because rows from interleaved sources mark real instants of the session.
        stamps = [base]
        own = [_clean_own(ch) for ch in own]
        stamps += [ch.times for ch in own if ch.times is not None and ch.times.size]
        union = np.unique(np.concatenate(stamps)) if stamps else np.zeros(0)
        if shared and union.size != base.size:
            shared = [_resample(ch, base, union, _kind_of(ch)) for ch in shared]
        base = union

    if base.size == 0:
        raise ParseError(parsed.file, "no samples with a valid time", expected="at least one row of data",
                         found="none")

    offset = float(base[0])
    elapsed = base - offset if offset != 0.0 else base

    # Channels on the file's own time axis share one rate: the rate the file declares, when it
    # declares one. A measured rate drifts with rounded timestamps (51.2 Hz written to the
    # millisecond has steps of 19 and 20 ms).
    declared = parsed.metadata.sample_rate_hz
    base_rate = declared if declared and declared > 0 else _rate(base)
    out: list[Channel] = []
    report: dict[str, dict[str, Any]] = {}
    taken_columns: set[str] = set()
    extra_index = 0
    for ch in shared + own:
        kind = _kind_of(ch)
        if ch.times is not None:
            values = _resample_values(ch.values, ch.times, base, kind)
            provenance = "interpolated" if kind == CONTINUOUS else "held"
        else:
            values = ch.values
            provenance = "measured"

        canonical = table.canonical_for(ch.name)
        unit = ch.unit
        stats = {"canonical": None, "clamped": 0, "out_of_range": 0, "missing": 0}
        column = None
        if canonical is not None:
            conv = table.conversion(ch.unit, canonical)
            if conv is None:
                warnings.append(
                    f"channel {ch.name!r}: unit {ch.unit!r} has no conversion to {canonical.unit}; "
                    f"kept under its source name only"
                )
                canonical = None
            else:
                if not ch.unit.strip():
                    warnings.append(
                        f"channel {ch.name!r}: the file states no unit; read as {canonical.default_unit}, "
                        f"the usual unit of {canonical.name}"
                    )
                values = _convert(values, conv)
                if canonical.name in WRAPPED_DEGREES:
                    # Headings of -180..180 and 0..360 name the same directions.
                    values = np.mod(values, 360.0)
                values, clamped, nulled = _check_range(values, canonical)
                stats.update(canonical=canonical.name, clamped=clamped, out_of_range=nulled)
                unit = canonical.unit
                if ch.kind is None:
                    kind = canonical.kind
                if canonical.name not in taken_columns:
                    column = canonical.name
                    taken_columns.add(column)
        stats["missing"] = int(np.count_nonzero(np.isnan(values)))

        channel = Channel(
            source_name=ch.name,
            source_unit=ch.unit,
            canonical=canonical.name if canonical else None,
            unit=unit,
            kind=kind,
            rate_hz=ch.rate_hz or _channel_rate(ch, base_rate),
            provenance=provenance,
            values=values,
            column=column,
            group=ch.group,
        )
        if column is None:
            channel.extra_index = extra_index
            extra_index += 1
        out.append(channel)
        report[_report_key(ch, report)] = stats

    quality = {
        "rows_read": int(parsed.rows_read),
        "rows_dropped": rows_dropped,
        "samples": int(base.size),
        "values_clamped": int(sum(s["clamped"] for s in report.values())),
        "values_out_of_range": int(sum(s["out_of_range"] for s in report.values())),
        "channels": report,
    }
    metadata = parsed.metadata
    if metadata.sample_rate_hz is None:
        metadata.sample_rate_hz = base_rate
    return Session(
        file=parsed.file,
        format=parsed.format,
        elapsed_s=elapsed,
        channels=out,
        metadata=metadata,
        beacons_s=[b - offset for b in parsed.beacons_s],
        producer_laps=parsed.producer_laps,
        quality=quality,
        warnings=warnings,
        time_offset_s=offset,
    )


def _report_key(ch: SourceChannel, report: dict[str, Any]) -> str:
    key = ch.name if not ch.group else f"{ch.name} ({ch.group})"
    n = 2
    unique = key
    while unique in report:
        unique = f"{key} #{n}"
        n += 1
    return unique


def _kind_of(ch: SourceChannel) -> str:
    if ch.kind:
        return ch.kind
    canonical = table.canonical_for(ch.name)
    return canonical.kind if canonical else CONTINUOUS


def _increasing_mask(time: np.ndarray, rows_dropped: dict[str, int]) -> np.ndarray:
    """Keep rows with a time later than every earlier kept row."""
    finite = np.isfinite(time)
    if not finite.all():
        rows_dropped["missing time"] = rows_dropped.get("missing time", 0) + int((~finite).sum())
    filled = np.where(finite, time, -np.inf)
    running = np.maximum.accumulate(filled)
    previous = np.concatenate(([-np.inf], running[:-1]))
    keep = finite & (filled > previous)
    not_increasing = int(np.count_nonzero(finite & ~keep))
    if not_increasing:
        rows_dropped["time not increasing"] = rows_dropped.get("time not increasing", 0) + not_increasing
    return keep


def _take(ch: SourceChannel, keep: np.ndarray) -> SourceChannel:
    return SourceChannel(ch.name, ch.unit, ch.values[keep], None, ch.rate_hz, ch.kind, ch.group)


def _clean_own(ch: SourceChannel) -> SourceChannel:
    """Drop a channel's own samples that have no value or no increasing time."""
    times = np.asarray(ch.times, dtype=np.float64)
    values = np.asarray(ch.values, dtype=np.float64)
    keep = np.isfinite(times) & ~np.isnan(values)
    times, values = times[keep], values[keep]
    if times.size > 1:
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        distinct = np.concatenate(([True], np.diff(times) > 0))
        times, values = times[distinct], values[distinct]
    return SourceChannel(ch.name, ch.unit, values, times, ch.rate_hz, ch.kind, ch.group)


def _resample(ch: SourceChannel, times: np.ndarray, base: np.ndarray, kind: str) -> SourceChannel:
    values = _resample_values(ch.values, times, base, kind)
    return SourceChannel(ch.name, ch.unit, values, None, ch.rate_hz, ch.kind, ch.group)


def _resample_values(values: np.ndarray, times: np.ndarray, base: np.ndarray, kind: str) -> np.ndarray:
    """Put ``values`` sampled at ``times`` onto ``base`` by the continuous or discrete rule."""
    valid = ~np.isnan(values)
    if not valid.all():
        values, times = values[valid], times[valid]
    out = np.full(base.shape, np.nan)
    if times.size == 0:
        return out
    if kind == DISCRETE:
        idx = np.searchsorted(times, base, side="right") - 1
        ok = idx >= 0
        out[ok] = values[idx[ok]]
        return out

    inside = (base >= times[0]) & (base <= times[-1])
    out[inside] = np.interp(base[inside], times, values)
    if times.size > 1:
        steps = np.diff(times)
        limit = max(GAP_MIN_S, GAP_FACTOR * float(np.median(steps)))
        gaps = np.nonzero(steps > limit)[0]
        for g in gaps:
            between = (base > times[g]) & (base < times[g + 1])
            out[between] = np.nan
    return out


def _convert(values: np.ndarray, conv: tuple[float, float]) -> np.ndarray:
    scale, offset = conv
    if scale == 1.0 and offset == 0.0:
        return values
    out = values * scale
    if offset:
        out += offset
    return out


def _check_range(values: np.ndarray, canonical: table.Canonical) -> tuple[np.ndarray, int, int]:
    """Clamp overshoot within tolerance and null values further out; return the counts."""
    lo, hi, tol = canonical.minimum, canonical.maximum, canonical.tolerance
    with np.errstate(invalid="ignore"):
        below = values < lo
        above = values > hi
    if not (below.any() or above.any()):
        return values, 0, 0
    values = np.array(values, dtype=np.float64, copy=True)
    with np.errstate(invalid="ignore"):
        far = (values < lo - tol) | (values > hi + tol)
    near_low = below & ~far
    near_high = above & ~far
    values[near_low] = lo
    values[near_high] = hi
    values[far] = np.nan
    return values, int(near_low.sum() + near_high.sum()), int(far.sum())


def _channel_rate(ch: SourceChannel, base_rate: float | None) -> float | None:
    """Return the rate of a channel: measured on its own timestamps, or the time base's rate."""
    if ch.times is not None:
        return _rate(ch.times)
    return base_rate


def _rate(times: np.ndarray | None) -> float | None:
    """Return the sampling rate in Hz: the mean of the steps within 50% of the median step.

    A mean over many steps recovers rates that rounded timestamps blur (a 51.2 Hz log written to the
    millisecond has steps of 19 and 20 ms, so its median step gives 50 Hz). Steps far from the
    median are recording gaps or dropped samples, not the rate, and are left out.
    """
    if times is None or times.size < 2:
        return None
    steps = np.diff(times)
    median = float(np.median(steps))
    if median <= 0:
        return None
    regular = steps[(steps >= 0.5 * median) & (steps <= 1.5 * median)]
    total = float(regular.sum())
    return round(regular.size / total, 3) if total > 0 else None
