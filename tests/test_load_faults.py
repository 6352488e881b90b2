"""Fault tolerance of loading, against a real local stack of its own.

The stack here uses tiny chunks (CHUNK_TARGET_BYTES=2048, about 40 rows each) so that a session spans
hundreds of chunks and a fault can be injected while it loads.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time

import numpy as np
import pytest

from common.chunks import encode_session
from common.local import stack
from common.model import Channel, Metadata, Session
from common.samples import simulate, write_motec_csv

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fault-stack")
    previous = os.environ.get("SIMTEL_STATE_DIR")
    os.environ["SIMTEL_STATE_DIR"] = str(directory)
    try:
        state = stack.up(log=lambda *_: None, function_env={"CHUNK_TARGET_BYTES": "2048"})
    finally:
        if previous is None:
            os.environ.pop("SIMTEL_STATE_DIR", None)
        else:
            os.environ["SIMTEL_STATE_DIR"] = previous
    yield state
    stack.stop(state)


def _storage(state):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project=stack.PROJECT, credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": state.env["STORAGE_EMULATOR_HOST"]})


def _publisher(state):
    from google.cloud import pubsub_v1

    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = state.env["PUBSUB_EMULATOR_HOST"]
    try:
        return pubsub_v1.PublisherClient()
    finally:
        if saved is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved


def _query(state, sql: str, **params):
    from common.db.connect import connect

    conn = connect(state.database_url)
    try:
        return conn.run(sql, **params)
    finally:
        conn.close()


def _wait(state, session_id: str, until, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    row = None
    while time.monotonic() < deadline:
        try:
            rows = _query(state, "SELECT status, chunks_loaded, chunk_count, samples_loaded, reason "
                                 "FROM sessions WHERE session_id = :id", id=session_id)
        except Exception:  # noqa: BLE001 - the database may be restarting
            rows = None
        if rows:
            row = rows[0]
            if until(row):
                return row
        time.sleep(0.02)
    raise AssertionError(f"session {session_id}: {what} not reached within {timeout_s} s; last {row}")


def _register(state, session_id: str, sample_count: int, chunk_count: int) -> int:
    return _query(state, "INSERT INTO sessions (session_id, status, sample_count, chunk_count) "
                         "VALUES (:id, 'loading', :n, :c) RETURNING session_key",
                  id=session_id, n=sample_count, c=chunk_count)[0][0]


def _session(rows: int, start_s: float = 0.0) -> Session:
    elapsed = start_s + np.arange(rows) / 10.0
    speed = Channel("Speed", "km/h", "speed", "km/h", "continuous", 10.0, "measured",
                    np.linspace(50, 150, rows), column="speed")
    return Session("made-up.csv", "generated", elapsed, [speed], Metadata(), [], [], {}, [])


def test_database_outage_mid_session(fault_stack, tmp_path):
    path = tmp_path / "outage.csv"
    trace = simulate(rate_hz=100.0)
    write_motec_csv(path, trace)
    expected = len(trace.time_s)
    assert expected > 12000
    data = path.read_bytes()
    session_id = hashlib.sha256(data).hexdigest()
    _storage(fault_stack).bucket(stack.BUCKET).blob("incoming/outage.csv").upload_from_string(data)

    row = _wait(fault_stack, session_id, lambda r: r[1] >= 3, 60, "three chunks loaded")
    stack.stop_database(fault_stack)
    time.sleep(3)
    stack.start_database(fault_stack)

    status, loaded, count, samples, reason = _wait(
        fault_stack, session_id, lambda r: r[0] in ("ready", "failed"), 180, "ready or failed")
    assert status == "ready", reason
    assert row[2] and row[1] < row[2], "the outage must start before the last chunk"
    assert loaded == count
    assert samples == expected
    ledger = _query(fault_stack, "SELECT count(*), sum(row_count) FROM chunk_ledger JOIN sessions "
                                 "USING (session_key) WHERE session_id = :id", id=session_id)[0]
    assert ledger == [count, expected]
    stored = _query(fault_stack, "SELECT count(*), count(DISTINCT elapsed_s) FROM samples JOIN sessions "
                                 "USING (session_key) WHERE session_id = :id", id=session_id)[0]
    assert stored == [expected, expected]


def test_poison_message_dead_lettered(fault_stack):
    from google.cloud import pubsub_v1

    session_id = hashlib.sha256(b"poison").hexdigest()
    _register(fault_stack, session_id, sample_count=10, chunk_count=2)
    good = next(encode_session(session_id, _session(5), 1 << 20))
    # A second chunk whose rows repeat the first chunk's times: every delivery violates the
    # samples primary key, so it can never load.
    poison = next(encode_session(session_id, _session(5), 1 << 20))
    attributes = dict(poison.attributes, seq="1", count="2")
    good_attributes = dict(good.attributes, count="2")
    publisher = _publisher(fault_stack)
    topic = publisher.topic_path(stack.PROJECT, stack.CHUNK_TOPIC)
    publisher.publish(topic, good.data, **good_attributes).result(timeout=30)
    _wait(fault_stack, session_id, lambda r: r[1] == 1, 30, "first chunk loaded")
    publisher.publish(topic, poison.data, **attributes).result(timeout=30)

    status, loaded, _count, samples, reason = _wait(
        fault_stack, session_id, lambda r: r[0] == "failed", 120, "failed")
    assert loaded == 1
    assert samples == 5
    assert "chunk 1 of 2" in reason
    assert f"after {stack.MAX_DELIVERY_ATTEMPTS} delivery attempts" in reason
    assert "duplicate key" in reason

    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = fault_stack.env["PUBSUB_EMULATOR_HOST"]
    try:
        subscriber = pubsub_v1.SubscriberClient()
        path = subscriber.subscription_path(stack.PROJECT, stack.DEAD_LETTER_AUDIT)
        response = subscriber.pull(subscription=path, max_messages=10, timeout=30)
        messages = [m.message for m in response.received_messages]
        subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in response.received_messages])
        subscriber.close()
    finally:
        if saved is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved
    dead = [m for m in messages if m.attributes.get("session_id") == session_id]
    assert len(dead) == 1
    assert dead[0].attributes["seq"] == "1"
    assert dead[0].data == poison.data


def test_sigkill_load_mid_chunk(fault_stack):
    from common.db.connect import connect

    session_id = hashlib.sha256(b"sigkill").hexdigest()
    _register(fault_stack, session_id, sample_count=400, chunk_count=1)
    chunk = next(encode_session(session_id, _session(400), 1 << 20))

    # Hold the session row so that the loader, after its COPY, waits at its status update:
    # killed there, it is in the middle of the chunk with rows sent but not committed.
    holder = connect(fault_stack.database_url)
    holder.run("BEGIN")
    holder.run("SELECT 1 FROM sessions WHERE session_id = :id FOR NO KEY UPDATE", id=session_id)
    publisher = _publisher(fault_stack)
    topic = publisher.topic_path(stack.PROJECT, stack.CHUNK_TOPIC)
    publisher.publish(topic, chunk.data, **chunk.attributes).result(timeout=30)

    deadline = time.monotonic() + 30
    waiting = []
    while time.monotonic() < deadline and not waiting:
        waiting = _query(fault_stack, "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND query LIKE 'UPDATE sessions SET chunks_loaded%'")
        time.sleep(0.05)
    assert waiting, "the loader never reached its status update"
    stack.restart_function(fault_stack, "load", sig=signal.SIGKILL)
    holder.run("ROLLBACK")
    holder.close()

    status, loaded, count, samples, reason = _wait(
        fault_stack, session_id, lambda r: r[0] in ("ready", "failed"), 120, "ready or failed")
    assert status == "ready", reason
    assert (loaded, count, samples) == (1, 1, 400)
    rows = _query(fault_stack, "SELECT count(*) FROM samples JOIN sessions USING (session_key) "
                               "WHERE session_id = :id", id=session_id)[0][0]
    assert rows == 400
    killed = _query(fault_stack, "SELECT count(*) FROM pg_stat_activity WHERE pid = :p", p=waiting[0][0])
    assert killed[0][0] == 0


def test_dead_lettered_chunk_replayed_after_fix(fault_stack):
    from common.db.connect import connect
    from common.load.replay import replay

    session_id = hashlib.sha256(b"replay").hexdigest()
    key = _register(fault_stack, session_id, sample_count=10, chunk_count=2)
    first = next(encode_session(session_id, _session(5), 1 << 20))
    second = next(encode_session(session_id, _session(5, start_s=0.5), 1 << 20))
    # A stray row where the second chunk goes: each delivery of it violates the primary key.
    _query(fault_stack, "INSERT INTO samples (session_key, elapsed_s) VALUES (:k, 0.5)", k=key)
    publisher = _publisher(fault_stack)
    topic = publisher.topic_path(stack.PROJECT, stack.CHUNK_TOPIC)
    publisher.publish(topic, first.data, **dict(first.attributes, count="2")).result(timeout=30)
    publisher.publish(topic, second.data, **dict(second.attributes, seq="1", count="2")).result(timeout=30)
    status, loaded, _count, _samples, reason = _wait(
        fault_stack, session_id, lambda r: r[0] == "failed", 120, "failed")
    assert loaded == 1
    assert "chunk 1 of 2" in reason

    # The operator removes the stray row, then replays the dead-lettered chunk.
    _query(fault_stack, "DELETE FROM samples WHERE session_key = :k AND speed IS NULL", k=key)
    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = fault_stack.env["PUBSUB_EMULATOR_HOST"]
    conn = connect(fault_stack.database_url)
    try:
        summary = replay(conn, stack.PROJECT, stack.DEAD_LETTER_AUDIT, stack.CHUNK_TOPIC)
    finally:
        conn.close()
        if saved is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved
    assert summary.replayed == 1
    assert summary.skipped == []

    status, loaded, count, samples, reason = _wait(
        fault_stack, session_id, lambda r: r[0] in ("ready", "failed"), 60, "ready")
    assert status == "ready", reason
    assert (loaded, count, samples) == (2, 2, 10)
    stored = _query(fault_stack, "SELECT count(*), min(elapsed_s), max(elapsed_s) FROM samples "
                                 "WHERE session_key = :k", k=key)[0]
    assert stored[0] == 10
    assert stored[1] == pytest.approx(0.0)
    assert stored[2] == pytest.approx(0.9)
