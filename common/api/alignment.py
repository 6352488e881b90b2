"""Distance along a lap, and two laps aligned on it, for the lap comparison endpoint.

Pure numpy functions: times in seconds, distances in metres, speeds in km/h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A drop of the lap distance larger than this (metres) is the start line: the counter wrapped.
WRAP_DROP_M = 50.0


@dataclass
class LapTrace:
    # Seconds since the lap started, one per sample.
    time_s: np.ndarray
    # Metres since the lap started, non-decreasing.
    distance_m: np.ndarray
    # km/h, or None when the session has no speed channel.
    speed_kmh: np.ndarray | None
    # Source of the distance: "lap_distance", "distance" or "speed".
    source: str


def _fill(time_s: np.ndarray, values: np.ndarray) -> np.ndarray | None:
    """Interpolate missing values over time; None when fewer than two values are present."""
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return None
    return np.interp(time_s, time_s[ok], values[ok].astype(np.float64))


def from_counter(values: np.ndarray) -> np.ndarray:
    """Metres travelled from a distance counter, such as a lap distance or a session odometer.

    A drop larger than ``WRAP_DROP_M`` is the counter resetting at the start line. That step
    counts as the median forward step, because the true one is unknown. Smaller backward steps
    (noise) count as 0.
    """
    steps = np.diff(values)
    forward = steps[steps > 0]
    typical = float(np.median(forward)) if len(forward) else 0.0
    steps[steps < -WRAP_DROP_M] = typical
    steps[steps < 0] = 0.0
    return np.r_[0.0, np.cumsum(steps)]


def from_speed(time_s: np.ndarray, speed_kmh: np.ndarray) -> np.ndarray:
    """Metres travelled, by trapezoidal integration of speed over time."""
    mps = speed_kmh / 3.6
    steps = np.diff(time_s) * (mps[1:] + mps[:-1]) / 2.0
    return np.r_[0.0, np.cumsum(np.maximum(steps, 0.0))]


def trace(elapsed_s: np.ndarray, lap_distance: np.ndarray | None, distance: np.ndarray | None,
          speed_kmh: np.ndarray | None) -> LapTrace | None:
    """Build a lap's distance from lap_distance, else distance, else integrated speed.

    Returns None when the lap has fewer than two samples or no usable channel.
    """
    if len(elapsed_s) < 2:
        return None
    time_s = elapsed_s - elapsed_s[0]
    speed = _fill(elapsed_s, speed_kmh) if speed_kmh is not None else None
    for source, counter in (("lap_distance", lap_distance), ("distance", distance)):
        if counter is None:
            continue
        filled = _fill(elapsed_s, counter)
        if filled is not None and np.ptp(filled) > 0:
            return LapTrace(time_s, from_counter(filled), speed, source)
    if speed is not None:
        return LapTrace(time_s, from_speed(elapsed_s, speed), speed, "speed")
    return None


def at_distance(lap: LapTrace, grid_m: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the lap's time (s) and speed (km/h) where it first reached each distance of the grid."""
    first = np.r_[True, np.diff(lap.distance_m) > 0]
    d = lap.distance_m[first]
    time_s = np.interp(grid_m, d, lap.time_s[first])
    speed = np.interp(grid_m, d, lap.speed_kmh[first]) if lap.speed_kmh is not None else None
    return time_s, speed


def align(a: LapTrace, b: LapTrace, points: int) -> dict[str, np.ndarray | float | None]:
    """Sample both laps on a common distance grid over the shorter lap's length.

    ``delta_s`` is b's time minus a's: positive where b is behind a.
    """
    length = float(min(a.distance_m[-1], b.distance_m[-1]))
    grid = np.linspace(0.0, length, points)
    time_a, speed_a = at_distance(a, grid)
    time_b, speed_b = at_distance(b, grid)
    return {"length_m": length, "distance_m": grid, "time_a_s": time_a, "time_b_s": time_b,
            "delta_s": time_b - time_a, "speed_a_kmh": speed_a, "speed_b_kmh": speed_b}
