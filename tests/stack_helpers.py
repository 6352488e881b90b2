"""Helpers for tests that drive the local stack: upload, query the API, wait for sessions."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request

from common.local import stack


def upload(name: str, data: bytes, bucket: str = stack.BUCKET) -> int:
    """Upload bytes as ``name`` into the emulated bucket; return the object's generation."""
    from common import gcp

    blob = gcp.storage_client().bucket(bucket).blob(name)
    blob.upload_from_string(data)
    return int(blob.generation)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def http(state, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, port: str = "api") -> tuple[int, dict]:
    """Send one request to a function of the stack; return the status and the JSON body."""
    all_headers = dict(headers or {})
    key = state.env.get("SIMTEL_API_KEY")
    if key and port == "api" and "X-API-Key" not in all_headers:
        all_headers["X-API-Key"] = key
    request = urllib.request.Request(f"http://127.0.0.1:{state.ports[port]}{path}", data=body,
                                     method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            if response.headers.get_content_type() != "application/json":
                return response.status, {"raw": raw.decode(errors="replace")}
            return response.status, (json.loads(raw) if raw else {})
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"raw": raw.decode(errors="replace")}


def api(state, path: str) -> dict:
    status, body = http(state, "GET", path)
    assert status == 200, f"GET {path} answered {status}: {body}"
    return body


def wait_session(state, session_id: str, timeout_s: float = 90.0,
                 done: tuple[str, ...] = ("ready", "failed")) -> dict:
    """Poll the API until the session reaches one of ``done``; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        status, body = http(state, "GET", f"/v1/sessions/{session_id}")
        if status == 200:
            last = body
            if body["status"] in done:
                return body
        time.sleep(0.25)
    raise AssertionError(f"session {session_id} not {done} within {timeout_s} s; last: {last}")


def db_rows(state, sql: str, **params):
    """Run a query against the stack's database."""
    from common.db.connect import connect

    conn = connect(state.database_url)
    try:
        return conn.run(sql, **params)
    finally:
        conn.close()
