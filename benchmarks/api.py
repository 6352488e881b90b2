"""HTTP API latency under load: GET /health against one lap of three channels of telemetry.

Starts its own local stack in a temporary state folder, or uses the running one with
``--use-running``. Its own stack has rate limits so high that no request gets 429, but the
limiter still counts every request. The script uploads a generated MoTeC CSV of LAPS laps of
90 s at 60 Hz through the bucket and waits until it is ready. Then, for each endpoint, --clients
threads on 127.0.0.1 each keep one HTTP connection open and send requests back to back for
--seconds seconds (after a warm-up):

- ``GET /health`` (checks the database, counts the client address);
- ``GET /v1/sessions/{id}/telemetry?channels=speed,throttle,brake&lap=2``: one 90 s lap,
  5,401 rows of three channels as columnar JSON (API key checked, key and address counted).

It reports p50 and p99 latency and requests per second for each. The last line is
``telemetry_p99_vs_health_p99: RATIO`` (goal at most 5).

Run: ``.venv/bin/python benchmarks/api.py [--clients N] [--seconds S] [--use-running]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time

from _common import report

LAPS = 4
LAP_S = 90.0
RATE_HZ = 60
CHANNELS = "speed,throttle,brake"
WARMUP_S = 2.0
# Rate limits for the benchmark's own stack: high enough that the load never reaches them.
LIMIT_ENV = {"API_RATE_LIMIT_PER_KEY": "1000000000", "API_RATE_LIMIT_PER_ADDRESS": "1000000000"}


def log_file() -> bytes:
    """Generate a MoTeC CSV export of LAPS laps of a 4 km lap, with a beacon at the end of each lap."""
    import math

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from api_helpers import motec_csv

    rows = []
    for i in range(int(LAPS * LAP_S * RATE_HZ) + 1):
        t = i / RATE_HZ
        phase = 2 * math.pi * (t % LAP_S) / LAP_S
        speed = 160 + 70 * math.sin(3 * phase)
        throttle = max(0.0, 100 * math.sin(3 * phase + 0.3))
        brake = max(0.0, -100 * math.sin(3 * phase + 0.3))
        rows.append([t, speed, throttle, brake, 3 + int(2 * math.sin(3 * phase)), (t % LAP_S) * 44.4])
    return motec_csv(["Ground Speed", "Throttle Pos", "Brake Pos", "Gear", "Lap Distance"],
                     ["km/h", "%", "%", "", "m"], rows, venue="Benchmark Ring", vehicle="Bench Car",
                     driver="Bench Driver", beacons_s=[LAP_S * (n + 1) for n in range(LAPS - 1)])


def load_session(state) -> str:
    import hashlib

    os.environ.update({k: v for k, v in state.env.items() if k != "DATABASE_URL"})
    from common import gcp

    data = log_file()
    session_id = hashlib.sha256(data).hexdigest()
    gcp.storage_client().bucket("simtel-raw").blob("incoming/api-benchmark.csv").upload_from_string(data)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status, body = get(state, f"/v1/sessions/{session_id}")
        if status == 200 and body["status"] in ("ready", "failed"):
            if body["status"] != "ready":
                raise SystemExit(f"benchmark session failed: {body['reason']}")
            return session_id
        time.sleep(0.5)
    raise SystemExit("benchmark session not ready within 300 s")


def get(state, path: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", state.ports["api"], timeout=60)
    try:
        conn.request("GET", path, headers={"X-API-Key": state.env["SIMTEL_API_KEY"]})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}
    finally:
        conn.close()


def hammer(state, path: str, clients: int, seconds: float) -> tuple[list[float], int, int]:
    """Send requests from ``clients`` threads for ``seconds``; return latencies (s), errors, bytes."""
    latencies: list[float] = []
    errors = [0]
    size = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", state.ports["api"], timeout=60)
        headers = {"X-API-Key": state.env["SIMTEL_API_KEY"]}
        mine: list[float] = []
        failed = 0
        body = b""
        start.wait()
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            mine.append(time.perf_counter() - t0)
            if response.status != 200:
                failed += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            size[0] = len(body)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    return latencies, errors[0], size[0]


def measure(state, label: str, path: str, clients: int, seconds: float) -> float:
    hammer(state, path, clients, WARMUP_S)
    latencies, errors, size = hammer(state, path, clients, seconds)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    report(f"{label} requests", len(latencies))
    report(f"{label} non-200 answers", errors)
    report(f"{label} response size", size, "bytes")
    report(f"{label} p50", p50, "ms")
    report(f"{label} p99", p99, "ms")
    report(f"{label} rate", len(latencies) / seconds, "requests/s")
    if errors:
        print(f"warning: {errors} {label} requests did not answer 200 (rate limit of a running stack?)")
    return p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per endpoint (default 10)")
    parser.add_argument("--use-running", action="store_true",
                        help="use the running local stack instead of starting one")
    args = parser.parse_args()

    from common.local import stack

    started_here = False
    if args.use_running:
        state = stack.running()
        if state is None:
            raise SystemExit("no local stack running; start one with 'simtel local up' or drop --use-running")
    else:
        os.environ["SIMTEL_STATE_DIR"] = tempfile.mkdtemp(prefix="simtel-api-bench-")
        print("starting a local stack ...", flush=True)
        state = stack.up(log=lambda *_: None, function_env=LIMIT_ENV)
        started_here = True
    try:
        session_id = load_session(state)
        print(f"session {session_id}: {LAPS} laps of {LAP_S:g} s at {RATE_HZ} Hz; "
              f"{args.clients} clients, {args.seconds:g} s per endpoint", flush=True)
        health_p99 = measure(state, "health", "/health", args.clients, args.seconds)
        telemetry = f"/v1/sessions/{session_id}/telemetry?channels={CHANNELS}&lap=2"
        telemetry_p99 = measure(state, "telemetry", telemetry, args.clients, args.seconds)
    finally:
        if started_here:
            stack.down()
    print(f"telemetry_p99_vs_health_p99: {telemetry_p99 / health_p99:.2f}")


if __name__ == "__main__":
    main()
