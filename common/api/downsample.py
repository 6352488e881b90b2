"""Downsampling that keeps peaks, for plotting long ranges with few points.

Both methods return sorted row indices, so every returned row keeps the real values of every
channel at a real sample time.

- ``minmax``: equal-time buckets; in each bucket, the rows where each channel reaches its
  minimum and its maximum. Every peak and trough of every channel survives. At most
  ``2 x channels`` rows per bucket.
- ``lttb``: Largest-Triangle-Three-Buckets (Steinarsson, 2013) per channel, with the point
  budget split between the channels; keeps the visual shape of each line.
"""

from __future__ import annotations

import numpy as np


def minmax_indices(elapsed_s: np.ndarray, columns: list[np.ndarray], max_points: int) -> np.ndarray:
    """Return at most ``max_points`` row indices: per time bucket, each channel's min and max rows.

    ``max_points`` must be at least ``2 * len(columns)``.
    """
    n = len(elapsed_s)
    if n <= max_points:
        return np.arange(n)
    buckets = max_points // (2 * len(columns))
    span = elapsed_s[-1] - elapsed_s[0]
    position = (elapsed_s - elapsed_s[0]) / span if span > 0 else np.zeros(n)
    bucket = np.minimum((position * buckets).astype(np.int64), buckets - 1)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    sizes = np.diff(np.r_[starts, n])
    picks = []
    for values in columns:
        v = values.astype(np.float64)
        missing = np.isnan(v)
        for sign in (1.0, -1.0):
            # NaN never wins: it becomes +inf before taking the minimum of v or of -v.
            w = np.where(missing, np.inf, sign * v)
            lowest = np.minimum.reduceat(w, starts)
            hits = np.flatnonzero(w == np.repeat(lowest, sizes))
            first = np.r_[True, bucket[hits][1:] != bucket[hits][:-1]]
            picks.append(hits[first])
    return np.unique(np.concatenate(picks))


def lttb_indices(elapsed_s: np.ndarray, columns: list[np.ndarray], max_points: int) -> np.ndarray:
    """Return at most ``max_points`` row indices: LTTB per channel on ``max_points // channels`` points.

    ``max_points // len(columns)`` must be at least 3.
    """
    n = len(elapsed_s)
    if n <= max_points:
        return np.arange(n)
    budget = max_points // len(columns)
    picks = []
    for values in columns:
        finite = np.flatnonzero(np.isfinite(values))
        if len(finite) == 0:
            continue
        chosen = _lttb(elapsed_s[finite], values[finite].astype(np.float64), budget)
        picks.append(finite[chosen])
    if not picks:
        return np.array([0, n - 1])
    return np.unique(np.concatenate(picks))


def _lttb(x: np.ndarray, y: np.ndarray, threshold: int) -> np.ndarray:
    n = len(x)
    if n <= threshold:
        return np.arange(n)
    # The first and last points are kept, and the rest is split into threshold - 2 buckets.
    # With n > threshold every bucket contains at least one point.
    edges = np.linspace(1, n - 1, threshold - 1).astype(np.int64)
    chosen = np.empty(threshold, dtype=np.int64)
    chosen[0] = 0
    chosen[-1] = n - 1
    a = 0
    for i in range(threshold - 2):
        lo, hi = edges[i], edges[i + 1]
        if i + 2 < len(edges):
            nxt_lo, nxt_hi = edges[i + 1], edges[i + 2]
            avg_x, avg_y = x[nxt_lo:nxt_hi].mean(), y[nxt_lo:nxt_hi].mean()
        else:
            avg_x, avg_y = x[-1], y[-1]
        # Twice the area of the triangle (point a, candidate, next bucket's average).
        area = np.abs((x[a] - avg_x) * (y[lo:hi] - y[a]) - (x[a] - x[lo:hi]) * (avg_y - y[a]))
        a = lo + int(np.argmax(area))
        chosen[i + 1] = a
    return np.unique(chosen)
