"""Session endpoints on the local stack: health, list filters and pages, detail, delete."""

from __future__ import annotations

import urllib.parse
import uuid

import pytest
from api_helpers import call, error_code, get_json, motec_csv, run_sql
from stack_helpers import sha, upload, wait_session

pytestmark = pytest.mark.stack

TAG = uuid.uuid4().hex[:8]
# (venue, vehicle, driver, log date) of the three sessions the list tests filter.
SESSIONS = [
    (f"Track A {TAG}", f"Car X {TAG}", f"Driver {TAG}", "2024-01-10"),
    (f"Track B {TAG}", f"Car X {TAG}", f"Driver {TAG}", "2024-06-10"),
    (f"Track A {TAG}", f"Car Y {TAG}", f"Driver {TAG}", "2025-01-10"),
]


def _small_log(venue: str, vehicle: str, driver: str, log_date: str) -> bytes:
    rows = [[i / 10.0, 100.0 + i, 50.0, 3] for i in range(6)]
    return motec_csv(["Ground Speed", "Throttle Pos", "Gear"], ["km/h", "%", ""], rows, venue=venue,
                     vehicle=vehicle, driver=driver, log_date=log_date, log_time="10:00:00")


@pytest.fixture(scope="module")
def three_sessions(local_stack):
    # One at a time, so that the sessions are stored (and listed newest first) in this order.
    ids = []
    for i, (venue, vehicle, driver, log_date) in enumerate(SESSIONS):
        data = _small_log(venue, vehicle, driver, log_date)
        upload(f"incoming/list-{TAG}-{i}.csv", data)
        assert wait_session(local_stack, sha(data))["status"] == "ready"
        ids.append(sha(data))
    return ids


def _list(state, **query) -> dict:
    return get_json(state, "/v1/sessions?" + urllib.parse.urlencode(query))


def test_health_needs_no_key(local_stack):
    reply = call(local_stack, "GET", "/health", key=None)
    assert reply.status == 200
    assert reply.body == {"status": "ok", "database": "ok"}


def test_sessions_need_a_key(local_stack):
    reply = call(local_stack, "GET", "/v1/sessions", key=None)
    assert reply.status == 401
    assert error_code(reply) == "unauthenticated"


def test_sessions_filter_by_track(local_stack, three_sessions):
    body = _list(local_stack, track=f"Track A {TAG}")
    assert {item["id"] for item in body["items"]} == {three_sessions[0], three_sessions[2]}


def test_sessions_filter_by_car_and_track(local_stack, three_sessions):
    body = _list(local_stack, track=f"Track A {TAG}", car=f"Car X {TAG}")
    assert [item["id"] for item in body["items"]] == [three_sessions[0]]


def test_sessions_filter_by_driver_newest_first(local_stack, three_sessions):
    body = _list(local_stack, driver=f"Driver {TAG}")
    assert [item["id"] for item in body["items"]] == three_sessions[::-1]
    assert body["next_cursor"] is None


def test_sessions_filter_by_format_and_status(local_stack, three_sessions):
    body = _list(local_stack, driver=f"Driver {TAG}", format="motec_csv", status="ready")
    assert len(body["items"]) == 3
    assert _list(local_stack, driver=f"Driver {TAG}", status="failed")["items"] == []
    assert _list(local_stack, driver=f"Driver {TAG}", format="vbo")["items"] == []


def test_sessions_filter_by_start_time(local_stack, three_sessions):
    body = _list(local_stack, driver=f"Driver {TAG}", started_after="2024-03-01T00:00:00Z",
                 started_before="2025-01-10T10:00:00Z")
    assert [item["id"] for item in body["items"]] == [three_sessions[1]]


def test_sessions_start_bound_inclusive(local_stack, three_sessions):
    # The file gives no time zone: its local start, 2025-01-10 10:00:00, is compared as UTC.
    body = _list(local_stack, driver=f"Driver {TAG}", started_after="2025-01-10T10:00:00Z")
    assert [item["id"] for item in body["items"]] == [three_sessions[2]]
    assert body["items"][0]["start_local"] == "2025-01-10T10:00:00"


def test_sessions_filter_by_created_time(local_stack, three_sessions):
    assert _list(local_stack, driver=f"Driver {TAG}", created_after="2999-01-01T00:00:00Z")["items"] == []
    body = _list(local_stack, driver=f"Driver {TAG}", created_before="2999-01-01T00:00:00Z")
    assert len(body["items"]) == 3


def test_sessions_cursor_pages(local_stack, three_sessions):
    seen = []
    cursor = None
    for _ in range(4):
        query = {"driver": f"Driver {TAG}", "limit": 1}
        if cursor:
            query["cursor"] = cursor
        body = _list(local_stack, **query)
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == three_sessions[::-1]
    assert cursor is None


