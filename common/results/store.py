"""Store parsed iRacing results and lap data in PostgreSQL, idempotently.

Every write is an upsert that updates a row only when a value differs. Rows of the same
subsession that a new payload no longer contains are deleted. So storing the same payload twice
writes nothing. A change to a subsession's results also queues the affected
(race, driver) pairs in ml_pending_changes for the next incremental feature build.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pg8000.native

from .laps import parse_laps
from .model import LapData, SubsessionResult
from .parse import parse_results

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Table:
    """A table's write specification: key columns and (column, SQL type) pairs."""

    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    # Keep the stored value when the new one is NULL (names in lookup tables: a payload that
    # lacks a name must not erase it).
    keep_known: bool = False


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _upsert_sql(table: _Table) -> str:
    """Build an upsert of rows given as a JSON array of objects in the parameter ``:rows``."""
    names = [c for c, _ in table.columns]
    record_type = ", ".join(f"{_q(c)} {t}" for c, t in table.columns)
    value_cols = [c for c in names if c not in table.key]
    if table.keep_known:
        new = {c: f"coalesce(EXCLUDED.{_q(c)}, t.{_q(c)})" for c in value_cols}
    else:
        new = {c: f"EXCLUDED.{_q(c)}" for c in value_cols}
    column_list = ", ".join(_q(c) for c in names)
    sql = (
        f"INSERT INTO {_q(table.name)} AS t ({column_list}) "
        f"SELECT {column_list} FROM jsonb_to_recordset(:rows::jsonb) AS x({record_type}) "
        f"ON CONFLICT ({', '.join(_q(c) for c in table.key)}) "
    )
    if not value_cols:
        return sql + "DO NOTHING"
    assignments = ", ".join(f"{_q(c)} = {new[c]}" for c in value_cols)
    old_values = ", ".join(f"t.{_q(c)}" for c in value_cols)
    new_values = ", ".join(new[c] for c in value_cols)
    # ROW(...) keeps the comparison a row comparison when there is a single value column.
    return sql + (f"DO UPDATE SET {assignments} "
                  f"WHERE ROW({old_values}) IS DISTINCT FROM ROW({new_values})")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def count_changed(conn: pg8000.native.Connection, statement: str, **params: Any) -> int:
    """Run an INSERT, UPDATE or DELETE and return how many rows it inserted, changed or deleted.

    Counted with RETURNING, because the Cloud SQL connection wrapper reports no row count.
    """
    return conn.run(f"WITH changed AS ({statement} RETURNING 1) SELECT count(*) FROM changed",
                    **params)[0][0]


def _write(conn: pg8000.native.Connection, table: _Table, rows: list[dict]) -> int:
    """Upsert ``rows`` into ``table``; return how many rows were inserted or changed."""
    if not rows:
        return 0
    payload = json.dumps(rows, default=_json_default)
    return count_changed(conn, _upsert_sql(table), rows=payload)


CATEGORIES = _Table("ir_categories", ("category_id",),
                    (("category_id", "integer"), ("name", "text")), keep_known=True)
EVENT_TYPES = _Table("ir_event_types", ("event_type",),
                     (("event_type", "integer"), ("name", "text")), keep_known=True)
SIMSESSION_TYPES = _Table("ir_simsession_types", ("simsession_type",),
                          (("simsession_type", "integer"), ("name", "text")), keep_known=True)
SERIES = _Table("ir_series", ("series_id",), (
    ("series_id", "integer"), ("series_name", "text"), ("series_short_name", "text"),
), keep_known=True)
SEASONS = _Table("ir_seasons", ("season_id",), (
    ("season_id", "integer"), ("series_id", "integer"), ("season_name", "text"),
    ("season_short_name", "text"), ("season_year", "integer"), ("season_quarter", "integer"),
), keep_known=True)
TRACKS = _Table("ir_tracks", ("track_id",), (
    ("track_id", "integer"), ("track_name", "text"), ("config_name", "text"),
    ("category_id", "integer"),
), keep_known=True)
CARS = _Table("ir_cars", ("car_id",), (("car_id", "integer"), ("car_name", "text")),
              keep_known=True)
