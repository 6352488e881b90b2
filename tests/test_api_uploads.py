"""Uploads, POST /v1/parse and request size limits on the local stack."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from api_helpers import call, error_code, get_json, new_key
from conftest import DATA
from stack_helpers import sha, upload, wait_session

from common.config import settings
from common.formats import parse

pytestmark = pytest.mark.stack

TAG = uuid.uuid4().hex[:8]


def _post_json(state, path: str, body, **kwargs):
    return call(state, "POST", path, json.dumps(body).encode(),
                headers={"Content-Type": "application/json"}, **kwargs)


def _wait_received(state, status_url: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = get_json(state, status_url)
        if body["session"] and body["session"]["status"] in ("ready", "failed"):
            return body
        time.sleep(0.25)
    raise AssertionError(f"{status_url} did not become a finished session within {timeout_s} s")


def test_upload_url_to_session(local_stack):
    data = (DATA / "motec" / "golden-motec.csv").read_bytes().replace(b"Golden Car", f"Upload {TAG}".encode())
    reply = _post_json(local_stack, "/v1/uploads",
                       {"filename": "golden lap.csv", "size_bytes": len(data), "content_type": "text/csv"})
    assert reply.status == 201
    ticket = reply.body
    assert ticket["object"] == f"incoming/{ticket['upload_id']}/golden lap.csv"
    assert ticket["bucket"] == "simtel-raw"
    assert ticket["kind"] == "resumable_session"
    assert ticket["method"] == "PUT"
    assert ticket["upload_url"].startswith(local_stack.env["STORAGE_EMULATOR_HOST"])

    pending = get_json(local_stack, ticket["status_url"])
    assert pending["state"] == "pending"
    assert pending["session"] is None

    put = urllib.request.Request(ticket["upload_url"], data=data, method="PUT")
    with urllib.request.urlopen(put, timeout=30) as response:
        assert response.status == 200
    status = _wait_received(local_stack, ticket["status_url"])
    assert status["state"] == "received"
    assert status["session"]["id"] == sha(data)
    assert status["session"]["status"] == "ready"
    assert status["session"]["size_bytes"] == len(data)
    detail = get_json(local_stack, status["session"]["url"])
    assert detail["car"] == f"Upload {TAG}"


def test_upload_sidecar_same_folder(local_stack):
    first = _post_json(local_stack, "/v1/uploads", {"filename": "session.ldx"}).body
    second = _post_json(local_stack, "/v1/uploads",
                        {"filename": "session.ld", "upload_id": first["upload_id"]}).body
    assert second["upload_id"] == first["upload_id"]
    assert second["object"].rsplit("/", 1)[0] == first["object"].rsplit("/", 1)[0]


def test_upload_same_object_twice_409(local_stack):
    first = _post_json(local_stack, "/v1/uploads", {"filename": "again.csv"}).body
    reply = _post_json(local_stack, "/v1/uploads", {"filename": "again.csv", "upload_id": first["upload_id"]})
    assert reply.status == 409
    assert error_code(reply) == "conflict"


@pytest.mark.parametrize("body, message", [
    ({"filename": "a/b.csv"}, "parameter filename must be a file name"),
    ({"filename": ".."}, "parameter filename must be a file name"),
    ({"filename": ""}, "parameter filename must be a file name"),
    ({"filename": "x" * 201}, "parameter filename must be a file name"),
    ({"filename": "tab\there.csv"}, "parameter filename must be a file name"),
    ({}, "parameter filename must be a file name"),
    ({"filename": "a.csv", "colour": "red"}, "parameter colour is not a field of this request"),
    ({"filename": "a.csv", "size_bytes": -1}, "parameter size_bytes must be a whole number"),
    ({"filename": "a.csv", "content_type": "csv"}, "parameter content_type must be a media type"),
    ({"filename": "a.csv", "upload_id": str(uuid.uuid4())},
     "parameter upload_id must be the upload_id of an earlier upload"),
    (["a.csv"], "parameter body must be a JSON object"),
])
def test_upload_bad_body_422(local_stack, body, message):
    reply = _post_json(local_stack, "/v1/uploads", body)
    assert reply.status == 422
    assert reply.body["error"]["message"].startswith(message)


def test_upload_not_json_422(local_stack):
    reply = call(local_stack, "POST", "/v1/uploads", b"filename=a.csv")
    assert reply.status == 422
    assert reply.body["error"]["message"].startswith("the request body is not valid JSON")


def test_upload_file_over_limit_413(local_stack):
    limit = settings().max_upload_bytes
    reply = _post_json(local_stack, "/v1/uploads", {"filename": "huge.ld", "size_bytes": limit + 1})
    assert reply.status == 413
    assert error_code(reply) == "payload_too_large"
    assert str(limit) in reply.body["error"]["message"]


def test_upload_body_over_limit_413(local_stack):
    reply = _post_json(local_stack, "/v1/uploads", {"filename": "a.csv", "padding": "x" * 20_000})
    assert reply.status == 413
    assert reply.body["error"]["message"] == (
        "the request body is larger than the 16384 bytes this endpoint accepts")


def test_upload_read_only_key_403(local_stack):
    key = new_key(local_stack, f"reader-{TAG}", scopes=("read",))
    reply = _post_json(local_stack, "/v1/uploads", {"filename": "a.csv"}, key=key)
    assert reply.status == 403
    assert error_code(reply) == "forbidden"


def test_upload_status_unknown_404(local_stack):
    reply = call(local_stack, "GET", f"/v1/uploads/incoming/{uuid.uuid4()}/nothing.csv")
    assert reply.status == 404


def test_upload_status_of_direct_bucket_upload(local_stack):
    data = (DATA / "motec" / "golden-motec.csv").read_bytes().replace(b"Golden Car", f"Direct {TAG}".encode())
    upload(f"incoming/direct-{TAG}.csv", data)
    wait_session(local_stack, sha(data))
    body = get_json(local_stack, f"/v1/uploads/incoming/direct-{TAG}.csv")
    assert body["state"] == "received"
    assert body["issued_at"] is None
    assert body["session"]["id"] == sha(data)


def test_parse_matches_inspect_json(local_stack):
    path = DATA / "motec" / "golden-motec.csv"
    reply = call(local_stack, "POST", "/v1/parse?name=golden-motec.csv", path.read_bytes(),
                 headers={"Content-Type": "application/octet-stream"})
    assert reply.status == 200
    printed = subprocess.run([sys.executable, "-m", "common.cli", "inspect", "--json", str(path)],
                             check=True, capture_output=True, text=True, timeout=60).stdout
    expected = json.loads(printed)
    expected["file"] = "golden-motec.csv"
    assert reply.body == expected


def test_parse_stores_nothing(local_stack):
    data = (DATA / "motec" / "golden-motec.csv").read_bytes().replace(b"Golden Car", f"Parse {TAG}".encode())
    assert call(local_stack, "POST", "/v1/parse", data).status == 200
    assert call(local_stack, "GET", f"/v1/sessions/{sha(data)}").status == 404


def test_parse_unreadable_422(local_stack):
    data = b"this is a letter, not a log\n"
    reply = call(local_stack, "POST", "/v1/parse?name=letter.txt", data)
    assert reply.status == 422
    assert error_code(reply) == "unreadable_file"
    with pytest.raises(Exception) as caught:
        parse(data, "letter.txt")
    assert reply.body["error"]["message"] == str(caught.value)


def test_parse_empty_body_422(local_stack):
    reply = call(local_stack, "POST", "/v1/parse?name=empty.csv", b"")
    assert reply.status == 422
    assert "empty.csv" in reply.body["error"]["message"]


def _raw_request(state, method: str, path: str, headers: dict[str, str], chunks) -> tuple[int, dict]:
    """Send a request whose body is streamed from ``chunks``; return the status and JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", state.ports["api"], timeout=120)
    try:
        conn.putrequest(method, path)
        for name, value in {"X-API-Key": state.env["SIMTEL_API_KEY"], **headers}.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for chunk in chunks:
                conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server sent its response before reading the whole body
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_parse_declared_length_over_limit_413(local_stack):
    limit = settings().max_request_bytes
    status, body = _raw_request(local_stack, "POST", "/v1/parse",
                                {"Content-Length": str(limit + 1)}, [b"x" * 1024])
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert str(limit) in body["error"]["message"]


def test_parse_chunked_body_over_limit_413(local_stack):
    limit = settings().max_request_bytes
    block = b"x" * (1024 * 1024)
    blocks = limit // len(block) + 1

    def chunked():
        for _ in range(blocks):
            yield f"{len(block):x}\r\n".encode() + block + b"\r\n"
        yield b"0\r\n\r\n"

    status, body = _raw_request(local_stack, "POST", "/v1/parse", {"Transfer-Encoding": "chunked"}, chunked())
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"


def test_body_on_get_413(local_stack):
    reply = call(local_stack, "GET", "/v1/sessions", b"{}")
    assert reply.status == 413
    assert reply.body["error"]["message"] == (
        "the request body is larger than the 0 bytes this endpoint accepts")
