"""Build ml_training_data from the ir_* tables and linked telemetry, fully or incrementally.

An incremental build recomputes only the rows whose inputs may have changed. A change to race
X (queued in ml_pending_changes by ``store_results``, or found by comparing the linked
telemetry with ml_telemetry_sessions) can change:

- every row of X itself (field, opponents, targets);
- the rows of X's drivers in races after X (form, prior counts, telemetry of earlier races);
- the rows of every race at X's track after X (track incident rates).

Races are ordered by ``(start_time, subsession_id)``; "after X" includes X. A changed race is
queued with its values both before and after the change, so that a moved start time, a new
track or a removed driver reach the rows that depended on the old values.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import pg8000.native

from ..errors import SimtelError
from ..results.store import count_changed
from . import sql

logger = logging.getLogger(__name__)

# Any fixed number: serializes feature builds on one database.
BUILD_LOCK_KEY = 7_301_002
# Memory per sort and hash of the build's queries (PostgreSQL's default is 4 MB): the window
# sorts over a history of 100,000 driver-race rows take about 8 MB each, and spill to disk
# below that.
_WORK_MEM = "64MB"


class BuildInProgress(SimtelError):
    """Another feature build is running on the database (raised with ``wait=False``)."""


def rebuild_features(conn: pg8000.native.Connection, full: bool = True,
                     since: datetime | None = None, wait: bool = True) -> dict:
    """Rebuild ml_training_data and return counts; idempotent.

    ``full`` recomputes every row and deletes rows whose race or driver is gone. Otherwise
    only the rows reached by queued changes are recomputed, plus, when ``since`` is given,
    every row of the races starting at or after ``since``. An incremental build runs as a
    full one while no build has been recorded. Builds run one at a time per database: with
    ``wait`` a build waits for the running one, otherwise it raises ``BuildInProgress``. The
    caller must not have a transaction open.

    Counts: ``mode``, ``rows_computed`` (rows evaluated), ``rows_written`` (inserted or
    changed), ``rows_deleted``, ``rows_total`` (rows in the table afterwards),
    ``pending_changes`` (queued changes consumed) and ``elapsed_s``.
    """
    if full and since is not None:
        raise ValueError("since applies to incremental rebuilds only; pass full=False")
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be a time-zone aware datetime")
    started = time.monotonic()
    # A session-level lock taken before the transaction, so that the transaction's snapshot
    # is taken after the previous build committed.
    if wait:
        conn.run("SELECT pg_advisory_lock(:k)", k=BUILD_LOCK_KEY)
    elif not conn.run("SELECT pg_try_advisory_lock(:k)", k=BUILD_LOCK_KEY)[0][0]:
        raise BuildInProgress("a feature build is already running on this database; retry later")
    try:
        conn.run("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            conn.run(f"SET LOCAL work_mem = '{_WORK_MEM}'")
            counts = _rebuild(conn, full, since)
            counts["elapsed_s"] = round(time.monotonic() - started, 3)
            conn.run(
                "INSERT INTO ml_feature_builds (mode, started_at, finished_at, counts) "
                "VALUES (:m, now(), clock_timestamp(), CAST(:c AS jsonb))",
                m=counts["mode"], c=json.dumps(counts),
            )
            conn.run("COMMIT")
        except BaseException:
            conn.run("ROLLBACK")
            raise
    finally:
        conn.run("SELECT pg_advisory_unlock(:k)", k=BUILD_LOCK_KEY)
    logger.info("feature build (%s): %s", counts["mode"], counts)
    return counts


def _rebuild(conn: pg8000.native.Connection, full: bool, since: datetime | None) -> dict:
    if not full and not conn.run("SELECT EXISTS (SELECT 1 FROM ml_feature_builds)")[0][0]:
        logger.info("no earlier feature build: running a full build")
        full, since = True, None

    conn.run("CREATE TEMP TABLE ml_pending ON COMMIT DROP AS "
             "SELECT change_id, subsession_id, cust_id, track_id, start_time "
             "FROM ml_pending_changes")
    pending = conn.run("SELECT count(*) FROM ml_pending")[0][0]
    _refresh_telemetry(conn)

    conn.run(sql.ENTRIES_SQL)
    conn.run("ANALYZE ml_entries")
    if full:
        filters = {"driver_filter": "", "race_filter": "", "opponent_filter": "",
                   "target_filter": ""}
    else:
        _select_targets(conn, since)
        filters = {"driver_filter": sql.DRIVER_FILTER, "race_filter": sql.RACE_FILTER,
                   "opponent_filter": sql.OPPONENT_FILTER, "target_filter": sql.TARGET_FILTER}
    for name, query in sql.FEATURE_STEPS:
        conn.run(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {query.format(**filters)}")
        conn.run(f"ANALYZE {name}")
    conn.run(sql.FEATURES_SQL.format(**filters))
    computed = conn.run("SELECT count(*) FROM ml_new")[0][0]

    written = count_changed(conn, sql.upsert_sql())
    if full:
        deleted = count_changed(
            conn, "DELETE FROM ml_training_data m WHERE NOT EXISTS (SELECT 1 FROM ml_new n "
            "WHERE n.subsession_id = m.subsession_id AND n.cust_id = m.cust_id)")
    else:
        deleted = count_changed(
            conn, "DELETE FROM ml_training_data m USING ml_targets t "
            "WHERE m.subsession_id = t.subsession_id AND m.cust_id = t.cust_id "
            "AND NOT EXISTS (SELECT 1 FROM ml_new n "
            "WHERE n.subsession_id = m.subsession_id AND n.cust_id = m.cust_id)")
    # Only the queued rows this transaction saw: rows queued meanwhile stay for the next build.
    conn.run("DELETE FROM ml_pending_changes WHERE change_id IN "
             "(SELECT change_id FROM ml_pending WHERE change_id IS NOT NULL)")
    total = conn.run("SELECT count(*) FROM ml_training_data")[0][0]
    return {
        "mode": "full" if full else "incremental",
        "rows_computed": computed,
        "rows_written": written,
        "rows_deleted": deleted,
        "rows_total": total,
        "pending_changes": pending,
    }


def _refresh_telemetry(conn: pg8000.native.Connection) -> None:
    """Queue the races of linked telemetry sessions that changed, and store the new state."""
    conn.run(f"CREATE TEMP TABLE ml_telemetry_now ON COMMIT DROP AS {sql.TELEMETRY_SQL}")
    changed = (
        "(SELECT * FROM ml_telemetry_now EXCEPT SELECT * FROM ml_telemetry_sessions) "
        "UNION (SELECT * FROM ml_telemetry_sessions EXCEPT SELECT * FROM ml_telemetry_now)"
    )
    conn.run(
        "INSERT INTO ml_pending (subsession_id, cust_id, track_id, start_time) "
        f"SELECT DISTINCT d.subsession_id, d.cust_id, NULL::integer, s.start_time "
        f"FROM ({changed}) d JOIN ir_subsessions s USING (subsession_id)"
    )
    conn.run("DELETE FROM ml_telemetry_sessions o WHERE NOT EXISTS (SELECT 1 FROM "
             "ml_telemetry_now n WHERE (n.session_key, n.subsession_id, n.cust_id, n.valid_laps, "
             "n.lap_time_sum_s, n.lap_time_sq_sum_s2, n.best_lap_s) = (o.session_key, "
             "o.subsession_id, o.cust_id, o.valid_laps, o.lap_time_sum_s, o.lap_time_sq_sum_s2, "
             "o.best_lap_s))")
    conn.run("INSERT INTO ml_telemetry_sessions SELECT * FROM ml_telemetry_now n "
             "WHERE NOT EXISTS (SELECT 1 FROM ml_telemetry_sessions o "
             "WHERE o.session_key = n.session_key)")


def _select_targets(conn: pg8000.native.Connection, since: datetime | None) -> None:
    """Fill ml_targets with the (race, driver) rows to recompute, and the affected sets."""
    # The earliest queued race of each driver and of each track.
    conn.run("CREATE TEMP TABLE ml_cut_driver ON COMMIT DROP AS "
             "SELECT DISTINCT ON (cust_id) cust_id, start_time, subsession_id FROM ml_pending "
             "WHERE cust_id IS NOT NULL AND start_time IS NOT NULL "
             "ORDER BY cust_id, start_time, subsession_id")
    conn.run("CREATE TEMP TABLE ml_cut_track ON COMMIT DROP AS "
             "SELECT DISTINCT ON (track_id) track_id, start_time, subsession_id FROM ml_pending "
             "WHERE track_id IS NOT NULL AND start_time IS NOT NULL "
             "ORDER BY track_id, start_time, subsession_id")
    conn.run("ANALYZE ml_cut_driver")
    conn.run("ANALYZE ml_cut_track")

    # Equality joins with one cut-off row per driver or track, so each source row is checked
    # once.
    reached = (
        "SELECT x.subsession_id, x.cust_id FROM {source} x JOIN ml_cut_driver d USING (cust_id) "
        "WHERE (x.start_time, x.subsession_id) >= (d.start_time, d.subsession_id) "
        "UNION SELECT x.subsession_id, x.cust_id FROM {source} x JOIN ml_cut_track t "
        "USING (track_id) WHERE (x.start_time, x.subsession_id) >= (t.start_time, t.subsession_id) "
        "UNION SELECT x.subsession_id, x.cust_id FROM {source} x "
        "WHERE x.subsession_id IN (SELECT subsession_id FROM ml_pending) "
        "OR x.start_time >= CAST(:since AS timestamptz)"
    )
    # Rows to compute now, and stored rows that may have to go (their race or driver is gone).
    conn.run("CREATE TEMP TABLE ml_targets (subsession_id bigint, cust_id bigint) "
             "ON COMMIT DROP")
    conn.run(
        "INSERT INTO ml_targets " + reached.format(source="ml_entries") + " UNION "
        + reached.format(source="ml_training_data"),
        since=since,
    )

    # The histories that the windows of the targets need.
    conn.run("CREATE TEMP TABLE ml_affected_drivers ON COMMIT DROP AS "
             "SELECT DISTINCT cust_id FROM ml_targets")
    conn.run("CREATE TEMP TABLE ml_affected_races ON COMMIT DROP AS "
             "SELECT DISTINCT subsession_id FROM ml_targets")
    conn.run("CREATE TEMP TABLE ml_affected_tracks ON COMMIT DROP AS "
             "SELECT DISTINCT e.track_id FROM ml_entries e JOIN ml_affected_races "
             "USING (subsession_id) WHERE e.track_id IS NOT NULL")
    for table in ("ml_targets", "ml_affected_drivers", "ml_affected_races", "ml_affected_tracks"):
        conn.run(f"ANALYZE {table}")


def rebuild_options(body: dict | None) -> dict:
    """Read the options of a rebuild request body into ``rebuild_features`` keyword arguments.

    Accepted body: ``{"mode": "full" | "incremental", "since": ISO 8601 time}``, every field
    optional (mode defaults to full). Raises ``ValueError`` with a message for the client.
    """
    body = body or {}
    if not isinstance(body, dict):
        # ValueError like every other invalid request, so that one handler covers all of them.
        raise ValueError("the request body must be a JSON object")  # noqa: TRY004
    unknown = set(body) - {"mode", "since"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}; accepted: mode, since")
    mode = body.get("mode", "full")
    if mode not in ("full", "incremental"):
        raise ValueError(f"mode must be 'full' or 'incremental', not {mode!r}")
    since = body.get("since")
    if since is not None:
        if mode != "incremental":
            raise ValueError("since is accepted with mode 'incremental' only")
        try:
            since = datetime.fromisoformat(str(since))
        except ValueError as exc:
            raise ValueError(f"since must be an ISO 8601 time, not {since!r}") from exc
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    return {"full": mode == "full", "since": since}
