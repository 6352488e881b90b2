"""Clients for Cloud Storage and Pub/Sub, created lazily once per process.

functions-framework imports a function's module before it forks workers, and gRPC clients do not
survive a fork, so nothing here connects at import time. The clients find the local emulators
through ``STORAGE_EMULATOR_HOST`` and ``PUBSUB_EMULATOR_HOST``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable

from .chunks import Chunk
from .config import settings
from .errors import TransientError

_lock = threading.Lock()
_storage = None
_publisher = None

# Seconds to wait for Pub/Sub to confirm every chunk of a session.
PUBLISH_TIMEOUT_S = 120


def storage_client():
    global _storage
    with _lock:
        if _storage is None:
            from google.cloud import storage

            if os.environ.get("STORAGE_EMULATOR_HOST"):
                from google.auth.credentials import AnonymousCredentials

                _storage = storage.Client(project=settings().project, credentials=AnonymousCredentials())
            else:
                _storage = storage.Client()
        return _storage


def publisher_client():
    global _publisher
    with _lock:
        if _publisher is None:
            from google.cloud import pubsub_v1

            batch = pubsub_v1.types.BatchSettings(max_messages=100, max_bytes=8 * 1024 * 1024,
                                                  max_latency=0.01)
            _publisher = pubsub_v1.PublisherClient(batch_settings=batch)
        return _publisher


def object_size(bucket: str, name: str, generation: int) -> int | None:
    """Return an object's size in bytes, or None when the object no longer exists."""
    from google.api_core import exceptions

    blob = storage_client().bucket(bucket).blob(name, generation=generation or None)
    try:
        blob.reload()
    except exceptions.NotFound:
        return None
    return int(blob.size)


def download(bucket: str, name: str, generation: int) -> bytes:
    """Download one generation of an object."""
    blob = storage_client().bucket(bucket).blob(name, generation=generation or None)
    return blob.download_as_bytes()


def hash_object(bucket: str, name: str, generation: int) -> str:
    """Return the SHA-256 of an object by streaming it, without holding it in memory."""
    digest = hashlib.sha256()
    blob = storage_client().bucket(bucket).blob(name, generation=generation or None)
    with blob.open("rb", chunk_size=8 * 1024 * 1024) as stream:
        for piece in iter(lambda: stream.read(8 * 1024 * 1024), b""):
            digest.update(piece)
    return digest.hexdigest()


def download_if_exists(bucket: str, name: str) -> bytes | None:
    from google.api_core import exceptions

    try:
        return storage_client().bucket(bucket).blob(name).download_as_bytes()
    except exceptions.NotFound:
        return None


def publish_chunks(chunks: Iterable[Chunk]) -> int:
    """Publish chunks to the chunk topic and wait until Pub/Sub has accepted every one."""
    client = publisher_client()
    topic = client.topic_path(settings().project, settings().chunk_topic)
    futures = [client.publish(topic, c.data, **c.attributes) for c in chunks]
    try:
        for future in futures:
            future.result(timeout=PUBLISH_TIMEOUT_S)
    except Exception as exc:
        raise TransientError(f"publishing chunks to {topic} failed: {exc}") from exc
    return len(futures)
