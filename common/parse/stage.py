"""Turn one uploaded file into a registered session and its chunks.

Used by the ``parse`` function (objects in the bucket, chunks to Pub/Sub) and by ``simtel ingest``
(files on disk, chunks straight to the loader), with the transport passed in.

Order of work, and why:

1. Hash the bytes: the SHA-256 is the session id, so the same bytes under any name are one session.
2. Register the object as a source and claim the session for parsing. A session that is already
   loading or ready is not parsed again; the object is only recorded as another source.
3. Parse and normalize outside any transaction. Bad input marks the session failed with the reason.
4. Store metadata, channels and laps, with the chunk count, in one transaction.
5. Publish the chunks, then move the session to ``loading``. A crash before this point leaves the
   session ``parsing``; the redelivered event claims it again and publishes the same chunks, which
   the loader deduplicates.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import formats
from ..chunks import Chunk, encode_session
from ..config import settings
from ..db.sessions import (
    Registration,
    mark_failed,
    register_source,
    set_status,
    store_parsed,
    update_metadata,
)
from ..errors import TerminalError, TransientError
from ..laps import Lap, detect_laps, store_laps
from ..model import Session

logger = logging.getLogger(__name__)

# A session left in "parsing" this long (seconds) is taken over by a new upload of the same bytes;
# longer than the parse function's timeout.
PARSE_LEASE_S = 900


@dataclass
class ParseOutcome:
    session_id: str
    status: str
    # "parsed", "duplicate", "failed" or "skipped".
    outcome: str
    chunk_count: int = 0
    reason: str | None = None
    session: Session | None = None


def session_id_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def process(
    conn,
    data: bytes,
    *,
    bucket: str,
    name: str,
    generation: int,
    publish: Callable[[list[Chunk]], object],
    sidecars: Callable[[], dict[str, bytes]] | None = None,
) -> ParseOutcome:
    """Register, parse, store and publish one file's bytes."""
    started = time.monotonic()
    session_id = session_id_of(data)
    log = {"session_id": session_id, "object": name, "bucket": bucket, "generation": generation}

    reg, claimed = claim(conn, session_id, bucket, name, generation, len(data))
    if not claimed:
        logger.info("same bytes already stored; recorded the object as another source", extra=log)
        return ParseOutcome(session_id, reg.status, "duplicate")

    try:
        session = formats.parse(data, name, sidecars() if sidecars else {})
    except TerminalError as exc:
        return _fail(conn, reg.session_key, session_id, str(exc), log)
    except (MemoryError, TransientError):
        raise
    except Exception as exc:  # noqa: BLE001 - a reader bug on odd input must not retry forever
        logger.exception("reader raised an unexpected error", extra=log)
        return _fail(conn, reg.session_key, session_id, unexpected_reason(name, exc), log)

    chunks = list(encode_session(session_id, session, settings().chunk_target_bytes))
    store(conn, reg.session_key, session, chunks)
    publish(chunks)
    status = finish(conn, reg.session_key)
    logger.info(
        "file parsed and chunks published",
        extra={**log, "format": session.format, "rows": session.sample_count,
               "chunk_count": len(chunks), "status": status,
               "duration_ms": round((time.monotonic() - started) * 1000, 1)},
    )
    return ParseOutcome(session_id, status, "parsed", len(chunks), session=session)


def claim(conn, session_id: str, bucket: str, name: str, generation: int,
          size: int) -> tuple[Registration, bool]:
    """Record the object as a source of its session; return whether this caller should parse it."""
    conn.run("BEGIN")
    try:
        reg = register_source(conn, session_id, bucket, name, generation, size)
        claimed = _claim(conn, reg.session_key, reg.status, reg.new_source)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    return reg, claimed


def store(conn, session_key: int, session: Session, chunks: list[Chunk],
          laps: list[Lap] | None = None) -> None:
    """Store the parsed session's metadata, channels and laps with its chunk count, atomically.

    ``laps`` are detected from the session when not given.
    """
    if laps is None:
        laps = detect_laps(session)
    conn.run("BEGIN")
    try:
        store_parsed(conn, session_key, session, len(chunks))
        store_laps(conn, session_key, laps)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise


def finish(conn, session_key: int) -> str:
    """Move the session to ``loading`` once its chunks are out; return its status now."""
    set_status(conn, session_key, "loading", only_from=("parsing",))
    return conn.run("SELECT status FROM sessions WHERE session_key = :k", k=session_key)[0][0]


def fail(conn, session_key: int, session_id: str, reason: str, log: dict) -> ParseOutcome:
    """Mark a session failed because its file could not be read."""
    return _fail(conn, session_key, session_id, reason, log)


def unexpected_reason(name: str, exc: BaseException) -> str:
    return f"{name}: internal error while reading the file: {type(exc).__name__}: {exc}"


def refresh_sidecar(conn, data: bytes, name: str, sidecars: dict[str, bytes]) -> str:
    """Re-read a stored log with a sidecar that arrived after it, and replace its laps.

    A ``.ldx`` uploaded after its ``.ld`` carries the beacons the first parse did not have. The
    samples do not change (the log's bytes are the same), so only the laps and the metadata are
    stored again. Returns what happened: "refreshed", "no session" (the log's own event has not
    been handled yet, and it will read the sidecar then) or "session failed". Raises
    ``TransientError`` while the log is still being parsed, so that the event is retried after it.
    """
    session_id = session_id_of(data)
    log = {"session_id": session_id, "object": name}
    rows = conn.run("SELECT session_key, status FROM sessions WHERE session_id = :id", id=session_id)
    if not rows:
        return "no session"
    session_key, status = rows[0]
    if status == "failed":
        return "session failed"
    if status in ("received", "parsing"):
        raise TransientError(f"{name}: still being parsed; the sidecar is read again when it is done")
    try:
        session = formats.parse(data, name, sidecars)
    except TerminalError as exc:
        logger.warning("log could not be read again with its sidecar: %s", exc, extra=log)
        return "session failed"
    laps = detect_laps(session)
    conn.run("BEGIN")
    try:
        update_metadata(conn, session_key, session)
        store_laps(conn, session_key, laps)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    logger.info("laps refreshed with a late sidecar", extra={**log, "rows": len(laps)})
    return "refreshed"


def fail_unreadable(conn, session_id: str, *, bucket: str, name: str, generation: int, size: int,
                    reason: str) -> ParseOutcome:
    """Record an object that cannot even be read (for example over the size limit) as failed."""
    reg, claimed = claim(conn, session_id, bucket, name, generation, size)
    if not claimed:
        return ParseOutcome(session_id, reg.status, "duplicate")
    return _fail(conn, reg.session_key, session_id, reason,
                 {"session_id": session_id, "object": name, "bucket": bucket})


def _claim(conn, session_key: int, status: str, new_source: bool) -> bool:
    """Move the session to ``parsing`` when this call should parse it; return whether it did."""
    rows = conn.run(
        "UPDATE sessions SET status = 'parsing', updated_at = now() WHERE session_key = :k AND ("
        " status IN ('received', 'failed')"
        " OR (status = 'parsing' AND (:redelivered OR updated_at < now() - make_interval(secs => :lease)))"
        ") RETURNING 1",
        k=session_key, redelivered=not new_source, lease=PARSE_LEASE_S,
    )
    return bool(rows)


def _fail(conn, session_key: int, session_id: str, reason: str, log: dict) -> ParseOutcome:
    mark_failed(conn, session_key, reason)
    logger.warning("file rejected: %s", reason, extra=log)
    return ParseOutcome(session_id, "failed", "failed", reason=reason)

