"""Telemetry, laps and lap comparison on the local stack, from MoTeC CSV files the tests write.

The two-lap session (tests/api_helpers.py) is sampled at 20 Hz. Lap 0 runs from 0 to 30 s at a
constant 120 km/h, lap 1 from 30 to 66 s at 100 km/h, both over 1000 m. Throttle is 80 %, gear
4 then 3, and one full-brake sample sits at 12.35 s. A beacon at 30 s splits the laps.
"""

from __future__ import annotations

import csv
import io
import urllib.parse
import uuid

import pytest
from api_helpers import BRAKE_SPIKE_S, call, error_code, get_json, motec_csv, run_sql, two_lap_rows
from stack_helpers import sha, upload, wait_session

pytestmark = pytest.mark.stack

TAG = uuid.uuid4().hex[:8]
NAMES = ["Ground Speed", "Throttle Pos", "Brake Pos", "Gear", "Lap Distance"]
UNITS = ["km/h", "%", "%", "", "m"]


def _store(state, name: str, data: bytes) -> str:
    upload(f"incoming/{name}", data)
    body = wait_session(state, sha(data))
    assert body["status"] == "ready", body["reason"]
    return sha(data)


@pytest.fixture(scope="module")
def two_laps(local_stack) -> str:
    data = motec_csv(NAMES, UNITS, two_lap_rows(), venue=f"Telemetry Track {TAG}", vehicle="Car",
                     driver="Driver", beacons_s=[30.0])
    return _store(local_stack, f"two-laps-{TAG}.csv", data)


def _telemetry(state, session_id: str, **query):
    return call(state, "GET", f"/v1/sessions/{session_id}/telemetry?" + urllib.parse.urlencode(query))


def test_telemetry_values_in_range(local_stack, two_laps):
    reply = _telemetry(local_stack, two_laps, channels="speed,gear,Throttle Pos", start_s=10, end_s=10.2)
    assert reply.status == 200
    body = reply.body
    assert body["elapsed_s"] == [10.0, 10.05, 10.1, 10.15, 10.2]
    assert body["channels"]["speed"]["values"] == [120.0] * 5
    assert body["channels"]["speed"]["source_name"] == "Ground Speed"
    assert body["channels"]["speed"]["unit"] == "km/h"
    assert body["channels"]["gear"]["values"] == [4] * 5
    assert body["channels"]["gear"]["integer"] is True
    assert body["channels"]["Throttle Pos"]["values"] == [0.8] * 5
    assert body["rows_read"] == 5
    assert body["truncated"] is False
    assert body["downsample"] is None


def test_telemetry_float32_printed_short(local_stack, two_laps):
    reply = _telemetry(local_stack, two_laps, channels="throttle", start_s=0, end_s=0)
    assert b'"values":[0.8]' in reply.raw


def test_telemetry_lap_window(local_stack, two_laps):
    body = _telemetry(local_stack, two_laps, channels="speed", lap=1).body
    assert body["lap"] == 1
    assert body["start_s"] == 30.0
    assert body["end_s"] == 66.0
    assert body["elapsed_s"][0] == 30.0
    assert body["elapsed_s"][-1] == 66.0
    assert len(body["elapsed_s"]) == 721
    assert set(body["channels"]["speed"]["values"]) == {100.0}


def test_telemetry_csv(local_stack, two_laps):
    reply = _telemetry(local_stack, two_laps, channels="speed,gear", start_s=29.95, end_s=30.0, format="csv")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.raw.decode())))
    assert rows == [["elapsed_s", "speed", "gear"], ["29.95", "120.0", "4"], ["30.0", "100.0", "3"]]


def test_telemetry_accept_header_csv(local_stack, two_laps):
    reply = call(local_stack, "GET", f"/v1/sessions/{two_laps}/telemetry?channels=speed&end_s=0.1",
                 headers={"Accept": "text/csv"})
    assert reply.headers["content-type"].startswith("text/csv")
    assert reply.raw.decode().splitlines()[0] == "elapsed_s,speed"


def test_telemetry_parquet(local_stack, two_laps):
    import pyarrow as pa
    import pyarrow.parquet as pq

    reply = _telemetry(local_stack, two_laps, channels="speed,gear", lap=0, format="parquet")
    assert reply.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(reply.raw))
    assert table.column_names == ["elapsed_s", "speed", "gear"]
    assert table.num_rows == 601
    assert table.schema.field("gear").type == pa.int64()
    assert table.schema.field("speed").type == pa.float32()
    assert table.schema.field("speed").metadata[b"unit"] == b"km/h"
    assert table.column("gear").to_pylist()[:2] == [4, 4]


