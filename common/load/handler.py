"""Glue between a Pub/Sub chunk event and the loader, for the ``load`` function.

The same function receives dead-lettered chunks: their event source is the dead-letter topic, and
they mark the session failed with the chunk's last recorded error.
"""

from __future__ import annotations

import base64
import binascii
import logging

from ..config import settings
from ..db.connect import pool
from ..db.sessions import mark_failed
from ..errors import ChunkError
from .loader import LoadResult, fail_dead_lettered, load_chunk, record_failure

logger = logging.getLogger(__name__)


def handle_event(source: str, data) -> LoadResult | None:
    """Load the chunk in a Pub/Sub CloudEvent's data; raise on faults so that Pub/Sub redelivers."""
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        logger.error("event ignored: Pub/Sub event data has no message")
        return None
    attributes = dict(message.get("attributes") or {})
    log = {"session_id": attributes.get("session_id"), "seq": attributes.get("seq")}
    try:
        payload = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        payload = None
        decode_error = exc
    if source.endswith(f"/topics/{settings().dead_letter_topic}"):
        with pool().connection() as conn:
            status = fail_dead_lettered(conn, attributes)
        logger.error("dead-lettered chunk received; session marked %s", status, extra=log)
        return None
    if payload is None:
        return _terminal(attributes, ChunkError(attributes.get("session_id", "?"), None,
                                                f"message data is not base64: {decode_error}"))
    try:
        with pool().connection() as conn:
            return load_chunk(conn, attributes, payload)
    except ChunkError as exc:
        return _terminal(attributes, exc)
    except Exception as exc:
        _record(attributes, exc)
        raise


def _terminal(attributes: dict[str, str], exc: ChunkError) -> None:
    """Mark the session failed for a chunk whose content is bad, and acknowledge the message."""
    session_id = attributes.get("session_id", "")
    logger.error("chunk rejected: %s", exc, extra={"session_id": session_id,
                                                    "seq": attributes.get("seq")})
    with pool().connection() as conn:
        rows = conn.run("SELECT session_key FROM sessions WHERE session_id = :id", id=session_id)
        if rows:
            mark_failed(conn, rows[0][0], str(exc))
    return None


def _record(attributes: dict[str, str], exc: Exception) -> None:
    """Keep the error of a failed delivery so that a dead-lettered chunk has a reason."""
    error = f"{type(exc).__name__}: {exc}"
    try:
        with pool().connection() as conn:
            attempts = record_failure(conn, attributes, error)
    except Exception as record_exc:  # noqa: BLE001 - the database may be the fault itself
        logger.warning("could not record the failed delivery: %s", record_exc,
                       extra={"session_id": attributes.get("session_id")})
        attempts = None
    logger.warning("chunk load failed, Pub/Sub will redeliver: %s", error,
                   extra={"session_id": attributes.get("session_id"), "seq": attributes.get("seq"),
                          "attempt": attempts})
