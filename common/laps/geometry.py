"""Start/finish lines on GPS tracks: crossing times, and finding a line from the path itself.

A line is ``((lat1, lon1), (lat2, lon2))`` in degrees (WGS 84). Positions are projected onto a
local plane, equirectangular around a reference point. Within a few kilometres of that point and
below 60 degrees of latitude, its scale error stays under 1 mm per metre.
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np

from ..normalize import GAP_FACTOR, GAP_MIN_S
from .distance import EARTH_RADIUS_M

logger = logging.getLogger(__name__)

Line = tuple[tuple[float, float], tuple[float, float]]

# Forward crossings closer together than this (in seconds) are one crossing: GPS jitter of a car
# standing on the line. The last one of such a run is kept, because the lap starts when the car
# leaves. Laps shorter than this cannot be timed from a line.
CROSSING_MERGE_S = 10.0
# Path resampling step and search radius of the automatic line search, in metres.
RESAMPLE_STEP_M = 5.0
NEIGHBOUR_RADIUS_M = 12.0
# Resampled points further apart than this along the path belong to different passes.
PASS_SEPARATION_M = 100.0
# Two passes go the same way when their headings differ by less than this, in degrees.
HEADING_TOLERANCE_DEG = 45.0
# The automatic line needs this many passes (two complete laps) at one place.
MIN_PASSES = 3
MAX_RESAMPLED_POINTS = 12_000
MAX_CANDIDATES = 2_000
CANDIDATE_BLOCK = 256


class LocalPlane:
    """Equirectangular projection to metres east (x) and north (y) of a reference point."""

    def __init__(self, lat0_deg: float, lon0_deg: float) -> None:
        self.lat0 = lat0_deg
        self.lon0 = lon0_deg
        self.kx = math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(lat0_deg))
        self.ky = math.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / self.ky, self.lon0 + x / self.kx


def line_crossings(elapsed_s: np.ndarray, lat: np.ndarray, lon: np.ndarray, breaks: np.ndarray,
                   line: Line, left_to_right: bool | None = None) -> list[float]:
    """Return the times (s) at which the path crosses ``line`` in its main direction.

    The path runs through the samples that have a position; each crossing time is interpolated
    linearly between the two positions around it. A step between positions is skipped when it
    contains a step marked in ``breaks`` or lasts longer than ``GAP_FACTOR`` times the median
    step between different positions (at least ``GAP_MIN_S``).

    With ``left_to_right`` True, the main direction is from left to right as seen from the
    line's first end looking towards its second, and False means the opposite. With None, the
    main direction is the one the path crosses the line in most often. Crossings the other way
    (a car reversing, another part of the track) are ignored. Forward crossings less than
    ``CROSSING_MERGE_S`` apart count once, at the last of them.
    """
    idx = np.nonzero(np.isfinite(lat) & np.isfinite(lon))[0]
    if idx.size < 2:
        return []
    t = elapsed_s[idx]
    (lat1, lon1), (lat2, lon2) = line
    plane = LocalPlane((lat1 + lat2) / 2.0, (lon1 + lon2) / 2.0)
    x, y = plane.to_xy(lat[idx], lon[idx])
    ax, ay = plane.to_xy(np.array(lat1), np.array(lon1))
    bx, by = plane.to_xy(np.array(lat2), np.array(lon2))
    sx, sy = float(bx - ax), float(by - ay)

    px, py = x[:-1], y[:-1]
    rx, ry = x[1:] - px, y[1:] - py
    dt = np.diff(t)
    breaks_before = np.concatenate(([0], np.cumsum(breaks)))
    broken = breaks_before[idx[1:]] > breaks_before[idx[:-1]]
    # The typical step is taken where the position changes: a logger that repeats a fix while
    # the car stands still writes many short steps that say nothing about its GPS rate.
    moving = (rx != 0) | (ry != 0)
    typical = float(np.median(dt[moving])) if moving.any() else float(np.median(dt))
    broken |= dt > max(GAP_MIN_S, GAP_FACTOR * typical)

    denom = rx * sy - ry * sx
    ok = (denom != 0) & ~broken
    with np.errstate(divide="ignore", invalid="ignore"):
        wx, wy = ax - px, ay - py
        along = (wx * sy - wy * sx) / denom
        across = (wx * ry - wy * rx) / denom
        hit = ok & (along >= 0) & (along < 1) & (across >= 0) & (across <= 1)
    k = np.nonzero(hit)[0]
    if k.size == 0:
        return []
    sign = np.sign(denom[k])
    if left_to_right is None:
        forward = 1.0 if np.count_nonzero(sign > 0) >= np.count_nonzero(sign < 0) else -1.0
    else:
        forward = 1.0 if left_to_right else -1.0
    k = k[sign == forward]
    times = t[k] + along[k] * dt[k]
    return _merge_close(times.tolist(), CROSSING_MERGE_S)


def _merge_close(times: list[float], window_s: float) -> list[float]:
    """Keep the last time of each run of times that are less than ``window_s`` apart."""
    out: list[float] = []
    for time in times:
        if out and time - out[-1] < window_s:
            out[-1] = time
        else:
            out.append(time)
    return out


def find_start_line(elapsed_s: np.ndarray, lat: np.ndarray, lon: np.ndarray, breaks: np.ndarray,
                    half_width_m: float | None = None) -> Line | None:
    """Return a start/finish line for a GPS track that repeats a circuit, or None.

    The path is resampled every few metres. Each resampled point counts the separate passes of
    the path within ``NEIGHBOUR_RADIUS_M`` heading the same way. The line goes across the mean
    heading at the point with the most passes. Ties go to the fastest such point, because start
    lines sit on straights. The result is None when no place is passed ``MIN_PASSES`` times.
    """
    finite = np.isfinite(lat) & np.isfinite(lon)
    if np.count_nonzero(finite) < 2:
        return None
    plane = LocalPlane(float(np.median(lat[finite])), float(np.median(lon[finite])))
    x, y = plane.to_xy(lat, lon)
    path = _resample_path(elapsed_s, x, y, finite, breaks)
    if path is None:
        return None
    px, py, pt, prun, step_m = path
    hx, hy = _unit_headings(px, py, prun)
    radius = max(NEIGHBOUR_RADIUS_M, 2.0 * step_m)
    speed = _path_speed(pt, prun, step_m)

    # Every place on a circuit is passed on each lap, so candidates spread evenly along the
    # path find the best place without testing every resampled point.
    candidates = np.unique(np.linspace(0, px.size - 1, min(px.size, MAX_CANDIDATES)).round().astype(np.int64))
    passes, mean_speed = _count_passes(candidates, px, py, hx, hy, prun, speed, radius, step_m)
    best_count = int(passes.max()) if passes.size else 0
    if best_count < MIN_PASSES:
        logger.debug("no automatic start line: at most %d passes at one place", best_count)
        return None
    tied = np.nonzero(passes == best_count)[0]
    centre = int(candidates[tied[np.argmax(mean_speed[tied])]])

    near = _neighbours(px, py, hx, hy, centre, radius)
    dx, dy = float(hx[near].sum()), float(hy[near].sum())
    norm = math.hypot(dx, dy) or 1.0
    dx, dy = dx / norm, dy / norm
    nx, ny = -dy, dx
    if half_width_m is None:
        offsets = (px[near] - px[centre]) * nx + (py[near] - py[centre]) * ny
        half_width_m = float(np.clip(np.abs(offsets).max() + 3.0, 6.0, radius + 3.0))
    cx, cy = float(px[centre]), float(py[centre])
    end1 = plane.to_latlon(cx - nx * half_width_m, cy - ny * half_width_m)
    end2 = plane.to_latlon(cx + nx * half_width_m, cy + ny * half_width_m)
    logger.debug("automatic start line at %.6f, %.6f with %d passes", *plane.to_latlon(cx, cy),
                 best_count)
    return end1, end2


def _resample_path(elapsed_s, x, y, finite, breaks):
    """Resample each unbroken run of positions every few metres along the path.

    Returns ``(x, y, time, run, step_m)`` or None when the path is too short.
    """
    run_of_sample = np.concatenate(([0], np.cumsum(breaks))) if breaks.size else np.zeros(1, int)
    idx = np.nonzero(finite)[0]
    xs, ys, ts, runs = x[idx], y[idx], elapsed_s[idx], run_of_sample[idx]
    seg = np.hypot(np.diff(xs), np.diff(ys))
    seg[runs[1:] != runs[:-1]] = 0.0
    total_m = float(seg.sum())
    if total_m < 2 * NEIGHBOUR_RADIUS_M:
        return None
    step_m = max(RESAMPLE_STEP_M, total_m / MAX_RESAMPLED_POINTS)

    out_x, out_y, out_t, out_run = [], [], [], []
    starts = np.concatenate(([0], np.nonzero(runs[1:] != runs[:-1])[0] + 1, [idx.size]))
    for run_id, (a, b) in enumerate(itertools.pairwise(starts)):
        if b - a < 2:
            continue
        s = np.concatenate(([0.0], np.cumsum(seg[a:b - 1])))
        if s[-1] < step_m:
            continue
        # Duplicate positions (a logger repeating its last fix) would break interpolation.
        keep = np.concatenate(([True], np.diff(s) > 0))
        grid = np.arange(0.0, s[-1], step_m)
        out_x.append(np.interp(grid, s[keep], xs[a:b][keep]))
        out_y.append(np.interp(grid, s[keep], ys[a:b][keep]))
        out_t.append(np.interp(grid, s[keep], ts[a:b][keep]))
        out_run.append(np.full(grid.size, run_id))
    if not out_x:
        return None
    return (np.concatenate(out_x), np.concatenate(out_y), np.concatenate(out_t),
            np.concatenate(out_run), step_m)


def _unit_headings(px, py, prun):
    """Return the unit direction of travel at each resampled point (central differences)."""
    n = px.size
    prev = np.arange(n) - 1
    nxt = np.arange(n) + 1
    prev[0] = 0
    nxt[-1] = n - 1
    prev = np.where(prun[prev] == prun, prev, np.arange(n))
    nxt = np.where(prun[nxt] == prun, nxt, np.arange(n))
    dx, dy = px[nxt] - px[prev], py[nxt] - py[prev]
    norm = np.hypot(dx, dy)
    norm[norm == 0] = 1.0
    return dx / norm, dy / norm


def _path_speed(pt, prun, step_m):
    """Return the speed (m/s) at each resampled point from the time between neighbours."""
    dt = np.gradient(pt) if pt.size > 1 else np.ones_like(pt)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(dt > 0, step_m / dt, 0.0)
    return speed


def _count_passes(candidates, px, py, hx, hy, prun, speed, radius, step_m):
    """Count, for each candidate point, the separate same-heading passes within ``radius``.

    Returns the pass counts and the mean speed (m/s) of the points near each candidate.
    """
    cos_tol = math.cos(math.radians(HEADING_TOLERANCE_DEG))
    separation = max(2, int(PASS_SEPARATION_M / step_m))
    passes = np.zeros(candidates.size, dtype=np.int64)
    mean_speed = np.zeros(candidates.size)
    for start in range(0, candidates.size, CANDIDATE_BLOCK):
        block = candidates[start:start + CANDIDATE_BLOCK]
        dx = px[block, None] - px[None, :]
        dy = py[block, None] - py[None, :]
        close = (dx * dx + dy * dy) < radius * radius
        close &= (hx[block, None] * hx[None, :] + hy[block, None] * hy[None, :]) > cos_tol
        rows, cols = np.nonzero(close)
        if rows.size == 0:
            continue
        first = np.ones(rows.size, dtype=bool)
        first[1:] = ((rows[1:] != rows[:-1]) | (cols[1:] - cols[:-1] > separation)
                     | (prun[cols[1:]] != prun[cols[:-1]]))
        passes[start:start + block.size] = np.bincount(rows[first], minlength=block.size)
        speed_sum = np.bincount(rows, weights=speed[cols], minlength=block.size)
        members = np.bincount(rows, minlength=block.size)
        mean_speed[start:start + block.size] = speed_sum / np.maximum(members, 1)
    return passes, mean_speed


def _neighbours(px, py, hx, hy, centre, radius):
    cos_tol = math.cos(math.radians(HEADING_TOLERANCE_DEG))
    close = np.hypot(px - px[centre], py - py[centre]) < radius
    close &= (hx * hx[centre] + hy * hy[centre]) > cos_tol
    return np.nonzero(close)[0]
