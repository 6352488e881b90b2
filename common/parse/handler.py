"""Glue between a storage event and the parse stage, for the ``parse`` function."""

from __future__ import annotations

import logging

from .. import formats, gcp
from ..config import settings
from ..db.connect import pool
from ..errors import EventError, ParseError
from ..results import load_payload, payload_kind, store_laps, store_results
from . import events
from .stage import ParseOutcome, fail_unreadable, process, refresh_sidecar

logger = logging.getLogger(__name__)

RESULTS_PREFIX = "results/"


def handle_event(event_type: str, data) -> ParseOutcome | None:
    """Parse the object an event names. Bad events and bad files are logged and acknowledged;
    infrastructure faults raise so that the platform redelivers the event."""
    try:
        ref = events.resolve(event_type, data)
    except EventError as exc:
        logger.error("event ignored: %s", exc)
        return None
    log = {"object": ref.name, "bucket": ref.bucket, "generation": ref.generation}
    if ref.event_type and ref.event_type not in events.FINALIZED_TYPES:
        logger.info("event ignored: type %s is not a finalize event", ref.event_type, extra=log)
        return None
    if ref.name.endswith("/"):
        return None
    if formats.is_sidecar(ref.name):
        return _handle_sidecar(ref)
    if ref.name.startswith(RESULTS_PREFIX):
        return _handle_results(ref)

    size = ref.size if ref.size is not None else gcp.object_size(ref.bucket, ref.name, ref.generation)
    if size is None:
        logger.warning("object no longer exists; event ignored", extra=log)
        return None
    limit = settings().max_upload_bytes
    with pool().connection() as conn:
        if size > limit:
            session_id = gcp.hash_object(ref.bucket, ref.name, ref.generation)
            reason = (f"{ref.name}: file is {size} bytes, over the limit of {limit} bytes "
                      f"(MAX_UPLOAD_BYTES); split the log or raise the limit")
            return fail_unreadable(conn, session_id, bucket=ref.bucket, name=ref.name,
                                   generation=ref.generation, size=size, reason=reason)
        data = gcp.download(ref.bucket, ref.name, ref.generation)
        return process(
            conn, data, bucket=ref.bucket, name=ref.name, generation=ref.generation,
            publish=gcp.publish_chunks, sidecars=lambda: _sidecars(ref),
        )


def _handle_sidecar(ref: events.ObjectRef) -> None:
    """Read a ``.ldx`` with the ``.ld`` beside it when the log is already stored."""
    log = {"object": ref.name, "bucket": ref.bucket, "generation": ref.generation}
    for log_name in formats.log_names(ref.name):
        data = gcp.download_if_exists(ref.bucket, log_name)
        if data is not None:
            break
    else:
        logger.info("sidecar stored; it is read when its .ld file arrives", extra=log)
        return None
    sidecar = gcp.download(ref.bucket, ref.name, ref.generation)
    with pool().connection() as conn:
        outcome = refresh_sidecar(conn, data, log_name,
                                  {ref.name.rsplit("/", 1)[-1]: sidecar})
    logger.info("sidecar handled: %s", outcome, extra=log)
    return None


def _sidecars(ref: events.ObjectRef) -> dict[str, bytes]:
    """Download the sidecar of a log from beside it; only .ld logs have one."""
    for name in formats.sidecar_names(ref.name):
        data = gcp.download_if_exists(ref.bucket, name)
        if data is not None:
            return {name.rsplit("/", 1)[-1]: data}
    return {}


def _handle_results(ref: events.ObjectRef) -> None:
    """Store an iRacing results or lap-data JSON file dropped under ``results/``.

    A file that is not valid results JSON is logged and acknowledged: retrying cannot fix it.
    """
    data = gcp.download(ref.bucket, ref.name, ref.generation)
    log = {"object": ref.name, "bucket": ref.bucket, "generation": ref.generation}
    try:
        payload = load_payload(data, ref.name)
        with pool().connection() as conn:
            if payload_kind(payload) == "laps":
                counts = store_laps(conn, payload, ref.name, None, None)
            else:
                counts = store_results(conn, payload, ref.name)
    except ParseError as exc:
        logger.error("results file rejected: %s", exc, extra=log)
        return None
    logger.info("results stored: %s", counts, extra=log)
    return None