CAR_CLASSES = _Table("ir_car_classes", ("car_class_id",), (
    ("car_class_id", "integer"), ("name", "text"), ("short_name", "text"),
), keep_known=True)
DRIVERS = _Table("ir_drivers", ("cust_id",), (("cust_id", "bigint"), ("display_name", "text")),
                 keep_known=True)
TEAMS = _Table("ir_teams", ("team_id",), (("team_id", "bigint"), ("display_name", "text")),
               keep_known=True)
SUBSESSIONS = _Table("ir_subsessions", ("subsession_id",), (
    ("subsession_id", "bigint"), ("session_id", "bigint"), ("season_id", "integer"),
    ("race_week_num", "integer"), ("track_id", "integer"), ("event_type", "integer"),
    ("license_category_id", "integer"), ("official_session", "boolean"),
    ("start_time", "timestamptz"), ("end_time", "timestamptz"),
    ("event_strength_of_field", "integer"), ("num_drivers", "integer"),
    ("event_laps_complete", "integer"), ("event_average_lap_s", "double precision"),
    ("event_best_lap_time_s", "double precision"), ("num_cautions", "integer"),
    ("num_caution_laps", "integer"), ("num_lead_changes", "integer"),
    ("max_team_drivers", "integer"), ("corners_per_lap", "integer"), ("source_name", "text"),
))
WEATHER = _Table("ir_subsession_weather", ("subsession_id",), (
    ("subsession_id", "bigint"), ("air_temp_c", "double precision"),
    ("rel_humidity_pct", "double precision"), ("skies", "integer"),
    ("wind_speed_kmh", "double precision"), ("wind_dir", "integer"),
    ("precip_time_pct", "double precision"), ("fog_pct", "double precision"),
))
SIMSESSIONS = _Table("ir_simsessions", ("subsession_id", "simsession_number"), (
    ("subsession_id", "bigint"), ("simsession_number", "integer"),
    ("simsession_type", "integer"), ("simsession_name", "text"),
    ("simsession_subtype", "integer"),
))
_POSITION_COLUMNS = (
    ("finish_position", "integer"), ("finish_position_in_class", "integer"),
    ("starting_position", "integer"), ("starting_position_in_class", "integer"),
)
TEAM_RESULTS = _Table("ir_team_results", ("subsession_id", "simsession_number", "team_id"), (
    ("subsession_id", "bigint"), ("simsession_number", "integer"), ("team_id", "bigint"),
    ("car_id", "integer"), ("car_class_id", "integer"), *_POSITION_COLUMNS,
    ("incidents", "integer"), ("laps_complete", "integer"), ("laps_led", "integer"),
    ("reason_out_id", "integer"), ("reason_out", "text"),
    ("best_lap_time_s", "double precision"), ("average_lap_time_s", "double precision"),
))
RESULTS = _Table("ir_results", ("subsession_id", "simsession_number", "cust_id"), (
    ("subsession_id", "bigint"), ("simsession_number", "integer"), ("cust_id", "bigint"),
    ("team_id", "bigint"), ("car_id", "integer"), ("car_class_id", "integer"),
    *_POSITION_COLUMNS,
    ("incidents", "integer"), ("laps_complete", "integer"), ("laps_led", "integer"),
    ("reason_out_id", "integer"), ("reason_out", "text"),
    ("oldi_rating", "integer"), ("newi_rating", "integer"),
    ("old_license_level", "integer"), ("new_license_level", "integer"),
    ("old_safety_rating", "numeric"), ("new_safety_rating", "numeric"),
    ("best_lap_time_s", "double precision"), ("best_lap_num", "integer"),
    ("average_lap_time_s", "double precision"), ("qual_lap_time_s", "double precision"),
    ("interval_s", "double precision"), ("class_interval_s", "double precision"),
    ("champ_points", "integer"), ("ai", "boolean"),
))
LAPS = _Table("ir_laps", ("subsession_id", "simsession_number", "cust_id", "lap_number"), (
    ("subsession_id", "bigint"), ("simsession_number", "integer"), ("cust_id", "bigint"),
    ("lap_number", "integer"), ("group_id", "bigint"), ("lap_time_s", "double precision"),
    ("session_time_s", "double precision"), ("valid", "boolean"), ("incident", "boolean"),
    ("flags", "integer"), ("lap_events", "text[]"), ("personal_best_lap", "boolean"),
    ("team_fastest_lap", "boolean"), ("car_number", "text"), ("license_level", "integer"),
    ("source_name", "text"),
))


