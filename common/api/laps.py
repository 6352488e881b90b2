"""Lap endpoints: a session's stored laps, and two laps compared along the lap distance."""

from __future__ import annotations

from typing import Any

from . import alignment, schemas, series
from .app import connection, route
from .context import Context
from .errors import ApiError
from .params import SESSION_ID_PATTERN, Param, session_id_param
from .responses import Reply

LAP_REF_PATTERN = SESSION_ID_PATTERN[:-1] + r":\d{1,6}$"
# Rows read per lap at most: a 20-minute lap at 100 Hz.
MAX_LAP_ROWS = 120_000
DISTANCE_COLUMNS = ("lap_distance", "distance", "speed")


@route("GET", "/v1/sessions/{session_id}/laps", tag="laps", path_params=(session_id_param(),),
       responses={200: Reply("The session's laps in order.", schemas.ref("LapList"))})
def list_laps(ctx: Context):
    """List a session's laps: times, kind (out, flying, in, partial), validity and sectors."""
    session_id = ctx.path["session_id"].lower()
    with connection() as conn:
        key = series.lookup(conn, session_id).key
        rows = conn.run(
            "SELECT lap_number, start_s, end_s, lap_time_s, distance_m, kind, valid, reason, "
            "max_speed_kmh, mean_speed_kmh, sector_times_s, source, producer_lap_time_s "
            "FROM laps WHERE session_key = :k ORDER BY lap_number", k=key)
    laps = [
        {"number": r[0], "start_s": r[1], "end_s": r[2], "lap_time_s": r[3], "distance_m": r[4],
         "kind": r[5], "valid": r[6], "reason": r[7], "max_speed_kmh": r[8], "mean_speed_kmh": r[9],
         "sector_times_s": list(r[10] or []), "source": r[11], "producer_lap_time_s": r[12]}
        for r in rows
    ]
    timed = [lap for lap in laps if lap["valid"] and lap["lap_time_s"] is not None]
    best = min(timed, key=lambda lap: lap["lap_time_s"])["number"] if timed else None
    return {"session_id": session_id, "best_lap": best, "laps": laps}


def _lap_ref(name: str) -> Param:
    return Param(name, "string", f"Lap {name.upper()} as <session_id>:<lap number>.", required=True,
                 pattern=LAP_REF_PATTERN, max_length=71,
                 example="43d5e90974dc1b3482e6871aec9200c2e702db4a489f6a5e1e64401aa05b1f9d:2")


@route("GET", "/v1/laps/compare", tag="laps",
       query=(_lap_ref("a"), _lap_ref("b"),
              Param("points", "integer", "Points on the common distance grid.", default=500,
                    minimum=2, maximum=10_000)),
       responses={200: Reply("Both laps on one distance grid, with the time delta.",
                             schemas.ref("LapComparison"))})
def compare_laps(ctx: Context):
    """Compare two laps aligned on the distance along the lap.

    The distance comes from the lap_distance channel, else distance, else speed integrated over
    time. The grid covers the shorter of the two laps. `delta_s` is b's time minus a's at each
    distance: positive where b is behind.
    """
    with connection() as conn:
        a_info, a = _load(conn, ctx.query["a"], "a")
        b_info, b = _load(conn, ctx.query["b"], "b")
    result = alignment.align(a, b, ctx.query["points"])
    if result["length_m"] <= 0:
        raise ApiError(422, "invalid_parameter", "the laps cover no distance; nothing to compare")
    a_info["length_m"] = float(a.distance_m[-1])
    b_info["length_m"] = float(b.distance_m[-1])
    return {
        "a": a_info,
        "b": b_info,
        "points": ctx.query["points"],
        "compared_length_m": result["length_m"],
        "final_delta_s": float(result["delta_s"][-1]),
        "distance_m": result["distance_m"],
        "time_a_s": result["time_a_s"],
        "time_b_s": result["time_b_s"],
        "delta_s": result["delta_s"],
        "speed_a_kmh": result["speed_a_kmh"],
        "speed_b_kmh": result["speed_b_kmh"],
    }


def _load(conn, ref: str, parameter: str) -> tuple[dict[str, Any], alignment.LapTrace]:
    session_id, lap_text = ref.lower().split(":")
    lap = int(lap_text)
    found = series.lookup(conn, session_id)
    rows = conn.run("SELECT start_s, end_s, lap_time_s, valid, kind FROM laps "
                    "WHERE session_key = :k AND lap_number = :n", k=found.key, n=lap)
    if not rows:
        raise ApiError(404, "not_found",
                       f"lap {lap} of session {session_id} (parameter {parameter}) not found")
    start_s, end_s, lap_time_s, valid, kind = rows[0]
    present = {channel[3] for channel in found.channels}
    names = [c for c in DISTANCE_COLUMNS if c in present]
    if not names:
        raise ApiError(422, "invalid_parameter",
                       f"parameter {parameter}: session {session_id} has no lap_distance, distance or speed "
                       "channel to align laps on")
    refs = series.resolve(found, names)
    data = series.read(conn, found.key, refs, start_s, end_s, MAX_LAP_ROWS)
    columns = dict(zip(names, data.values))
    trace = alignment.trace(data.elapsed_s, columns.get("lap_distance"), columns.get("distance"),
                            columns.get("speed"))
    if trace is None:
        raise ApiError(422, "invalid_parameter",
                       f"parameter {parameter}: lap {lap} of session {session_id} has too few samples with "
                       "distance or speed to align")
    info = {"session_id": session_id, "lap": lap, "lap_time_s": lap_time_s, "start_s": start_s,
            "end_s": end_s, "valid": valid, "kind": kind, "distance_source": trace.source,
            "samples": len(data.elapsed_s)}
    return info, trace
