"""API keys, scopes and rate limits on the local stack.

The local stack has no front end, so its API trusts the last X-Forwarded-For entry as if Google's
front end had appended it (API_TRUSTED_PROXY_HOPS=1, the default). The tests play that front end
by sending their own last entry, and forge the entries before it.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import uuid

import pytest
from api_helpers import call, error_code, new_key, run_sql

from common.api.keys import revoke_key
from common.api.ratelimit import limits
from common.db.connect import connect

pytestmark = pytest.mark.stack

TAG = uuid.uuid4().hex[:8]


def test_missing_key_401(local_stack):
    reply = call(local_stack, "GET", "/v1/sessions", key=None)
    assert reply.status == 401
    assert error_code(reply) == "unauthenticated"
    assert reply.headers["www-authenticate"].startswith("Bearer")


def test_unknown_key_401(local_stack):
    reply = call(local_stack, "GET", "/v1/sessions", key="simtel_" + "A" * 43)
    assert reply.status == 401
    assert reply.body["error"]["message"] == "the API key is not valid or was revoked"


def test_non_key_bearer_401(local_stack):
    reply = call(local_stack, "GET", "/v1/sessions", headers={"Authorization": "Bearer hello"}, key=None)
    assert reply.status == 401
    assert "not an API key" in reply.body["error"]["message"]


def test_bearer_key_accepted(local_stack):
    reply = call(local_stack, "GET", "/v1/sessions?limit=1",
                 headers={"Authorization": f"Bearer {local_stack.env['SIMTEL_API_KEY']}"}, key=None)
    assert reply.status == 200


def test_revoked_key_401(local_stack):
    key = new_key(local_stack, f"revoked-{TAG}")
    assert call(local_stack, "GET", "/v1/sessions?limit=1", key=key).status == 200
    conn = connect(local_stack.database_url)
    try:
        revoke_key(conn, f"revoked-{TAG}")
    finally:
        conn.close()
    assert call(local_stack, "GET", "/v1/sessions?limit=1", key=key).status == 401


def test_read_only_key_reads(local_stack):
    key = new_key(local_stack, f"read-{TAG}", scopes=("read",))
    assert call(local_stack, "GET", "/v1/sessions?limit=1", key=key).status == 200


def test_read_only_key_cannot_delete_403(local_stack):
    key = new_key(local_stack, f"read-delete-{TAG}", scopes=("read",))
    reply = call(local_stack, "DELETE", f"/v1/sessions/{'ab' * 32}", key=key)
    assert reply.status == 403
    assert error_code(reply) == "forbidden"
    assert "'write' scope" in reply.body["error"]["message"]


def test_oidc_token_rejected_without_audience(local_stack):
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    reply = call(local_stack, "POST", "/v1/features:rebuild", headers={"Authorization": f"Bearer {token}"},
                 key=None)
    assert reply.status == 401
    assert "API_OIDC_EMAILS" in reply.body["error"]["message"]


def test_oidc_token_rejected_on_other_routes(local_stack):
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    reply = call(local_stack, "GET", "/v1/sessions", headers={"Authorization": f"Bearer {token}"}, key=None)
    assert reply.status == 401
    assert "not an API key" in reply.body["error"]["message"]


def _until_429(send, max_requests: int):
    """Call ``send`` until it returns a 429 reply; return (requests sent, that reply)."""
    for count in range(1, max_requests + 1):
        reply = send()
        if reply.status == 429:
            return count, reply
        assert reply.status == 200, reply.raw[:300]
    raise AssertionError(f"no 429 within {max_requests} requests")


def test_key_rate_limit_429(local_stack):
    key = new_key(local_stack, f"limited-{TAG}", rate_limit=3)
    window = limits().window_s
    count, reply = _until_429(lambda: call(local_stack, "GET", "/v1/sessions?limit=1", key=key), 8)
    # 4 unless the fixed window happened to roll over between two of the requests.
    assert count in (4, 7)
    assert error_code(reply) == "rate_limited"
    assert "API key" in reply.body["error"]["message"]
    assert 1 <= int(reply.headers["retry-after"]) <= window
    # Other keys have their own budget.
    assert call(local_stack, "GET", "/v1/sessions?limit=1").status == 200


def test_key_without_limit(local_stack):
    key = new_key(local_stack, f"unlimited-{TAG}", rate_limit=0)
    for _ in range(5):
        assert call(local_stack, "GET", "/v1/sessions?limit=1", key=key).status == 200
    rows = run_sql(local_stack, "SELECT count(*) FROM api_rate_limits r JOIN api_keys k "
                                "ON r.identity = 'key:' || k.key_id WHERE k.name = :n", n=f"unlimited-{TAG}")
    assert rows[0][0] == 0


def _forged() -> str:
    return f"192.0.2.{random.randint(1, 254)}"


def test_forged_forwarded_for_keeps_identity(local_stack):
    for _ in range(5):
        reply = call(local_stack, "GET", "/v1/sessions?limit=1",
                     headers={"X-Forwarded-For": f"{_forged()}, 198.51.100.21"})
        assert reply.status == 200
    rows = run_sql(local_stack, "SELECT identity, hits FROM api_rate_limits WHERE identity LIKE 'addr:%' "
                                "AND (identity LIKE 'addr:192.0.2.%' OR identity = 'addr:198.51.100.21')")
    assert [row[0] for row in rows] == ["addr:198.51.100.21"]
    # 5, or fewer when the fixed window rolled over between the requests.
    assert 1 <= rows[0][1] <= 5


class _KeepAlive:
    """Requests on one kept-alive connection, to send thousands of them quickly."""

    def __init__(self, state):
        self.conn = http.client.HTTPConnection("127.0.0.1", state.ports["api"], timeout=30)

    def get(self, path: str, forwarded: str):
        self.conn.request("GET", path, headers={"X-Forwarded-For": forwarded})
        response = self.conn.getresponse()
        raw = response.read()
        response.raw_body = raw
        response.body = json.loads(raw)
        return response

    def close(self):
        self.conn.close()


def test_address_limit_ignores_forged_entry(local_stack):
    limit = limits().per_address
    if limit == 0:
        pytest.skip("API_RATE_LIMIT_PER_ADDRESS is 0 (no limit)")
    client = _KeepAlive(local_stack)
    try:
        for _ in range(3):
            _count, reply = _until_429(lambda: client.get("/health", f"{_forged()}, 198.51.100.77"),
                                       2 * limit + 2)
            if int(reply.headers["Retry-After"]) >= 3:
                break
            time.sleep(int(reply.headers["Retry-After"]) + 0.5)
        assert reply.body["error"]["code"] == "rate_limited"
        assert "client address" in reply.body["error"]["message"]
        # Another forged first entry: still the same client, still limited.
        assert client.get("/health", f"{_forged()}, 198.51.100.77").status == 429
        assert client.get("/health", "198.51.100.77").status == 429
        # Another address appended by the front end is another client.
        assert client.get("/health", f"{_forged()}, 198.51.100.78").status == 200
    finally:
        client.close()
