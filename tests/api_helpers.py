"""Helpers for the HTTP API tests: raw requests, API keys, and MoTeC CSV files written by the tests."""

from __future__ import annotations

import csv
import http.client
import io
import json
from dataclasses import dataclass, field

from common.db.connect import connect


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes
    body: object = field(default=None)


def call(state, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         key: str | None = "stack") -> Reply:
    """Send one request to the stack's API; ``key="stack"`` sends the stack's own API key."""
    all_headers = dict(headers or {})
    if key == "stack":
        all_headers.setdefault("X-API-Key", state.env["SIMTEL_API_KEY"])
    elif key is not None:
        all_headers.setdefault("X-API-Key", key)
    conn = http.client.HTTPConnection("127.0.0.1", state.ports["api"], timeout=60)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)
    finally:
        conn.close()
    if reply.headers.get("content-type", "").startswith("application/json") and raw:
        reply.body = json.loads(raw)
    return reply


def get_json(state, path: str, **kwargs) -> dict:
    reply = call(state, "GET", path, **kwargs)
    assert reply.status == 200, f"GET {path} answered {reply.status}: {reply.raw[:500]!r}"
    return reply.body


def error_code(reply: Reply) -> str:
    """Return error.code of an error reply, checking the stable error shape on the way."""
    assert isinstance(reply.body, dict), reply.raw[:300]
    assert set(reply.body) == {"error"}, reply.body
    assert set(reply.body["error"]) == {"code", "message"}, reply.body
    return reply.body["error"]["code"]


def run_sql(state, sql: str, **params):
    conn = connect(state.database_url)
    try:
        return conn.run(sql, **params)
    finally:
        conn.close()


def new_key(state, name: str, scopes=("read", "write"), rate_limit: int | None = None) -> str:
    from common.api.keys import create_key

    conn = connect(state.database_url)
    try:
        token, _ = create_key(conn, name, tuple(scopes), rate_limit)
    finally:
        conn.close()
    return token


def motec_csv(names: list[str], units: list[str], rows: list[list[float]], *, venue: str, vehicle: str,
              driver: str, beacons_s: list[float] | None = None, log_date: str = "2025-05-17",
              log_time: str = "09:41:07") -> bytes:
    """Write a MoTeC i2 CSV export: the metadata block, names, units, then the data rows.

    ``names`` and ``units`` exclude the Time column, which is written first.
    """
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    rate_hz = round(1.0 / (rows[1][0] - rows[0][0]), 3) if len(rows) > 1 else 1.0
    markers = " ".join(f"{b:.3f}" for b in beacons_s or [])
    for line in (["Format", "MoTeC CSV File", "", "", "Workbook", ""],
                 ["Venue", venue, "", "", "Worksheet", ""],
                 ["Vehicle", vehicle, "", "", "Vehicle Desc", ""],
                 ["Driver", driver, "", "", "Engine ID", ""],
                 ["Device", "ADL"],
                 ["Comment", "", "", "", "Session", "Test"],
                 ["Log Date", log_date, "", "", "Origin Time", "0.000", "s"],
                 ["Log Time", log_time, "", "", "Start Time", f"{rows[0][0]:.3f}", "s"],
                 ["Sample Rate", f"{rate_hz:.3f}", "Hz", "", "End Time", f"{rows[-1][0]:.3f}", "s"],
                 ["Beacon Markers", markers]):
        writer.writerow(line)
    out.write("\n\n")
    writer.writerow(["Time"] + names)
    writer.writerow(["s"] + units)
    out.write("\n\n")
    for row in rows:
        writer.writerow([f"{row[0]:.3f}"] + [f"{v:.4f}" for v in row[1:]])
    return out.getvalue().encode()


# The two-lap session, sampled at 20 Hz: the first lap at a constant 120 km/h for 30 s, the
# second at 100 km/h for 36 s, both over 1000 m. One full-brake sample sits at BRAKE_SPIKE_S.
RATE_HZ = 20
LAP1_S = 30.0
LAP2_S = 36.0
LAP_M = 1000.0
BRAKE_SPIKE_S = 12.35


def two_lap_rows() -> list[list[float]]:
    """Rows of (time, speed km/h, throttle %, brake %, gear, lap distance m)."""
    rows = []
    total = int((LAP1_S + LAP2_S) * RATE_HZ)
    for i in range(total + 1):
        t = i / RATE_HZ
        if t < LAP1_S:
            speed, lap_distance, gear = 120.0, t * 120.0 / 3.6, 4
        else:
            speed, lap_distance, gear = 100.0, (t - LAP1_S) * 100.0 / 3.6, 3
        brake = 100.0 if abs(t - BRAKE_SPIKE_S) < 1e-9 else 0.0
        rows.append([t, speed, 80.0, brake, gear, min(lap_distance, LAP_M)])
    return rows
