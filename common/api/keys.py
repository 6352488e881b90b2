"""API keys: create, list, revoke and look up, stored as SHA-256 hashes in ``api_keys``.

A key is ``simtel_`` followed by 32 random bytes in URL-safe base64. Only its SHA-256 is
stored. A slow password hash (bcrypt, scrypt) defends low-entropy secrets against guessing. A
256-bit random token cannot be guessed, so SHA-256 is as strong here. Because SHA-256 is
deterministic, the API finds a key with one indexed lookup instead of trying every stored hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pg8000.native

from ..errors import SimtelError

TOKEN_PREFIX = "simtel_"
# Characters of the token kept in clear in ``api_keys.prefix`` to tell keys apart in listings.
SHOWN_PREFIX_CHARS = 12
SCOPES = ("read", "write")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ApiKey:
    key_id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    # Requests per rate-limit window; None means the API_RATE_LIMIT_PER_KEY default.
    rate_limit: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_COLUMNS = "key_id, name, prefix, scopes, rate_limit, created_at, last_used_at, revoked_at"


def _key(row) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], tuple(row[3]), row[4], row[5], row[6], row[7])


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_key(conn: pg8000.native.Connection, name: str, scopes: tuple[str, ...] = SCOPES,
               rate_limit: int | None = None) -> tuple[str, ApiKey]:
    """Create a key; return the token (shown once, never stored) and the stored record."""
    if not _NAME.match(name):
        raise SimtelError(f"invalid key name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise SimtelError(f"invalid scopes {sorted(scopes)}; choose from {', '.join(SCOPES)}")
    if rate_limit is not None and rate_limit < 0:
        raise SimtelError(f"rate limit must be 0 or more requests per window, found {rate_limit}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    rows = conn.run(
        "INSERT INTO api_keys (name, key_hash, prefix, scopes, rate_limit) "
        "VALUES (:name, :hash, :prefix, CAST(:scopes AS text[]), :limit) "
        f"ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING RETURNING {_COLUMNS}",
        name=name, hash=hash_token(token), prefix=token[:SHOWN_PREFIX_CHARS],
        scopes=list(scopes), limit=rate_limit,
    )
    if not rows:
        raise SimtelError(f"a key named {name!r} is already in use; revoke it first "
                          f"('simtel apikey revoke {name}') or choose another name")
    return token, _key(rows[0])


def list_keys(conn: pg8000.native.Connection, include_revoked: bool = False) -> list[ApiKey]:
    sql = f"SELECT {_COLUMNS} FROM api_keys"
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    return [_key(row) for row in conn.run(sql + " ORDER BY name, key_id")]


def revoke_key(conn: pg8000.native.Connection, name: str) -> bool:
    """Revoke the key in use under ``name``; return whether there was one."""
    rows = conn.run("UPDATE api_keys SET revoked_at = now() WHERE name = :name AND revoked_at IS NULL "
                    "RETURNING key_id", name=name)
    return bool(rows)


def find_key(conn: pg8000.native.Connection, token: str) -> ApiKey | None:
    """Return the key in use (not revoked) whose token is ``token``, or None."""
    rows = conn.run(f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = :hash AND revoked_at IS NULL",
                    hash=hash_token(token))
    return _key(rows[0]) if rows else None


def touch_key(conn: pg8000.native.Connection, key: ApiKey, every_s: int = 300) -> None:
    """Record that a key was used, at most once every ``every_s`` seconds to spare row writes."""
    conn.run("UPDATE api_keys SET last_used_at = now() WHERE key_id = :id AND "
             "(last_used_at IS NULL OR last_used_at < now() - make_interval(secs => :every))",
             id=key.key_id, every=every_s)