def _parse_if_needed(payload: Any, source_name: str) -> SubsessionResult:
    if isinstance(payload, SubsessionResult):
        return payload
    return parse_results(payload, source_name)


def store_results(conn: pg8000.native.Connection, payload: Any, source_name: str) -> dict:
    """Parse (unless already parsed) and upsert one subsession result, in one transaction.

    ``payload`` is the file's bytes, its text, the decoded JSON or a ``SubsessionResult``.
    Returns counts: simsessions, results and team_results stored, ``rows_changed`` (0 when
    the same payload was stored before) and the parser's warnings. The caller must not have a
    transaction open on ``conn``.
    """
    result = _parse_if_needed(payload, source_name)
    conn.run("BEGIN")
    try:
        counts = _store_results(conn, result, source_name)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    logger.info("stored subsession %d from %s: %d rows changed", result.subsession_id,
                source_name, counts["rows_changed"])
    return counts


def _store_results(conn: pg8000.native.Connection, r: SubsessionResult, source_name: str) -> dict:
    sid = r.subsession_id
    before = _race_snapshot(conn, sid)
    _store_lookups(conn, r)

    changed = _write(conn, SUBSESSIONS, [{
        "subsession_id": sid, "session_id": r.session_id,
        "season_id": r.season.season_id if r.season else None,
        "race_week_num": r.race_week_num, "track_id": r.track.track_id if r.track else None,
        "event_type": r.event_type, "license_category_id": r.license_category_id,
        "official_session": r.official_session, "start_time": r.start_time,
        "end_time": r.end_time, "event_strength_of_field": r.event_strength_of_field,
        "num_drivers": r.num_drivers, "event_laps_complete": r.event_laps_complete,
        "event_average_lap_s": r.event_average_lap_s,
        "event_best_lap_time_s": r.event_best_lap_time_s, "num_cautions": r.num_cautions,
        "num_caution_laps": r.num_caution_laps, "num_lead_changes": r.num_lead_changes,
        "max_team_drivers": r.max_team_drivers, "corners_per_lap": r.corners_per_lap,
        "source_name": source_name,
    }])
    if r.weather is not None:
        changed += _write(conn, WEATHER, [{"subsession_id": sid, **vars(r.weather)}])
    else:
        changed += count_changed(conn, "DELETE FROM ir_subsession_weather "
                                 "WHERE subsession_id = :s", s=sid)

    numbers = [s.number for s in r.simsessions]
    changed += count_changed(conn, "DELETE FROM ir_simsessions WHERE subsession_id = :s "
                             "AND simsession_number <> ALL(:n::integer[])", s=sid, n=numbers)
    changed += _write(conn, SIMSESSIONS, [{
        "subsession_id": sid, "simsession_number": s.number, "simsession_type": s.type,
        "simsession_name": s.name, "simsession_subtype": s.subtype,
    } for s in r.simsessions])

    result_rows, team_rows = [], []
    for s in r.simsessions:
        key = {"subsession_id": sid, "simsession_number": s.number}
        for d in s.results:
            row = {**key, **vars(d)}
            for dropped in ("display_name", "car_name", "car_class_name", "car_class_short_name"):
                del row[dropped]
            result_rows.append(row)
        for t in s.team_results:
            row = {**key, **vars(t)}
            del row["display_name"], row["drivers"]
            team_rows.append(row)
    changed += _delete_missing(conn, "ir_results", "cust_id", sid,
                               [(row["simsession_number"], row["cust_id"]) for row in result_rows])
    changed += _delete_missing(conn, "ir_team_results", "team_id", sid,
                               [(row["simsession_number"], row["team_id"]) for row in team_rows])
    changed += _write(conn, TEAM_RESULTS, team_rows)
    changed += _write(conn, RESULTS, result_rows)

    if changed:
        _queue_changes(conn, sid, before, _race_snapshot(conn, sid))
    return {
        "subsession_id": sid,
        "simsessions": len(r.simsessions),
        "results": len(result_rows),
        "team_results": len(team_rows),
        "rows_changed": changed,
        "warnings": list(r.warnings),
    }