def test_telemetry_minmax_keeps_spike(local_stack, two_laps):
    body = _telemetry(local_stack, two_laps, channels="brake,speed", max_points=40).body
    assert body["rows_read"] == 1321
    assert body["points"] <= 40
    assert body["downsample"] == "minmax"
    index = body["elapsed_s"].index(BRAKE_SPIKE_S)
    assert body["channels"]["brake"]["values"][index] == 1.0
    assert max(body["channels"]["brake"]["values"]) == 1.0


def test_telemetry_lttb_keeps_spike(local_stack, two_laps):
    body = _telemetry(local_stack, two_laps, channels="brake", max_points=30, downsample="lttb").body
    assert body["points"] <= 30
    assert body["downsample"] == "lttb"
    assert BRAKE_SPIKE_S in body["elapsed_s"]


def test_telemetry_limit_truncates(local_stack, two_laps):
    body = _telemetry(local_stack, two_laps, channels="speed", limit=10).body
    assert body["points"] == 10
    assert body["truncated"] is True
    assert body["elapsed_s"][-1] == 0.45


@pytest.mark.parametrize("query, message", [
    ({}, "parameter channels is required"),
    ({"channels": "speed", "start_s": 5, "end_s": 4}, "parameter end_s must not be before start_s"),
    ({"channels": "speed", "lap": 0, "start_s": 1}, "parameters lap and start_s/end_s exclude each other"),
    ({"channels": "speed,brake", "max_points": 3}, "parameter max_points must be at least 2 per channel"),
    ({"channels": "speed", "max_points": 2, "downsample": "lttb"},
     "parameter max_points must be at least 3 per channel"),
    ({"channels": "speed", "format": "xml"}, "parameter format must be one of json, csv, parquet"),
    ({"channels": "speed,speed"}, "parameter channels names a channel more than once"),
    ({"channels": "speed", "lap": -1}, "parameter lap must be at least 0"),
    ({"channels": "speed", "start_s": "nan"}, "parameter start_s must be a finite number"),
    ({"channels": "speed", "downsample": "average"}, "parameter downsample must be one of minmax, lttb"),
])
def test_telemetry_bad_parameter_422(local_stack, two_laps, query, message):
    reply = _telemetry(local_stack, two_laps, **query)
    assert reply.status == 422
    assert error_code(reply) == "invalid_parameter"
    assert reply.body["error"]["message"].startswith(message)


def test_telemetry_unknown_channel_404(local_stack, two_laps):
    reply = _telemetry(local_stack, two_laps, channels="speed,boost")
    assert reply.status == 404
    message = reply.body["error"]["message"]
    assert message.startswith(f"channel 'boost' not found in session {two_laps}; its channels are: ")
    assert "speed" in message


def test_telemetry_unknown_lap_404(local_stack, two_laps):
    reply = _telemetry(local_stack, two_laps, channels="speed", lap=7)
    assert reply.status == 404
    assert reply.body["error"]["message"] == f"lap 7 of session {two_laps} not found"


def test_telemetry_unknown_session_404(local_stack):
    reply = _telemetry(local_stack, "cd" * 32, channels="speed")
    assert reply.status == 404
    assert error_code(reply) == "not_found"


def test_laps_listed(local_stack, two_laps):
    body = get_json(local_stack, f"/v1/sessions/{two_laps}/laps")
    laps = body["laps"]
    assert [lap["number"] for lap in laps] == [0, 1]
    assert [lap["kind"] for lap in laps] == ["out", "in"]
    assert laps[0]["lap_time_s"] == pytest.approx(30.0)
    assert laps[1]["lap_time_s"] == pytest.approx(36.0)
    assert laps[1]["start_s"] == pytest.approx(30.0)
    assert laps[0]["source"] == "beacon"
    assert body["best_lap"] is None


def test_laps_unknown_session_404(local_stack):
    reply = call(local_stack, "GET", f"/v1/sessions/{'ef' * 32}/laps")
    assert reply.status == 404


