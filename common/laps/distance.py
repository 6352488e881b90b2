"""Distance along a session: from the source's own distance channels, from speed or from GPS."""

from __future__ import annotations

import numpy as np

from ..model import Session
from .signals import canonical_values, step_breaks, usable

# Mean Earth radius (IUGG), in metres.
EARTH_RADIUS_M = 6_371_008.8
# A drop of a distance channel by more than this many metres is a reset (a new lap), not noise.
RESET_DROP_M = 50.0


def haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Return great-circle distances in metres between points given in degrees."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def integrate_distance(session: Session) -> np.ndarray:
    """Return the distance travelled since the session start, in metres, on the time base.

    Each time step adds the trapezoid of the speed channel (km/h, converted to m/s) over the real
    step length. A step without speed at both ends adds the great-circle distance between its GPS
    positions instead. A step that is a recording gap or crosses into another GPS track segment
    (see ``signals.step_breaks``) adds nothing. The result is all NaN when the session has neither
    speed nor positions.
    """
    elapsed = session.elapsed_s
    n = elapsed.size
    if n == 0:
        return np.zeros(0)
    steps_m = np.zeros(n - 1)
    covered = np.zeros(n - 1, dtype=bool)
    dt = np.diff(elapsed)

    speed = canonical_values(session, "speed")
    if usable(speed):
        v = speed / 3.6
        ok = np.isfinite(v[:-1]) & np.isfinite(v[1:])
        steps_m[ok] = 0.5 * (v[:-1][ok] + v[1:][ok]) * dt[ok]
        covered |= ok

    lat = canonical_values(session, "latitude")
    lon = canonical_values(session, "longitude")
    if usable(lat) and usable(lon):
        ok = (~covered & np.isfinite(lat[:-1]) & np.isfinite(lat[1:])
              & np.isfinite(lon[:-1]) & np.isfinite(lon[1:]))
        if ok.any():
            steps_m[ok] = haversine_m(lat[:-1][ok], lon[:-1][ok], lat[1:][ok], lon[1:][ok])
            covered |= ok

    if n > 1 and not covered.any():
        return np.full(n, np.nan)
    steps_m[step_breaks(session)] = 0.0
    return np.concatenate(([0.0], np.cumsum(steps_m)))


def cumulative_distance(session: Session) -> tuple[np.ndarray | None, str]:
    """Return the distance travelled since the session start (metres) and where it comes from.

    Sources, best first: the source's lap distance (``lap_distance``, reset at each crossing),
    the lap-distance fraction times the track length from the metadata, the source's session
    distance (``distance``), then ``integrate_distance``. Returns ``(None, "none")`` when the
    session has none of them.
    """
    track_m = session.metadata.track_length_m
    breaks = step_breaks(session)

    lap_distance = canonical_values(session, "lap_distance")
    if usable(lap_distance):
        return _unwrap_resets(lap_distance, breaks, track_m), "lap_distance"

    fraction = canonical_values(session, "lap_distance_pct")
    if track_m and usable(fraction):
        return _unwrap_resets(fraction * track_m, breaks, track_m), "lap_distance_pct"

    odometer = canonical_values(session, "distance")
    if usable(odometer):
        return _unwrap_resets(odometer, breaks, None), "distance"

    integrated = integrate_distance(session)
    if integrated.size and np.isfinite(integrated).all():
        return integrated, "integrated"
    return None, "none"


def _unwrap_resets(values: np.ndarray, breaks: np.ndarray, lap_length_m: float | None) -> np.ndarray:
    """Turn a distance channel that may reset to 0 into a cumulative distance from 0.

    A drop larger than ``RESET_DROP_M`` is a reset. When the lap length is known, the step then
    adds the rest of the lap (``lap_length_m`` minus the value before) plus the value after.
    Otherwise it adds the mean of the steps on either side. Smaller drops are noise and add
    nothing. Steps with a missing end or across a recording gap add nothing.
    """
    n = values.size
    if n == 0:
        return np.zeros(0)
    before, after = values[:-1], values[1:]
    ok = np.isfinite(before) & np.isfinite(after) & ~breaks
    steps = np.zeros(n - 1)
    with np.errstate(invalid="ignore"):
        diff = after - before
        reset = ok & (diff < -RESET_DROP_M)
        forward = ok & (diff > 0)
    steps[forward] = diff[forward]
    resets = np.nonzero(reset)[0]
    if lap_length_m:
        steps[resets] = np.maximum(lap_length_m - before[resets], 0.0) + np.maximum(after[resets], 0.0)
        return np.concatenate(([0.0], np.cumsum(steps)))
    for k in resets:
        around = [steps[j] for j in (k - 1, k + 1) if 0 <= j < n - 1 and forward[j]]
        steps[k] = float(np.mean(around)) if around else max(float(after[k]), 0.0)
    return np.concatenate(([0.0], np.cumsum(steps)))