def _store_lookups(conn: pg8000.native.Connection, r: SubsessionResult) -> None:
    """Upsert the lookup rows that the subsession's rows refer to."""
    categories = {}
    if r.track is not None and r.track.category_id is not None:
        categories[r.track.category_id] = r.track.category
    if r.license_category_id is not None:
        categories.setdefault(r.license_category_id, r.license_category)
    _write(conn, CATEGORIES, [{"category_id": k, "name": v} for k, v in categories.items()])
    if r.event_type is not None:
        _write(conn, EVENT_TYPES, [{"event_type": r.event_type, "name": r.event_type_name}])
    sim_types = {s.type: s.type_name for s in r.simsessions if s.type is not None}
    _write(conn, SIMSESSION_TYPES,
           [{"simsession_type": k, "name": v} for k, v in sim_types.items()])
    if r.series is not None:
        _write(conn, SERIES, [vars(r.series)])
    if r.season is not None:
        if r.series is None:
            _write(conn, SERIES, [{"series_id": r.season.series_id, "series_name": None,
                                   "series_short_name": None}])
        _write(conn, SEASONS, [vars(r.season)])
    if r.track is not None:
        track = vars(r.track).copy()
        del track["category"]
        _write(conn, TRACKS, [track])

    cars: dict[int, str | None] = {}
    classes = {c.car_class_id: (c.name, c.short_name) for c in r.car_classes}
    drivers: dict[int, str | None] = {}
    teams: dict[int, str | None] = {}
    for s in r.simsessions:
        for d in s.results:
            if d.car_id is not None:
                cars[d.car_id] = d.car_name or cars.get(d.car_id)
            if d.car_class_id is not None and d.car_class_id not in classes:
                classes[d.car_class_id] = (d.car_class_name, d.car_class_short_name)
            drivers[d.cust_id] = d.display_name or drivers.get(d.cust_id)
            if d.team_id is not None:
                teams.setdefault(d.team_id, None)
        for t in s.team_results:
            teams[t.team_id] = t.display_name or teams.get(t.team_id)
            if t.car_id is not None:
                cars.setdefault(t.car_id, None)
            if t.car_class_id is not None:
                classes.setdefault(t.car_class_id, (None, None))
    _write(conn, CARS, [{"car_id": k, "car_name": v} for k, v in sorted(cars.items())])
    _write(conn, CAR_CLASSES, [{"car_class_id": k, "name": v[0], "short_name": v[1]}
                               for k, v in sorted(classes.items())])
    _write(conn, DRIVERS, [{"cust_id": k, "display_name": v} for k, v in sorted(drivers.items())])
    _write(conn, TEAMS, [{"team_id": k, "display_name": v} for k, v in sorted(teams.items())])