@pytest.mark.parametrize("query, message", [
    ("limit=0", "parameter limit must be at least 1, found 0"),
    ("limit=501", "parameter limit must be at most 500, found 501"),
    ("limit=ten", "parameter limit must be an integer, found 'ten'"),
    ("status=finished", "parameter status must be one of received, parsing, loading, ready, failed"),
    ("started_after=yesterday", "parameter started_after must be an ISO 8601 date-time"),
    ("cursor=not-a-cursor", "parameter cursor is not valid"),
    ("colour=red", "parameter colour is not a parameter of this endpoint"),
    ("track=", "parameter track must not be empty"),
    ("limit=2&limit=3", "parameter limit is given more than once"),
])
def test_sessions_bad_parameter_422(local_stack, query, message):
    reply = call(local_stack, "GET", f"/v1/sessions?{query}")
    assert reply.status == 422
    assert error_code(reply) == "invalid_parameter"
    assert reply.body["error"]["message"].startswith(message)


def test_session_detail_fields(local_stack, three_sessions):
    body = get_json(local_stack, f"/v1/sessions/{three_sessions[0]}")
    assert body["id"] == three_sessions[0]
    assert body["status"] == "ready"
    assert body["reason"] is None
    assert body["track"] == f"Track A {TAG}"
    assert body["sample_count"] == 6
    assert body["samples_stored"] == 6
    assert body["sources"][0]["object"] == f"incoming/list-{TAG}-0.csv"
    channels = {c["name"]: c for c in body["channels"]}
    assert channels["Throttle Pos"]["unit"] == "fraction"
    assert channels["Throttle Pos"]["source_unit"] == "%"
    assert channels["Throttle Pos"]["canonical"] == "throttle"
    assert channels["Ground Speed"]["provenance"] == "measured"
    assert body["quality"]["rows_read"] == 6
    assert body["metadata"]["driver"] == f"Driver {TAG}"
    assert isinstance(body["laps"], list)


def test_session_detail_accepts_upper_case_id(local_stack, three_sessions):
    body = get_json(local_stack, f"/v1/sessions/{three_sessions[0].upper()}")
    assert body["id"] == three_sessions[0]


def test_session_unknown_id_404(local_stack):
    reply = call(local_stack, "GET", "/v1/sessions/" + "ab" * 32)
    assert reply.status == 404
    assert error_code(reply) == "not_found"


@pytest.mark.parametrize("bad_id", ["abc", "g" * 64, "a" * 65])
def test_session_malformed_id_422(local_stack, bad_id):
    reply = call(local_stack, "GET", f"/v1/sessions/{bad_id}")
    assert reply.status == 422
    assert reply.body["error"]["message"].startswith("parameter session_id ")


def test_failed_session_has_reason(local_stack):
    data = b"\x00\x01 not telemetry " + TAG.encode()
    upload(f"incoming/broken-{TAG}.csv", data)
    body = wait_session(local_stack, sha(data))
    assert body["status"] == "failed"
    assert f"broken-{TAG}.csv" in body["reason"]
    detail = get_json(local_stack, f"/v1/sessions/{sha(data)}")
    assert detail["reason"] == body["reason"]


def test_delete_session_then_gone(local_stack):
    data = _small_log(f"Delete Track {TAG}", "Car", "Driver", "2025-02-02")
    upload(f"incoming/delete-{TAG}.csv", data)
    assert wait_session(local_stack, sha(data))["status"] == "ready"

    reply = call(local_stack, "DELETE", f"/v1/sessions/{sha(data)}")
    assert reply.status == 204
    assert reply.raw == b""
    assert call(local_stack, "GET", f"/v1/sessions/{sha(data)}").status == 404
    rows = run_sql(local_stack, "SELECT count(*) FROM samples s JOIN sessions USING (session_key) "
                                "WHERE session_id = :id", id=sha(data))
    assert rows[0][0] == 0
    again = call(local_stack, "DELETE", f"/v1/sessions/{sha(data)}")
    assert again.status == 404


def test_delete_busy_session_409_unless_forced(local_stack):
    session_id = sha(f"busy {TAG}".encode())
    run_sql(local_stack, "INSERT INTO sessions (session_id, status) VALUES (:id, 'loading')", id=session_id)

    reply = call(local_stack, "DELETE", f"/v1/sessions/{session_id}")
    assert reply.status == 409
    assert error_code(reply) == "conflict"
    assert "force=true" in reply.body["error"]["message"]

    forced = call(local_stack, "DELETE", f"/v1/sessions/{session_id}?force=true")
    assert forced.status == 204
    rows = run_sql(local_stack, "SELECT count(*) FROM sessions WHERE session_id = :id", id=session_id)
    assert rows[0][0] == 0


def test_unknown_route_404(local_stack):
    reply = call(local_stack, "GET", "/v1/nothing-here")
    assert reply.status == 404
    assert error_code(reply) == "not_found"


def test_wrong_method_405(local_stack):
    reply = call(local_stack, "PUT", "/v1/sessions")
    assert reply.status == 405
    assert error_code(reply) == "method_not_allowed"
    assert reply.headers["allow"] == "GET"
