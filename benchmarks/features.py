"""Feature build speed: a full rebuild of ml_training_data over a generated race history.

Generates SUBSESSIONS races of DRIVERS_PER_RACE drivers each (100,000 driver-race rows by
default) directly in the ir_* tables with generate_series. The history has 2,000 drivers, 40
tracks and 10 series. Races start two hours apart, and every second race shares its start
time with the previous one, so ties are broken by subsession_id. Finish and grid orders come
from md5 hashes, so every run generates the same data. Then it measures:

1. a full rebuild on an empty ml_training_data (every row inserted);
2. a second full rebuild (every row recomputed, none changed);
3. an incremental rebuild after 50 more races (1,000 rows) are added at the end.

It uses DATABASE_URL when set (the database must be empty of ir_* rows); otherwise it starts a
throwaway PostgreSQL 15 server (fsync off) with ``common.local.postgres.start_postgres()`` and
stops it at the end.

Run: ``.venv/bin/python benchmarks/features.py [SUBSESSIONS]``
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.db.connect import connect
from common.db.migrate import migrate
from common.features import rebuild_features
from common.local.postgres import start_postgres

SUBSESSIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
DRIVERS_PER_RACE = 20
DRIVER_POOL = 2_000
TRACKS = 40
SERIES = 10
ADDED_RACES = 50

LOOKUPS = [
    "INSERT INTO ir_categories VALUES (2, 'Road')",
    "INSERT INTO ir_event_types VALUES (5, 'Race')",
    "INSERT INTO ir_simsession_types VALUES (6, 'Race')",
    f"INSERT INTO ir_series SELECT i, 'Series ' || i, NULL FROM generate_series(1, {SERIES}) i",
    (f"INSERT INTO ir_seasons SELECT i, i, 'Season ' || i, NULL, 2024, 1 "
     f"FROM generate_series(1, {SERIES}) i"),
    f"INSERT INTO ir_tracks SELECT i, 'Track ' || i, NULL, 2 FROM generate_series(1, {TRACKS}) i",
    "INSERT INTO ir_cars VALUES (1, 'Car')",
    "INSERT INTO ir_car_classes VALUES (1, 'Class', NULL)",
    f"INSERT INTO ir_drivers SELECT i, 'Driver ' || i FROM generate_series(1, {DRIVER_POOL}) i",
]

# Races first..last. Driver k of race s is 1 + (37 s + 101 k) mod 2000: distinct within a race
# because 101 k mod 2000 differs for every k below 20.
RACES = [
    f"""INSERT INTO ir_subsessions (subsession_id, season_id, track_id, event_type,
            license_category_id, official_session, start_time, source_name)
        SELECT s, 1 + s % {SERIES}, 1 + (s * 7) % {TRACKS}, 5, 2, true,
               timestamptz '2023-01-01 00:00+00' + (s / 2) * interval '2 hours', 'benchmark'
        FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) s""",
    """INSERT INTO ir_subsession_weather (subsession_id, air_temp_c, rel_humidity_pct, skies)
        SELECT s, 10 + s % 20, 50, s % 4 FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) s""",
    """INSERT INTO ir_simsessions (subsession_id, simsession_number, simsession_type,
            simsession_name)
        SELECT s, 0, 6, 'RACE' FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) s""",
    f"""INSERT INTO ir_results (subsession_id, simsession_number, cust_id, car_id, car_class_id,
            finish_position, finish_position_in_class, starting_position,
            starting_position_in_class, incidents, laps_complete, laps_led, reason_out_id,
            reason_out, oldi_rating, newi_rating, old_license_level, new_license_level,
            old_safety_rating, new_safety_rating)
        SELECT s, 0, cust_id, 1, 1, finish, finish, grid, grid, incidents,
               CASE WHEN dnf THEN 10 ELSE 20 END, 0,
               CASE WHEN dnf THEN 32 ELSE 0 END,
               CASE WHEN dnf THEN 'Disconnected' ELSE 'Running' END,
               1000 + (cust_id * 13) % 3000, 1000 + (cust_id * 13) % 3000 + (10 - finish) * 5,
               14, 14, 3.00, 3.00 + (2 - incidents % 5) / 100.0
        FROM (
            SELECT s, 1 + (s * 37 + k * 101) % {DRIVER_POOL} AS cust_id,
                   row_number() OVER (PARTITION BY s ORDER BY md5(s || 'f' || k)) - 1 AS finish,
                   row_number() OVER (PARTITION BY s ORDER BY md5(s || 'g' || k)) - 1 AS grid,
                   get_byte(decode(md5(s || 'i' || k), 'hex'), 0) % 9 AS incidents,
                   get_byte(decode(md5(s || 'd' || k), 'hex'), 0) < 13 AS dnf
            FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) s,
                 generate_series(0, {DRIVERS_PER_RACE - 1}) k
        ) x""",
]


def generate(conn, first: int, last: int) -> None:
    conn.run("BEGIN")
    for statement in RACES:
        conn.run(statement, first=first, last=last)
    # The incremental build reads the changes that store_results queues; queue the added races
    # the same way (one row per driver and one for each race).
    conn.run("INSERT INTO ml_pending_changes (subsession_id, cust_id, track_id, start_time) "
             "SELECT r.subsession_id, r.cust_id, s.track_id, s.start_time FROM ir_results r "
             "JOIN ir_subsessions s USING (subsession_id) "
             "WHERE r.subsession_id BETWEEN CAST(:f AS integer) AND CAST(:l AS integer) "
             "UNION ALL SELECT subsession_id, NULL, track_id, start_time FROM ir_subsessions "
             "WHERE subsession_id BETWEEN CAST(:f AS integer) AND CAST(:l AS integer)", f=first, l=last)
    conn.run("COMMIT")
    conn.run("ANALYZE")


def report(label: str, value: float, unit: str) -> None:
    print(f"{label:40} {value:14,.2f} {unit}", flush=True)


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    server = None
    if not url:
        server = start_postgres()
        url = server.url
    try:
        conn = connect(url)
        migrate(conn)
        if conn.run("SELECT count(*) FROM ir_subsessions")[0][0]:
            raise SystemExit("the database already contains ir_subsessions rows; "
                             "set DATABASE_URL to an empty database")
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
              f"{conn.run('SHOW server_version')[0][0]}")
        for statement in LOOKUPS:
            conn.run(statement)

        started = time.perf_counter()
        generate(conn, 1, SUBSESSIONS)
        rows = conn.run("SELECT count(*) FROM ir_results")[0][0]
        report("generated driver-race rows", rows, "rows")
        report("generation time", time.perf_counter() - started, "s")
        conn.run("DELETE FROM ml_pending_changes")

        counts = rebuild_features(conn, full=True)
        report("full rebuild, empty table", counts["elapsed_s"], "s")
        report("full rebuild rate", counts["rows_computed"] / counts["elapsed_s"], "rows/s")
        again = rebuild_features(conn, full=True)
        report("full rebuild, nothing changed", again["elapsed_s"], "s")
        report("rows written by the second build", again["rows_written"], "rows")

        generate(conn, SUBSESSIONS + 1, SUBSESSIONS + ADDED_RACES)
        incremental = rebuild_features(conn, full=False)
        report(f"incremental rebuild, {ADDED_RACES} races added", incremental["elapsed_s"], "s")
        report("rows recomputed by it", incremental["rows_computed"], "rows")
        conn.close()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
