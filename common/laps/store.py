"""Store detected laps in the ``laps`` table."""

from __future__ import annotations

import logging
import math

import pg8000.native

from .model import Lap

logger = logging.getLogger(__name__)

# One statement writes the new rows (updating those whose lap number is already stored) and
# deletes the session's other rows, so the replacement is atomic in autocommit mode and also runs
# inside a transaction that the caller has opened. Both parts see the rows as they were before the
# statement, and they never touch the same row.
_REPLACE = """
WITH written AS (
    INSERT INTO laps (session_key, lap_number, start_s, end_s, lap_time_s, distance_m, kind, valid,
                      reason, max_speed_kmh, mean_speed_kmh, sector_times_s, source,
                      producer_lap_time_s)
    SELECT :session_key, u.lap_number, u.start_s, u.end_s, u.lap_time_s, u.distance_m, u.kind,
           u.valid, u.reason, u.max_speed_kmh, u.mean_speed_kmh,
           CAST(u.sector_times_s AS double precision[]), u.source, u.producer_lap_time_s
    FROM unnest(
        CAST(:lap_number AS integer[]), CAST(:start_s AS double precision[]),
        CAST(:end_s AS double precision[]), CAST(:lap_time_s AS double precision[]),
        CAST(:distance_m AS real[]), CAST(:kind AS text[]), CAST(:valid AS boolean[]),
        CAST(:reason AS text[]), CAST(:max_speed_kmh AS real[]), CAST(:mean_speed_kmh AS real[]),
        CAST(:sector_times_s AS text[]), CAST(:source AS text[]),
        CAST(:producer_lap_time_s AS double precision[])
    ) AS u(lap_number, start_s, end_s, lap_time_s, distance_m, kind, valid, reason, max_speed_kmh,
           mean_speed_kmh, sector_times_s, source, producer_lap_time_s)
    ON CONFLICT (session_key, lap_number) DO UPDATE SET
        start_s = EXCLUDED.start_s, end_s = EXCLUDED.end_s, lap_time_s = EXCLUDED.lap_time_s,
        distance_m = EXCLUDED.distance_m, kind = EXCLUDED.kind, valid = EXCLUDED.valid,
        reason = EXCLUDED.reason, max_speed_kmh = EXCLUDED.max_speed_kmh,
        mean_speed_kmh = EXCLUDED.mean_speed_kmh, sector_times_s = EXCLUDED.sector_times_s,
        source = EXCLUDED.source, producer_lap_time_s = EXCLUDED.producer_lap_time_s
    RETURNING 1
)
DELETE FROM laps
WHERE session_key = :session_key AND NOT (lap_number = ANY (CAST(:lap_number AS integer[])))
"""


def store_laps(conn: pg8000.native.Connection, session_key: int, laps: list[Lap]) -> None:
    """Replace the stored laps of session ``session_key`` with ``laps``, in one statement.

    Runs inside the caller's transaction when one is open. NaN and infinite numbers are stored
    as NULL; sector times are stored as given.
    """
    columns = {
        "lap_number": [int(lap.number) for lap in laps],
        "start_s": [float(lap.start_s) for lap in laps],
        "end_s": [float(lap.end_s) for lap in laps],
        "lap_time_s": [_number(lap.lap_time_s) for lap in laps],
        "distance_m": [_number(lap.distance_m) for lap in laps],
        "kind": [lap.kind for lap in laps],
        "valid": [bool(lap.valid) for lap in laps],
        "reason": [lap.reason for lap in laps],
        "max_speed_kmh": [_number(lap.max_speed_kmh) for lap in laps],
        "mean_speed_kmh": [_number(lap.mean_speed_kmh) for lap in laps],
        "sector_times_s": [_array_literal(lap.sector_times_s) for lap in laps],
        "source": [lap.source for lap in laps],
        "producer_lap_time_s": [_number(lap.producer_lap_time_s) for lap in laps],
    }
    conn.run(_REPLACE, session_key=session_key, **columns)
    logger.debug("stored %d laps of session %d", len(laps), session_key)


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _array_literal(values: list[float]) -> str:
    """Return a PostgreSQL array literal of ``values`` (a parameter value, never SQL text)."""
    return "{" + ",".join(repr(float(v)) for v in values) + "}"
