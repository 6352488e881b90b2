"""Training-data and feature-rebuild endpoints on the local stack."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse

import pytest
from api_helpers import call, error_code, get_json, new_key, run_sql

pytestmark = pytest.mark.stack

# iRacing ids used only by this module's rows.
SUBSESSIONS = (880001, 880002, 880003)
DRIVERS = (770001, 770002)


def _row(subsession_id: int, cust_id: int, start_time: str, **extra) -> dict:
    return {"subsession_id": subsession_id, "cust_id": cust_id, "simsession_number": 0,
            "start_time": start_time, "team_event": False, "field_size": 20, "prior_races": 3,
            "form_races": 3, "driver_track_prior_races": 1, "track_prior_races": 10,
            "tel_prior_sessions": 0, "track_id": 77, "car_id": 5, "oldi_rating": 1500,
            "old_safety_rating": 3.47, "air_temp_c": 21.5, "target_finish_position_1": 4,
            "target_dnf": False, **extra}


ROWS = [
    _row(SUBSESSIONS[0], DRIVERS[0], "2025-03-01T18:00:00+00:00"),
    _row(SUBSESSIONS[1], DRIVERS[0], "2025-03-08T18:00:00+00:00", oldi_rating=1540),
    _row(SUBSESSIONS[2], DRIVERS[1], "2025-03-15T18:00:00+00:00", track_id=78),
]


def _post(state, body, key: str | None = "stack"):
    return call(state, "POST", "/v1/training-data", json.dumps(body).encode(),
                headers={"Content-Type": "application/json"}, key=key)


@pytest.fixture(scope="module")
def stored_rows(local_stack):
    for cust_id in DRIVERS:
        run_sql(local_stack, "INSERT INTO ir_drivers (cust_id, display_name) VALUES (:c, 'Test') "
                             "ON CONFLICT DO NOTHING", c=cust_id)
    for subsession_id in SUBSESSIONS:
        run_sql(local_stack, "INSERT INTO ir_subsessions (subsession_id, source_name) VALUES (:s, 'test') "
                             "ON CONFLICT DO NOTHING", s=subsession_id)
    reply = _post(local_stack, {"rows": ROWS})
    assert reply.status == 200, reply.raw
    return reply.body


def _read(state, **query) -> dict:
    return get_json(state, "/v1/training-data?" + urllib.parse.urlencode(query))


def test_training_upsert_inserts(stored_rows):
    assert stored_rows == {"inserted": 3, "updated": 0, "unchanged": 0}


def test_training_upsert_updates(local_stack, stored_rows):
    changed = dict(ROWS[0], oldi_rating=1620)
    reply = _post(local_stack, {"rows": [changed]})
    assert reply.body == {"inserted": 0, "updated": 1, "unchanged": 0}
    body = _read(local_stack, subsession_id=SUBSESSIONS[0], columns="oldi_rating")
    assert body["items"] == [{"subsession_id": SUBSESSIONS[0], "cust_id": DRIVERS[0], "oldi_rating": 1620}]
    _post(local_stack, {"rows": [ROWS[0]]})


def test_training_read_filtered_json(local_stack, stored_rows):
    body = _read(local_stack, cust_id=DRIVERS[0])
    assert [item["subsession_id"] for item in body["items"]] == [SUBSESSIONS[0], SUBSESSIONS[1]]
    first = body["items"][0]
    assert first["start_time"] == "2025-03-01T18:00:00+00:00"
    assert first["old_safety_rating"] == 3.47
    assert first["team_event"] is False
    assert first["form_win_rate"] is None
    assert body["next_cursor"] is None


def test_training_filter_track_and_time(local_stack, stored_rows):
    body = _read(local_stack, track_id=77, started_after="2025-03-05T00:00:00Z",
                 started_before="2025-03-20T00:00:00Z")
    assert [item["subsession_id"] for item in body["items"]] == [SUBSESSIONS[1]]


def test_training_cursor_pages(local_stack, stored_rows):
    seen, cursor = [], None
    for _ in range(5):
        query = {"started_after": "2025-03-01T00:00:00Z", "started_before": "2025-03-31T00:00:00Z",
                 "limit": 1, "columns": "cust_id"}
        if cursor:
            query["cursor"] = cursor
        body = _read(local_stack, **query)
        seen += [(item["subsession_id"], item["cust_id"]) for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [(SUBSESSIONS[0], DRIVERS[0]), (SUBSESSIONS[1], DRIVERS[0]), (SUBSESSIONS[2], DRIVERS[1])]


def test_training_csv(local_stack, stored_rows):
    reply = call(local_stack, "GET", f"/v1/training-data?cust_id={DRIVERS[0]}&columns=oldi_rating,target_dnf"
                                     "&format=csv&limit=1")
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.raw.decode())))
    assert rows == [["subsession_id", "cust_id", "oldi_rating", "target_dnf"],
                    [str(SUBSESSIONS[0]), str(DRIVERS[0]), "1500", "false"]]
    assert reply.headers["x-next-cursor"]


def test_training_parquet(local_stack, stored_rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    reply = call(local_stack, "GET", f"/v1/training-data?cust_id={DRIVERS[0]}",
                 headers={"Accept": "application/vnd.apache.parquet"})
    table = pq.read_table(io.BytesIO(reply.raw))
    assert table.num_rows == 2
    assert table.schema.field("subsession_id").type == pa.int64()
    assert table.schema.field("start_time").type == pa.timestamp("us", tz="UTC")
    assert table.column("old_safety_rating").to_pylist() == [3.47, 3.47]
    assert table.column("oldi_rating").to_pylist() == [1500, 1540]


@pytest.mark.parametrize("query, message", [
    ("columns=nope", "parameter columns names unknown column 'nope'"),
    ("cust_id=-1", "parameter cust_id must be at least 0"),
    ("limit=5001", "parameter limit must be at most 5000"),
    ("cursor=abc", "parameter cursor is not valid"),
])
def test_training_bad_query_422(local_stack, query, message):
    reply = call(local_stack, "GET", f"/v1/training-data?{query}")
    assert reply.status == 422
    assert reply.body["error"]["message"].startswith(message)


@pytest.mark.parametrize("body, message", [
    ({"rows": [dict(ROWS[0], colour="red")]}, "parameter rows[0].colour is not a column"),
    ({"rows": [{"cust_id": 1}]}, "parameter rows[0].subsession_id must be a non-negative integer"),
    ({"rows": [dict(ROWS[0], oldi_rating="high")]}, "rows rejected by the database: invalid input syntax"),
    ({"rows": [_row(999999999, DRIVERS[0], "2025-01-01T00:00:00Z")]},
     "rows rejected by the database: insert or update on table \"ml_training_data\" violates foreign key"),
    ({"rows": [{"subsession_id": SUBSESSIONS[0], "cust_id": DRIVERS[1], "oldi_rating": 1}]},
     "rows rejected by the database: null value in column"),
    ({"rows": [ROWS[0], ROWS[0]]}, "parameter rows[1] repeats subsession_id"),
    ({"rows": [dict(ROWS[0], oldi_rating=[1])]}, "parameter rows[0].oldi_rating must be a number"),
    ({"rows": []}, "parameter rows must hold at least one row"),
    ({"items": []}, "parameter rows is required"),
    ({"rows": [ROWS[0]], "extra": 1}, "parameter extra is not a field of this request"),
])
def test_training_bad_rows_422(local_stack, stored_rows, body, message):
    reply = _post(local_stack, body)
    assert reply.status == 422
    assert error_code(reply) == "invalid_parameter"
    assert reply.body["error"]["message"].startswith(message)


def test_training_bad_rows_change_nothing(local_stack, stored_rows):
    good = dict(ROWS[2], oldi_rating=9999)
    bad = _row(999999999, DRIVERS[0], "2025-01-01T00:00:00Z")
    assert _post(local_stack, {"rows": [good, bad]}).status == 422
    body = _read(local_stack, subsession_id=SUBSESSIONS[2], columns="oldi_rating")
    assert body["items"][0]["oldi_rating"] == 1500


def test_training_post_read_only_403(local_stack, stored_rows):
    key = new_key(local_stack, "training-reader", scopes=("read",))
    assert _post(local_stack, {"rows": [ROWS[0]]}, key=key).status == 403
    assert call(local_stack, "GET", "/v1/training-data?limit=1", key=key).status == 200


def test_features_rebuild_bad_body_422(local_stack):
    reply = call(local_stack, "POST", "/v1/features:rebuild", b'{"mode": "sometimes"}')
    assert reply.status == 422
    assert "mode must be 'full' or 'incremental'" in reply.body["error"]["message"]


def test_features_rebuild_body_over_limit_413(local_stack):
    reply = call(local_stack, "POST", "/v1/features:rebuild", b" " * 5000)
    assert reply.status == 413


def test_features_rebuild_read_only_403(local_stack):
    key = new_key(local_stack, "rebuild-reader", scopes=("read",))
    assert call(local_stack, "POST", "/v1/features:rebuild", key=key).status == 403


def test_features_rebuild_runs(local_stack, stored_rows):
    # Last in this module: a full build recomputes the table from the stored results.
    reply = call(local_stack, "POST", "/v1/features:rebuild", b'{"mode": "incremental"}')
    assert reply.status == 200, reply.raw
    assert reply.body["mode"] in ("incremental", "full")
    assert "rows_total" in reply.body
    full = call(local_stack, "POST", "/v1/features:rebuild")
    assert full.status == 200
    assert full.body["mode"] == "full"
