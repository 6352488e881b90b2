"""The whole pipeline on the local stack: bucket upload -> parse -> Pub/Sub -> load -> HTTP API."""

from __future__ import annotations

import json
import os
import struct
import time
import zlib

import pytest

from common.chunks import encode_session
from common.formats import parse
from common.local import stack

from conftest import DATA, corpus_file
from stack_helpers import api, db_rows, http, sha, upload, wait_session

pytestmark = pytest.mark.stack

# Values read by hand from the files with a text editor: the first and last data rows, and the
# row count (lines after the two blank lines that follow the units row).
MOTEC_CORPUS = [
    {
        "file": "motec_csv/arcayik_gt_grand_valley_60hz.csv",
        "samples": 11700,
        "channels": ["Distance", "Vehicle Speed", "G Force Long", "G Force Lat", "G Force Vert",
                     "Throttle Pos", "Brake Press", "Gear", "Engine RPM", "Wheel Speed FL",
                     "Wheel Speed FR", "Wheel Speed RL", "Wheel Speed RR", "Steered Angle"],
        "units": {"Vehicle Speed": "km/h", "Throttle Pos": "fraction", "Brake Press": "bar",
                  "G Force Long": "g", "Steered Angle": "deg"},
        # (channel, elapsed_s, value in the stored unit)
        "values": [("Vehicle Speed", 0.0, 30.3), ("Engine RPM", 0.017, 2680.0),
                   ("Brake Press", 0.0, 3.74), ("Throttle Pos", 0.033, 0.973),
                   ("Vehicle Speed", 194.983, 191.9), ("Gear", 194.983, 5)],
        "track": "Grand Valley Speedway",
    },
    {
        "file": "motec_csv/jgbalves_Interlagos_Ohira_rfactor.csv",
        "samples": 4922,
        "channels": ["Distance", "Corr Speed", "Throttle Pos", "Brake Pedal Pos", "Steering Wheel Pct",
                     "Gear", "G Force Lat", "curvature", "Suspension Pos FR"],
        "units": {"Corr Speed": "km/h", "Suspension Pos FR": "mm", "Throttle Pos": "fraction"},
        "values": [("Corr Speed", 0.0, 257.7), ("Suspension Pos FR", 0.0, 38.26),
                   ("G Force Lat", 0.02, 0.0337), ("Gear", 0.039, 6), ("Distance", 96.113, 4237.0),
                   ("Suspension Pos FR", 96.113, 40.55)],
        "track": "Interlagos",
    },
    {
        "file": "motec_csv/kriscollier_ac_fs_uk_endurance_lap1.csv",
        "samples": 2853,
        "channels": ["Distance", "Brake Pos", "Throttle Pos", "Camber FL", "Camber FR", "Camber RL",
                     "Camber RR", "Steering Angle", "CG Accel Lateral", "CG Accel Longitudinal",
                     "CG Accel Vertical", "Engine RPM", "Ground Speed", "Tire Temp Core FL",
                     "Tire Temp Core FR", "Tire Temp Core RL", "Tire Temp Core RR"],
        "units": {"Ground Speed": "km/h", "Tire Temp Core FL": "C", "Camber FL": "deg"},
        "values": [("Ground Speed", 0.0, 66.7), ("Engine RPM", 0.04, 2916.0),
                   ("Tire Temp Core FL", 0.0, 78.5), ("Tire Temp Core RR", 57.04, 66.5),
                   ("Distance", 57.04, 990.7), ("Throttle Pos", 57.04, 1.0)],
        "track": "fs_uk_endurance",
    },
]


@pytest.mark.parametrize("case", MOTEC_CORPUS, ids=lambda c: c["file"].split("/")[-1])
def test_motec_corpus_through_bucket(local_stack, case):
    data = corpus_file(case["file"]).read_bytes()
    upload("incoming/" + case["file"].split("/")[-1], data)
    body = wait_session(local_stack, sha(data))

    assert body["status"] == "ready", body.get("reason")
    assert body["format"] == "motec_csv"
    assert body["track"] == case["track"]
    assert body["sample_count"] == case["samples"]
    assert body["samples_stored"] == case["samples"]
    assert [c["name"] for c in body["channels"]] == case["channels"]
    units = {c["name"]: c["unit"] for c in body["channels"]}
    for name, unit in case["units"].items():
        assert units[name] == unit, name

    for name, t, value in case["values"]:
        trace = api(local_stack, f"/v1/sessions/{body['id']}/telemetry?channels={name.replace(' ', '%20')}"
                                 f"&start_s={t - 0.0005}&end_s={t + 0.0005}")
        assert len(trace["elapsed_s"]) == 1, (name, t)
        assert trace["elapsed_s"][0] == pytest.approx(t, abs=1e-9)
        assert trace["channels"][name]["values"][0] == pytest.approx(value, rel=1e-6), (name, t)


