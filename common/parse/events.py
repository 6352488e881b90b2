"""Resolve the two event shapes that announce a new object to (bucket, object name, generation).

1. A Cloud Storage CloudEvent as Eventarc sends it: type ``google.cloud.storage.object.v1.finalized``,
   data = the object resource (``bucket``, ``name``, ``generation``, ``size``).
2. A Pub/Sub message holding a Cloud Storage notification, as fake-gcs-server and the Pub/Sub
   emulator send it (functions-framework turns the push into a CloudEvent of type
   ``google.cloud.pubsub.topic.v1.messagePublished``): attributes ``bucketId``, ``objectId``,
   ``objectGeneration``, ``eventType``; data = the object resource as base64 JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from ..errors import EventError

FINALIZED_TYPES = ("google.cloud.storage.object.v1.finalized", "OBJECT_FINALIZE")
PUBSUB_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    name: str
    generation: int
    size: int | None = None
    # None when the event is not a finalize event (those are acknowledged and ignored).
    event_type: str | None = None


def resolve(event_type: str, data: Any) -> ObjectRef:
    """Return the object an event names; raise ``EventError`` for any other shape."""
    if event_type == PUBSUB_TYPE:
        return _from_pubsub(data)
    if event_type in FINALIZED_TYPES:
        return _from_object(data, event_type)
    raise EventError(f"unsupported event type {event_type!r}; expected "
                     f"{FINALIZED_TYPES[0]} or {PUBSUB_TYPE}")


def _from_object(data: Any, event_type: str) -> ObjectRef:
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise EventError(f"event data is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EventError(f"event data must be an object resource, found {type(data).__name__}")
    try:
        bucket, name = data["bucket"], data["name"]
    except KeyError as exc:
        raise EventError(f"object resource has no field {exc.args[0]!r}") from exc
    return ObjectRef(bucket, name, _int(data.get("generation", 0), "generation"),
                     _int(data["size"], "size") if data.get("size") is not None else None,
                     event_type)


def _from_pubsub(data: Any) -> ObjectRef:
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise EventError("Pub/Sub event data has no message")
    message = data["message"]
    attributes = message.get("attributes") or {}
    event_type = attributes.get("eventType")
    if "bucketId" in attributes and "objectId" in attributes:
        size = None
        payload = _decode_payload(message.get("data"))
        if isinstance(payload, dict) and payload.get("size") is not None:
            size = _int(payload["size"], "size")
        return ObjectRef(attributes["bucketId"], attributes["objectId"],
                         _int(attributes.get("objectGeneration", 0), "objectGeneration"), size,
                         event_type)
    payload = _decode_payload(message.get("data"))
    if isinstance(payload, dict) and "bucket" in payload and "name" in payload:
        return _from_object(payload, event_type or FINALIZED_TYPES[0])
    raise EventError("Pub/Sub message is not a Cloud Storage notification: no bucketId/objectId "
                     "attributes and no object resource in its data")


def _decode_payload(raw: Any) -> Any:
    if raw in (None, ""):
        return None
    if isinstance(raw, (bytes, bytearray)):
        text = bytes(raw)
    else:
        try:
            text = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EventError(f"Pub/Sub message data is not base64: {exc}") from exc
    try:
        return json.loads(text)
    except ValueError:
        return None


def _int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise EventError(f"field {field} must be an integer, found {value!r}") from exc
