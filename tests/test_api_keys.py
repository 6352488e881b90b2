"""API keys: storage as hashes, lookup, revocation, and the ``simtel apikey`` commands."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from common.api.keys import create_key, find_key, list_keys, revoke_key
from common.errors import SimtelError


def test_key_create_stores_only_hash(db):
    token, key = create_key(db, "laptop")
    rows = db.run("SELECT key_hash, prefix FROM api_keys WHERE key_id = :id", id=key.key_id)
    assert token.startswith("simtel_")
    assert len(token) == len("simtel_") + 43
    assert bytes(rows[0][0]) == hashlib.sha256(token.encode()).digest()
    assert rows[0][1] == token[:12]
    assert token not in str(db.run("SELECT * FROM api_keys"))


def test_key_find_by_token(db):
    token, key = create_key(db, "ci", ("read",), rate_limit=30)
    found = find_key(db, token)
    assert found.key_id == key.key_id
    assert found.scopes == ("read",)
    assert found.rate_limit == 30


def test_key_wrong_token_not_found(db):
    token, _ = create_key(db, "ci")
    assert find_key(db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_key_revoked_not_found(db):
    token, _ = create_key(db, "old")
    assert revoke_key(db, "old") is True
    assert find_key(db, token) is None
    assert revoke_key(db, "old") is False


def test_key_name_in_use_rejected(db):
    create_key(db, "twice")
    with pytest.raises(SimtelError, match="already in use"):
        create_key(db, "twice")


def test_key_name_reusable_after_revoke(db):
    first, _ = create_key(db, "rotate")
    revoke_key(db, "rotate")
    second, _ = create_key(db, "rotate")
    assert second != first
    assert [k.name for k in list_keys(db)] == ["rotate"]
    assert len(list_keys(db, include_revoked=True)) == 2


@pytest.mark.parametrize("name", ["", "has space", "-dash-first", "x" * 65, "semi;colon"])
def test_key_invalid_name_rejected(db, name):
    with pytest.raises(SimtelError, match="invalid key name"):
        create_key(db, name)


def test_key_invalid_scope_rejected(db):
    with pytest.raises(SimtelError, match="invalid scopes"):
        create_key(db, "admin", ("admin",))


def _simtel(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "common.cli", "apikey", *args, "--database-url", url],
                          check=False, capture_output=True, text=True, env=env, timeout=60)


def test_apikey_cli_create_list_revoke(pg_url, db):
    created = _simtel(pg_url, "create", "dashboard", "--read-only", "--rate-limit", "100")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("simtel_")
    assert "only time it is shown" in created.stderr
    assert find_key(db, token).scopes == ("read",)

    listed = _simtel(pg_url, "list")
    assert listed.returncode == 0, listed.stderr
    assert "dashboard" in listed.stdout
    assert token[:12] in listed.stdout
    assert token not in listed.stdout

    revoked = _simtel(pg_url, "revoke", "dashboard")
    assert revoked.returncode == 0, revoked.stderr
    assert find_key(db, token) is None
    again = _simtel(pg_url, "revoke", "dashboard")
    assert again.returncode == 1
