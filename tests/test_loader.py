"""The loader against a real PostgreSQL: binary COPY, the ledger, concurrency, status changes."""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import pytest

from common.chunks import decode_chunk, encode_session
from common.db.connect import connect
from common.errors import ChunkError
from common.load import binary_copy
from common.load.loader import load_chunk
from common.model import Channel, Metadata, Session

SESSION_ID = hashlib.sha256(b"loader tests").hexdigest()


def _channel(name, column, values, unit="km/h", extra_index=None):
    return Channel(name, unit, column, unit, "continuous", 10.0, "measured",
                   np.asarray(values, dtype=np.float64), column=column, extra_index=extra_index)


def _session(rows: int = 10) -> Session:
    t = np.arange(rows) / 10.0
    speed = np.linspace(100.0, 109.0, rows)
    speed[3] = np.nan
    gear = np.full(rows, 3.0)
    gear[5] = np.nan
    lat = np.full(rows, 45.123456789)
    extra_a = np.arange(rows, dtype=np.float64) * 0.5
    extra_a[2] = np.nan
    extra_b = np.full(rows, -1.25)
    channels = [
        _channel("Speed", "speed", speed),
        _channel("Gear", "gear", gear, unit="gear"),
        _channel("Lat", "latitude", lat, unit="deg"),
        _channel("Ride Height", None, extra_a, unit="mm", extra_index=0),
        _channel("Damper", None, extra_b, unit="mm/s", extra_index=1),
    ]
    return Session("t.csv", "generated", t, channels, Metadata(), [], [], {}, [])


def _register(conn, session: Session, chunks: int, session_id: str = SESSION_ID) -> int:
    return conn.run("INSERT INTO sessions (session_id, status, sample_count, chunk_count) "
                    "VALUES (:id, 'loading', :n, :c) RETURNING session_key",
                    id=session_id, n=session.sample_count, c=chunks)[0][0]


def test_binary_copy_round_trip_with_nulls(db):
    session = _session()
    chunk = next(encode_session(SESSION_ID, session, 1 << 20))
    key = _register(db, session, 1)
    result = load_chunk(db, chunk.attributes, chunk.data)
    assert result.outcome == "loaded"
    assert result.status == "ready"
    rows = db.run("SELECT elapsed_s, speed, gear, latitude, extra FROM samples WHERE session_key = :k "
                  "ORDER BY elapsed_s", k=key)
    assert len(rows) == 10
    assert rows[0][1] == pytest.approx(100.0)
    assert rows[3][1] is None
    assert rows[5][2] is None
    assert rows[4][2] == 3
    assert rows[0][3] == 45.123456789
    assert rows[2][4][0] is None
    assert rows[2][4][1] == pytest.approx(-1.25)
    assert rows[9][4] == [pytest.approx(4.5), pytest.approx(-1.25)]
    assert rows[7][0] == pytest.approx(0.7)


def test_binary_copy_columns_in_order():
    session = _session()
    chunk = next(encode_session(SESSION_ID, session, 1 << 20))
    columns, buffer = binary_copy.build(7, decode_chunk(SESSION_ID, 0, chunk.data))
    assert columns == ["session_key", "elapsed_s", "speed", "gear", "latitude", "extra"]
    assert buffer.startswith(binary_copy.HEADER)
    assert buffer.endswith(binary_copy.TRAILER)


def test_duplicate_chunk_adds_nothing(db):
    session = _session()
    chunk = next(encode_session(SESSION_ID, session, 1 << 20))
    key = _register(db, session, 1)
    assert load_chunk(db, chunk.attributes, chunk.data).outcome == "loaded"
    again = load_chunk(db, chunk.attributes, chunk.data)
    assert again.outcome == "duplicate"
    assert db.run("SELECT count(*) FROM samples WHERE session_key = :k", k=key)[0][0] == 10
    assert db.run("SELECT chunks_loaded, samples_loaded FROM sessions WHERE session_key = :k",
                  k=key)[0] == [1, 10]


