"""Retention: deleting a session removes everything that belongs to it, and nothing else."""

from __future__ import annotations

import hashlib

from common.chunks import encode_session
from common.cli import main
from common.db.sessions import delete_session, prune_sessions, register_source, store_parsed
from common.formats import parse
from common.load.loader import load_chunk

from conftest import DATA


def _store(db, data: bytes, name: str) -> str:
    session_id = hashlib.sha256(data).hexdigest()
    session = parse(data, name)
    reg = register_source(db, session_id, "bucket", f"incoming/{name}", 1, len(data))
    chunks = list(encode_session(session_id, session, 48))
    assert len(chunks) == 3
    store_parsed(db, reg.session_key, session, len(chunks))
    for chunk in chunks:
        load_chunk(db, chunk.attributes, chunk.data)
    return session_id


def _counts(db, session_id: str) -> dict[str, int]:
    key = db.run("SELECT session_key FROM sessions WHERE session_id = :id", id=session_id)
    if not key:
        return {}
    k = key[0][0]
    return {table: db.run(f"SELECT count(*) FROM {table} WHERE session_key = :k", k=k)[0][0]
            for table in ("samples", "channels", "sources", "chunk_ledger")}


def test_delete_session_removes_everything(db):
    golden = (DATA / "motec" / "golden-motec.csv").read_bytes()
    keep = _store(db, golden, "keep.csv")
    drop = _store(db, golden.replace(b"Golden Car", b"Dropped Car"), "drop.csv")
    assert _counts(db, drop) == {"samples": 5, "channels": 4, "sources": 1, "chunk_ledger": 3}

    assert delete_session(db, drop) is True
    assert _counts(db, drop) == {}
    assert db.run("SELECT count(*) FROM samples")[0][0] == 5
    assert _counts(db, keep) == {"samples": 5, "channels": 4, "sources": 1, "chunk_ledger": 3}
    assert delete_session(db, drop) is False


def test_prune_by_age_and_status(db):
    golden = (DATA / "motec" / "golden-motec.csv").read_bytes()
    old = _store(db, golden.replace(b"Golden Car", b"Old Car"), "old.csv")
    new = _store(db, golden, "new.csv")
    db.run("UPDATE sessions SET created_at = now() - interval '40 days' WHERE session_id = :id", id=old)
    assert prune_sessions(db, 30, status="failed") == []
    assert prune_sessions(db, 30) == [old]
    assert _counts(db, new)["samples"] == 5


def test_cli_sessions_delete(pg_url, capsys):
    from common.db.connect import connect

    db = connect(pg_url)
    session_id = _store(db, (DATA / "motec" / "golden-motec.csv").read_bytes(), "cli.csv")
    assert main(["sessions", "delete", session_id, "--database-url", pg_url]) == 0
    assert f"deleted {session_id}" in capsys.readouterr().out
    assert main(["sessions", "delete", session_id, "--database-url", pg_url]) == 1
    assert db.run("SELECT count(*) FROM samples")[0][0] == 0
    db.close()