def test_same_bytes_two_names_one_session(local_stack):
    data = (DATA / "motec" / "golden-motec.csv").read_bytes().replace(b"Golden Car", b"Twin Car")
    upload("incoming/twin-a.csv", data)
    first = wait_session(local_stack, sha(data))
    assert first["status"] == "ready"
    upload("incoming/nested/twin-b.csv", data)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = api(local_stack, f"/v1/sessions/{sha(data)}")
        if len(body["sources"]) == 2:
            break
        time.sleep(0.25)
    assert sorted(s["object"] for s in body["sources"]) == ["incoming/nested/twin-b.csv",
                                                            "incoming/twin-a.csv"]
    assert body["samples_stored"] == 5
    rows = db_rows(local_stack, "SELECT count(*) FROM samples s JOIN sessions USING (session_key) "
                                "WHERE session_id = :id", id=sha(data))
    assert rows[0][0] == 5
    sessions = db_rows(local_stack, "SELECT count(*) FROM sessions WHERE session_id = :id", id=sha(data))
    assert sessions[0][0] == 1


def test_redelivered_chunk_adds_no_rows(local_stack):
    from google.cloud import pubsub_v1

    data = (DATA / "motec" / "golden-motec.csv").read_bytes().replace(b"Golden Car", b"Redelivery Car")
    upload("incoming/redelivery.csv", data)
    body = wait_session(local_stack, sha(data))
    assert body["status"] == "ready"
    ledger_before = db_rows(local_stack, "SELECT count(*), sum(row_count) FROM chunk_ledger "
                                         "JOIN sessions USING (session_key) WHERE session_id = :id",
                            id=sha(data))

    # Publish the session's chunk again, byte for byte, as an at-least-once redelivery would.
    chunk = next(encode_session(sha(data), parse(data, "redelivery.csv"), 512 * 1024))
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(stack.PROJECT, stack.CHUNK_TOPIC)
    publisher.publish(topic, chunk.data, **chunk.attributes).result(timeout=30)

    log = os.path.join(local_stack.directory, "logs", "load.log")
    deadline = time.monotonic() + 30
    seen = False
    while time.monotonic() < deadline and not seen:
        with open(log) as f:
            seen = any('"duplicate chunk ignored"' in line and sha(data) in line for line in f)
        time.sleep(0.2)
    assert seen, "the load function never received the redelivered chunk"
    after = api(local_stack, f"/v1/sessions/{sha(data)}")
    assert after["samples_stored"] == 5
    assert after["chunks_loaded"] == 1
    ledger_after = db_rows(local_stack, "SELECT count(*), sum(row_count) FROM chunk_ledger "
                                        "JOIN sessions USING (session_key) WHERE session_id = :id",
                           id=sha(data))
    assert ledger_after == ledger_before
    rows = db_rows(local_stack, "SELECT count(*) FROM samples JOIN sessions USING (session_key) "
                                "WHERE session_id = :id", id=sha(data))
    assert rows[0][0] == 5


def _png() -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("empty.csv", b"", "empty file"),
        ("random.csv", bytes(range(256)) * 8 + b"\x00\xff\x13\x37", "binary data"),
        ("picture.csv", _png(), "a PNG image"),
    ],
)
def test_not_telemetry_fails_and_next_file_loads(local_stack, name, data, reason):
    upload(f"incoming/{name}", data)
    failed = wait_session(local_stack, sha(data))
    assert failed["status"] == "failed"
    assert name in failed["reason"]
    assert reason in failed["reason"]
    assert failed["samples_stored"] == 0

    good = (DATA / "motec" / "golden-motec.csv").read_bytes().replace(b"Golden Car", name.encode())
    upload(f"incoming/after-{name}", good)
    assert wait_session(local_stack, sha(good))["status"] == "ready"


def _golden_bucket(state) -> str:
    from common import gcp

    client = gcp.storage_client()
    bucket = client.bucket("simtel-golden")
    if not bucket.exists():
        client.create_bucket("simtel-golden")
    return "simtel-golden"


