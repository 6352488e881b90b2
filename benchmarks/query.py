"""Reading one lap back: server-side time of the telemetry query, and storage size.

Fills the samples table with SESSIONS sessions of 100,000 samples at 60 Hz (generated in SQL with
generate_series, a dozen canonical channels filled as a real log would, the rest NULL), then reads
one lap (90 s of speed, throttle and brake, 5,400 rows) of one session the way the API does and
reports the server-side execution time from ``EXPLAIN (ANALYZE, BUFFERS)``: the first run and the
median of REPEATS runs over different sessions. Goal: under 5 ms.

It also reports the table and index sizes per million samples.

Run: ``.venv/bin/python benchmarks/query.py [SESSIONS]``
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time

from _common import database, report

from common.db.connect import connect

SESSIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
SAMPLES = 100_000
RATE_HZ = 60
REPEATS = 25
LAP_QUERY = ("SELECT elapsed_s, speed, throttle, brake FROM samples "
             "WHERE session_key = {key} AND elapsed_s >= {start} AND elapsed_s < {end} "
             "ORDER BY elapsed_s")


def main() -> None:
    with database() as (url, _):
        conn = connect(url)
        started = time.perf_counter()
        keys = []
        for n in range(SESSIONS):
            session_id = hashlib.sha256(f"query benchmark {n}".encode()).hexdigest()
            keys.append(conn.run("INSERT INTO sessions (session_id, status) VALUES (:id, 'ready') "
                                 "RETURNING session_key", id=session_id)[0][0])
        for key in keys:
            conn.run(
                "INSERT INTO samples (session_key, elapsed_s, speed, throttle, brake, gear, engine_rpm, "
                "steering_angle, lateral_accel, longitudinal_accel, distance, lap_distance, latitude, "
                "longitude) "
                "SELECT :k, i / 60.0, 120 + 80 * sin(i / 900.0), greatest(0, sin(i / 700.0)), "
                "greatest(0, -sin(i / 700.0)), 1 + (i / 600) % 6, 3000 + (i % 5000), "
                "30 * sin(i / 300.0), sin(i / 200.0), cos(i / 200.0), i * 0.55, (i * 0.55) % 4000, "
                "45.0 + i * 1e-7, 7.0 + i * 1e-7 FROM generate_series(0, :n - 1) AS i",
                k=key, n=SAMPLES)
        conn.run("VACUUM ANALYZE samples")
        fill_s = time.perf_counter() - started
        print(f"filled {SESSIONS} sessions x {SAMPLES:,} samples in {fill_s:.0f} s")

        times = []
        start_s = 600.0
        for i in range(REPEATS):
            key = keys[(i * 37) % len(keys)]
            sql = LAP_QUERY.format(key=int(key), start=start_s, end=start_s + 90.0)
            plan = conn.run(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")[0][0]
            plan = plan[0] if isinstance(plan, list) else plan
            rows = plan["Plan"]["Actual Rows"]
            assert rows == 90 * RATE_HZ, rows
            times.append(plan["Execution Time"])
        node = plan["Plan"]
        while "Plans" in node and node["Node Type"] not in ("Index Scan",):
            node = node["Plans"][0]
        print(f"plan: {node['Node Type']} on {node.get('Index Name', node.get('Relation Name'))}")

        table_bytes, index_bytes = conn.run(
            "SELECT pg_table_size('samples'), pg_indexes_size('samples')")[0]
        conn.close()

    millions = SESSIONS * SAMPLES / 1e6
    report("first lap read", times[0], "ms (server side)")
    report("median lap read", statistics.median(times), f"ms over {REPEATS} sessions")
    report("table per million samples", table_bytes / millions / 2**20, "MiB")
    report("index per million samples", index_bytes / millions / 2**20, "MiB")
    print(f"lap_read_ms: {statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
