"""Settings from environment variables, with defaults for local use.

The README's configuration table lists every variable; keep the two in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, found {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    project: str
    raw_bucket: str
    chunk_topic: str
    dead_letter_topic: str
    # Largest object the parse function reads, in bytes.
    max_upload_bytes: int
    # Upper bound of one chunk's uncompressed payload, in bytes; Pub/Sub allows 10 MB per message.
    chunk_target_bytes: int
    # Largest request body the API accepts, in bytes.
    max_request_bytes: int


def settings() -> Settings:
    """Read the settings from the environment now (not cached, so tests can change them)."""
    return Settings(
        project=os.environ.get("GOOGLE_CLOUD_PROJECT", "simtel-local"),
        raw_bucket=os.environ.get("RAW_BUCKET", "simtel-raw"),
        chunk_topic=os.environ.get("CHUNK_TOPIC", "chunks"),
        dead_letter_topic=os.environ.get("DEAD_LETTER_TOPIC", "chunks-dead-letter"),
        max_upload_bytes=_int("MAX_UPLOAD_BYTES", 1024 * 1024 * 1024),
        chunk_target_bytes=_int("CHUNK_TARGET_BYTES", 512 * 1024),
        max_request_bytes=_int("MAX_REQUEST_BYTES", 32 * 1024 * 1024),
    )
