"""Store detected laps in the ``laps`` table."""

from __future__ import annotations

import logging
import math

import pg8000.native

from .model import Lap

logger = logging.getLogger(__name__)

_INSERT = (
    "INSERT INTO laps (session_key, lap_number, start_s, end_s, lap_time_s, distance_m, kind,"
    " valid, reason, max_speed_kmh, mean_speed_kmh, sector_times_s, source, producer_lap_time_s)"
    " VALUES (:session_key, :lap_number, :start_s, :end_s, :lap_time_s, :distance_m, :kind,"
    " :valid, :reason, :max_speed_kmh, :mean_speed_kmh,"
    " CAST(:sector_times_s AS double precision[]), :source, :producer_lap_time_s)"
)


def store_laps(conn: pg8000.native.Connection, session_key: int, laps: list[Lap]) -> None:
    """Replace the stored laps of session ``session_key`` with ``laps``, in one transaction.

    The caller must not have a transaction open on ``conn``. NaN and infinite numbers are
    stored as NULL.
    """
    conn.run("BEGIN")
    try:
        conn.run("DELETE FROM laps WHERE session_key = :session_key", session_key=session_key)
        for lap in laps:
            conn.run(_INSERT, **_row(session_key, lap))
        conn.run("COMMIT")
    except Exception:
        conn.run("ROLLBACK")
        raise
    logger.debug("stored %d laps of session %d", len(laps), session_key)


def _row(session_key: int, lap: Lap) -> dict:
    return {
        "session_key": session_key,
        "lap_number": int(lap.number),
        "start_s": float(lap.start_s),
        "end_s": float(lap.end_s),
        "lap_time_s": _number(lap.lap_time_s),
        "distance_m": _number(lap.distance_m),
        "kind": lap.kind,
        "valid": bool(lap.valid),
        "reason": lap.reason,
        "max_speed_kmh": _number(lap.max_speed_kmh),
        "mean_speed_kmh": _number(lap.mean_speed_kmh),
        "sector_times_s": "{" + ",".join(repr(float(s)) for s in lap.sector_times_s) + "}",
        "source": lap.source,
        "producer_lap_time_s": _number(lap.producer_lap_time_s),
    }


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