def test_compare_on_lap_distance(local_stack, two_laps):
    body = get_json(local_stack, f"/v1/laps/compare?a={two_laps}:0&b={two_laps}:1&points=11")
    assert body["a"]["distance_source"] == "lap_distance"
    assert body["compared_length_m"] == pytest.approx(1000.0, abs=0.5)
    assert body["distance_m"][5] == pytest.approx(body["compared_length_m"] / 2)
    # At a constant 120 and 100 km/h, b falls behind by 0.006 s per metre.
    assert body["delta_s"][0] == pytest.approx(0.0, abs=0.01)
    assert body["delta_s"][5] == pytest.approx(3.0, abs=0.01)
    assert body["final_delta_s"] == pytest.approx(6.0, abs=0.01)
    assert body["speed_a_kmh"][3] == pytest.approx(120.0)
    assert body["speed_b_kmh"][3] == pytest.approx(100.0)
    assert len(body["time_a_s"]) == 11


def test_compare_on_integrated_speed(local_stack):
    rows = [row[:5] for row in two_lap_rows()]
    data = motec_csv(NAMES[:4], UNITS[:4], rows, venue=f"Speed Only {TAG}", vehicle="Car", driver="Driver",
                     beacons_s=[30.0])
    session_id = _store(local_stack, f"speed-only-{TAG}.csv", data)
    body = get_json(local_stack, f"/v1/laps/compare?a={session_id}:0&b={session_id}:1&points=3")
    assert body["a"]["distance_source"] == "speed"
    assert body["b"]["length_m"] == pytest.approx(1000.0, abs=0.01)
    assert body["final_delta_s"] == pytest.approx(6.0, abs=0.01)


def test_compare_two_sessions(local_stack, two_laps):
    body = get_json(local_stack, f"/v1/laps/compare?a={two_laps}:1&b={two_laps}:0&points=5")
    assert body["a"]["lap"] == 1
    assert body["final_delta_s"] == pytest.approx(-6.0, abs=0.01)


@pytest.mark.parametrize("query, status, message", [
    ("a=xyz&b=xyz", 422, "parameter a must match"),
    ("b={sid}:0", 422, "parameter a is required"),
    ("a={sid}:0&b={sid}:9", 404, "lap 9 of session"),
    ("a={sid}:0&b={sid}:1&points=1", 422, "parameter points must be at least 2"),
])
def test_compare_bad_request(local_stack, two_laps, query, status, message):
    reply = call(local_stack, "GET", "/v1/laps/compare?" + query.format(sid=two_laps))
    assert reply.status == status
    assert message in reply.body["error"]["message"]


SQL_NAMES = ['Speed"; DROP TABLE samples;--', "O'Brien", "Temp, Inner", "x' OR '1'='1"]


def test_sql_like_channel_names_round_trip(local_stack):
    names = ["Ground Speed"] + SQL_NAMES
    rows = [[i / 10.0, 100.0 + i, 1.5 * i, 2.0 * i, 3.0 * i, 4.0 * i] for i in range(8)]
    data = motec_csv(names, ["km/h", "km/h", "bar", "C", "%"], rows, venue=f"Quote's Track {TAG}",
                     vehicle='Car "Q"', driver="Robert'); --")
    session_id = _store(local_stack, f"quotes-{TAG}.csv", data)

    detail = get_json(local_stack, f"/v1/sessions/{session_id}")
    assert [c["name"] for c in detail["channels"]] == names
    assert detail["track"] == f"Quote's Track {TAG}"
    assert detail["driver"] == "Robert'); --"

    listed = get_json(local_stack, "/v1/sessions?" + urllib.parse.urlencode({"driver": "Robert'); --"}))
    assert [item["id"] for item in listed["items"]] == [session_id]

    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(SQL_NAMES)
    body = _telemetry(local_stack, session_id, channels=out.getvalue()).body
    assert list(body["channels"]) == SQL_NAMES
    assert body["channels"]['Speed"; DROP TABLE samples;--']["values"][2] == 3.0
    assert body["channels"]["O'Brien"]["values"][2] == 4.0
    assert body["channels"]["Temp, Inner"]["values"][7] == 21.0
    assert body["channels"]["x' OR '1'='1"]["values"][7] == 28.0

    reply = _telemetry(local_stack, session_id, channels=out.getvalue(), format="csv")
    header = next(csv.reader(io.StringIO(reply.raw.decode())))
    assert header == ["elapsed_s"] + SQL_NAMES

    assert run_sql(local_stack, "SELECT count(*) FROM samples")[0][0] > 0