def test_concurrent_duplicate_stored_once(pg_url):
    session = _session(2000)
    chunks = list(encode_session(SESSION_ID, session, 8 * 1024))
    assert len(chunks) > 1
    setup = connect(pg_url)
    key = _register(setup, session, len(chunks))
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def deliver(chunk):
        conn = connect(pg_url)
        try:
            barrier.wait()
            outcomes.append(load_chunk(conn, chunk.attributes, chunk.data).outcome)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            conn.close()

    # The same first chunk four times at once.
    threads = [threading.Thread(target=deliver, args=(chunks[0],)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(outcomes) == ["duplicate", "duplicate", "duplicate", "loaded"]
    stored = setup.run("SELECT count(*) FROM samples WHERE session_key = :k", k=key)[0][0]
    assert stored == chunks[0].rows

    for chunk in chunks[1:]:
        load_chunk(setup, chunk.attributes, chunk.data)
    status, loaded, samples = setup.run(
        "SELECT status, chunks_loaded, samples_loaded FROM sessions WHERE session_key = :k", k=key)[0]
    assert (status, loaded, samples) == ("ready", len(chunks), 2000)
    setup.close()


def test_ready_only_after_last_chunk(db):
    session = _session(300)
    chunks = list(encode_session(SESSION_ID, session, 2048))
    key = _register(db, session, len(chunks))
    statuses = [load_chunk(db, c.attributes, c.data).status for c in reversed(chunks)]
    assert statuses[:-1] == ["loading"] * (len(chunks) - 1)
    assert statuses[-1] == "ready"
    ready_at = db.run("SELECT ready_at FROM sessions WHERE session_key = :k", k=key)[0][0]
    assert ready_at is not None


def test_counts_that_disagree_fail_session(db):
    session = _session()
    chunk = next(encode_session(SESSION_ID, session, 1 << 20))
    key = db.run("INSERT INTO sessions (session_id, status, sample_count, chunk_count) "
                 "VALUES (:id, 'loading', 11, 1) RETURNING session_key", id=SESSION_ID)[0][0]
    result = load_chunk(db, chunk.attributes, chunk.data)
    assert result.status == "failed"
    reason = db.run("SELECT reason FROM sessions WHERE session_key = :k", k=key)[0][0]
    assert "do not reconcile" in reason
    assert "parsed 11" in reason


def test_chunk_for_failed_session_skipped(db):
    session = _session()
    chunk = next(encode_session(SESSION_ID, session, 1 << 20))
    key = _register(db, session, 1)
    db.run("UPDATE sessions SET status = 'failed', reason = 'bad file' WHERE session_key = :k", k=key)
    assert load_chunk(db, chunk.attributes, chunk.data).outcome == "session failed"
    assert db.run("SELECT count(*) FROM samples WHERE session_key = :k", k=key)[0][0] == 0


def test_chunk_for_unknown_session_dropped(db):
    chunk = next(encode_session(SESSION_ID, _session(), 1 << 20))
    assert load_chunk(db, chunk.attributes, chunk.data).outcome == "unknown session"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"session_id": "xyz"}, "64 lower-case hex digits"),
        ({"encoding": "csv/1"}, "unsupported encoding"),
        ({"seq": "one"}, "must be integers"),
        ({"seq": "5", "count": "2"}, "seq must be in"),
        ({"rows": "11"}, "attribute rows is 11"),
    ],
)
def test_bad_attributes_rejected(db, change, message):
    chunk = next(encode_session(SESSION_ID, _session(), 1 << 20))
    with pytest.raises(ChunkError, match=message):
        load_chunk(db, {**chunk.attributes, **change}, chunk.data)


def test_bad_payload_rejected(db):
    chunk = next(encode_session(SESSION_ID, _session(), 1 << 20))
    with pytest.raises(ChunkError, match="payload is not an arrow-ipc-zstd/1 stream"):
        load_chunk(db, chunk.attributes, b"\x00garbage" * 10)


def test_chunk_count_mismatch_rejected(db):
    session = _session()
    chunk = next(encode_session(SESSION_ID, session, 1 << 20))
    _register(db, session, 3)
    with pytest.raises(ChunkError, match="parsed into 3 chunks"):
        load_chunk(db, chunk.attributes, chunk.data)
    # The rejected chunk left nothing behind.
    assert db.run("SELECT count(*) FROM chunk_ledger")[0][0] == 0


def test_chunks_deterministic_and_bounded():
    session = _session(5000)
    first = [c.data for c in encode_session(SESSION_ID, session, 4096)]
    second = [c.data for c in encode_session(SESSION_ID, session, 4096)]
    assert first == second
    assert max(len(d) for d in first) <= 4096 + 2048