def _delete_missing(conn: pg8000.native.Connection, table: str, id_column: str,
                    subsession_id: int, keep: list[tuple[int, int]]) -> int:
    """Delete rows of the subsession whose (simsession_number, id) is not in ``keep``."""
    return count_changed(
        conn,
        f"DELETE FROM {_q(table)} WHERE subsession_id = :s AND (simsession_number, {_q(id_column)})"
        f" NOT IN (SELECT * FROM unnest(:n::integer[], :i::bigint[]))",
        s=subsession_id, n=[k[0] for k in keep], i=[k[1] for k in keep],
    )


def _race_snapshot(conn: pg8000.native.Connection, subsession_id: int) -> tuple | None:
    """Return (track_id, start_time, cust_ids) of a stored subsession, or None."""
    rows = conn.run(
        "SELECT track_id, start_time, ARRAY(SELECT DISTINCT cust_id FROM ir_results "
        "WHERE subsession_id = :s ORDER BY cust_id) FROM ir_subsessions WHERE subsession_id = :s",
        s=subsession_id,
    )
    return tuple(rows[0]) if rows else None


def _queue_changes(conn: pg8000.native.Connection, subsession_id: int,
                   before: tuple | None, after: tuple | None) -> None:
    """Queue the (race, driver) pairs of both snapshots for the incremental feature build."""
    for snapshot in (before, after):
        if snapshot is None:
            continue
        track_id, start_time, cust_ids = snapshot
        conn.run(
            "INSERT INTO ml_pending_changes (subsession_id, cust_id, track_id, start_time) "
            "SELECT :s::bigint, c, :t::integer, :st::timestamptz FROM unnest(:c::bigint[]) AS c "
            "UNION ALL SELECT :s::bigint, NULL, :t::integer, :st::timestamptz",
            s=subsession_id, t=track_id, st=start_time, c=list(cust_ids),
        )


def store_laps(
    conn: pg8000.native.Connection,
    payload: Any,
    source_name: str,
    subsession_id: int | None = None,
    simsession_number: int | None = None,
) -> dict:
    """Parse (unless already parsed) and upsert lap data, in one transaction.

    The stored laps of each driver in the payload are replaced by the payload's laps of that
    driver in that simsession. Returns counts: laps stored and ``rows_changed``. The caller
    must not have a transaction open on ``conn``.
    """
    if isinstance(payload, LapData):
        data = payload
    else:
        data = parse_laps(payload, source_name, subsession_id, simsession_number)
    names: dict[int, str | None] = {}
    for lap in data.laps:
        names[lap.cust_id] = lap.display_name or names.get(lap.cust_id)
    rows = []
    for lap in data.laps:
        row = vars(lap).copy()
        del row["display_name"]
        row["lap_events"] = list(lap.lap_events)
        rows.append({"subsession_id": data.subsession_id,
                     "simsession_number": data.simsession_number,
                     "source_name": source_name, **row})
    conn.run("BEGIN")
    try:
        _write(conn, DRIVERS, [{"cust_id": k, "display_name": v} for k, v in sorted(names.items())])
        changed = count_changed(
            conn,
            "DELETE FROM ir_laps WHERE subsession_id = :s AND simsession_number = :n "
            "AND cust_id = ANY(:c::bigint[]) AND (cust_id, lap_number) NOT IN "
            "(SELECT * FROM unnest(:lc::bigint[], :ln::integer[]))",
            s=data.subsession_id, n=data.simsession_number, c=sorted(names),
            lc=[lap.cust_id for lap in data.laps], ln=[lap.lap_number for lap in data.laps],
        )
        changed += _write(conn, LAPS, rows)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    logger.info("stored %d laps of subsession %d from %s: %d rows changed", len(rows),
                data.subsession_id, source_name, changed)
    return {"subsession_id": data.subsession_id, "simsession_number": data.simsession_number,
            "laps": len(rows), "rows_changed": changed}