def test_parse_function_accepts_eventarc_cloudevent(local_stack):
    data = (DATA / "motec" / "golden-motec.csv").read_bytes().replace(b"Golden Car", b"Eventarc Car")
    bucket = _golden_bucket(local_stack)
    event = json.loads((DATA / "events" / "eventarc_storage_finalized.json").read_text())
    generation = upload(event["data"]["name"], data, bucket=bucket)
    event["data"]["generation"] = str(generation)
    event["data"]["size"] = str(len(data))
    status, _ = http(local_stack, "POST", "/", json.dumps(event).encode(),
                     {"Content-Type": "application/cloudevents+json"}, port="parse")
    assert status == 200
    body = wait_session(local_stack, sha(data))
    assert body["status"] == "ready"
    assert body["sources"][0]["bucket"] == "simtel-golden"
    assert body["sources"][0]["object"] == "incoming/golden-motec.csv"
    assert body["sources"][0]["generation"] == generation


def test_parse_function_accepts_pubsub_notification(local_stack):
    import base64

    data = (DATA / "motec" / "golden-motec.csv").read_bytes().replace(b"Golden Car", b"Notified Car")
    bucket = _golden_bucket(local_stack)
    push = json.loads((DATA / "events" / "pubsub_storage_notification.json").read_text())
    name = push["message"]["attributes"]["objectId"].replace(".csv", "-notified.csv")
    generation = upload(name, data, bucket=bucket)
    push["message"]["attributes"].update(objectId=name, objectGeneration=str(generation))
    resource = json.loads(base64.b64decode(push["message"]["data"]))
    resource.update(name=name, generation=str(generation), size=str(len(data)))
    push["message"]["data"] = base64.b64encode(json.dumps(resource).encode()).decode()
    status, _ = http(local_stack, "POST", f"/projects/{stack.PROJECT}/topics/{stack.STORAGE_TOPIC}",
                     json.dumps(push).encode(), {"Content-Type": "application/json"}, port="parse")
    assert status == 200
    body = wait_session(local_stack, sha(data))
    assert body["status"] == "ready"
    assert body["sources"][0]["object"] == name
    assert body["sources"][0]["generation"] == generation
    assert body["car"] == "Notified Car"


def test_results_json_under_results_prefix(local_stack):
    data = corpus_file("iracing_api_json/aydsko_subsession_result.json").read_bytes()
    bucket = _golden_bucket(local_stack)
    event = json.loads((DATA / "events" / "eventarc_storage_finalized.json").read_text())
    name = "results/subsession-45243121.json"
    generation = upload(name, data, bucket=bucket)
    event["data"].update(name=name, generation=str(generation), size=str(len(data)))
    status, _ = http(local_stack, "POST", "/", json.dumps(event).encode(),
                     {"Content-Type": "application/cloudevents+json"}, port="parse")
    assert status == 200
    rows = db_rows(local_stack, "SELECT count(*) FROM ir_results WHERE subsession_id = 45243121")
    assert rows[0][0] > 0
    # Results are not telemetry: no session was made of them.
    assert db_rows(local_stack, "SELECT count(*) FROM sources WHERE object_name = :n", n=name)[0][0] == 0


def test_results_file_that_is_not_json_is_acknowledged(local_stack):
    bucket = _golden_bucket(local_stack)
    event = json.loads((DATA / "events" / "eventarc_storage_finalized.json").read_text())
    name = "results/not-json.json"
    generation = upload(name, b"this is not json", bucket=bucket)
    event["data"].update(name=name, generation=str(generation), size="16")
    status, _ = http(local_stack, "POST", "/", json.dumps(event).encode(),
                     {"Content-Type": "application/cloudevents+json"}, port="parse")
    assert status == 200
    log = os.path.join(local_stack.directory, "logs", "parse.log")
    with open(log) as f:
        assert any("results file rejected" in line and "not-json.json" in line for line in f)


def test_ldx_after_ld_adds_beacon_laps(local_stack):
    from formats.synthetic_logs import LdChannel, build_ld

    speed = [800 + (i % 150) for i in range(1500)]
    data = build_ld([LdChannel("Ground Speed", "km/h", 10, speed, dec=1)], venue="Sidecar Ring")
    upload("incoming/late/run.ld", data)
    assert wait_session(local_stack, sha(data))["status"] == "ready"
    assert all(lap["number"] == 0 for lap in api(local_stack, f"/v1/sessions/{sha(data)}")["laps"])

    upload("incoming/late/run.ldx", (DATA / "motec_ld" / "three_laps.ldx").read_bytes())
    deadline = time.monotonic() + 30
    laps = []
    while time.monotonic() < deadline and len(laps) != 4:
        laps = api(local_stack, f"/v1/sessions/{sha(data)}")["laps"]
        time.sleep(0.25)
    assert [lap["kind"] for lap in laps] == ["out", "flying", "flying", "in"]
    assert laps[1]["lap_time_s"] == pytest.approx(62.75)
