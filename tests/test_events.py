"""Both event shapes that announce a new object resolve to the same (bucket, name, generation)."""

from __future__ import annotations

import base64
import json

import pytest

from common.errors import EventError
from common.parse import events

from conftest import DATA

EVENTS = DATA / "events"


def _expected() -> events.ObjectRef:
    raw = json.loads((EVENTS / "expected_object.json").read_text())
    return raw


def test_eventarc_cloudevent_golden():
    event = json.loads((EVENTS / "eventarc_storage_finalized.json").read_text())
    ref = events.resolve(event["type"], event["data"])
    expected = _expected()
    assert ref.bucket == expected["bucket"]
    assert ref.name == expected["name"]
    assert ref.generation == expected["generation"]
    assert ref.size == expected["size"]
    assert ref.event_type == "google.cloud.storage.object.v1.finalized"


def test_pubsub_notification_golden():
    push = json.loads((EVENTS / "pubsub_storage_notification.json").read_text())
    # functions-framework hands the push body to the function as the CloudEvent's data.
    ref = events.resolve(events.PUBSUB_TYPE, {"message": push["message"],
                                              "subscription": push["subscription"]})
    expected = _expected()
    assert ref.bucket == expected["bucket"]
    assert ref.name == expected["name"]
    assert ref.generation == expected["generation"]
    assert ref.size == expected["size"]
    assert ref.event_type == "OBJECT_FINALIZE"


def test_pubsub_object_resource_without_attributes():
    resource = {"bucket": "b", "name": "incoming/x.csv", "generation": "7", "size": "10"}
    data = {"message": {"data": base64.b64encode(json.dumps(resource).encode()).decode()}}
    ref = events.resolve(events.PUBSUB_TYPE, data)
    assert (ref.bucket, ref.name, ref.generation, ref.size) == ("b", "incoming/x.csv", 7, 10)


@pytest.mark.parametrize(
    "event_type, data, message",
    [
        ("google.cloud.storage.object.v1.deleted", {"bucket": "b", "name": "n"}, "unsupported event type"),
        (events.FINALIZED_TYPES[0], {"name": "n"}, "no field 'bucket'"),
        (events.FINALIZED_TYPES[0], {"bucket": "b", "name": "n", "generation": "x"}, "generation"),
        (events.PUBSUB_TYPE, {"subscription": "s"}, "no message"),
        (events.PUBSUB_TYPE, {"message": {"data": "bm90IGpzb24="}}, "not a Cloud Storage notification"),
        (events.PUBSUB_TYPE, {"message": {"data": "***"}}, "not base64"),
    ],
)
def test_event_rejected(event_type, data, message):
    with pytest.raises(EventError, match=message):
        events.resolve(event_type, data)
