"""The OpenAPI document, the offline docs page, and schemathesis against the running API."""

from __future__ import annotations

import random

import pytest
import schemathesis
from api_helpers import call, get_json, motec_csv, new_key, two_lap_rows
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stack_helpers import sha, upload, wait_session

from common.api.openapi import STATIC

pytestmark = pytest.mark.stack

# Generated cases per operation and phase. With 16 operations both runs took under a minute
# together on 2 cores.
MAX_EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


def test_openapi_public(local_stack):
    reply = call(local_stack, "GET", "/v1/openapi.json", key=None)
    assert reply.status == 200
    assert reply.body["openapi"] == "3.1.0"


def test_openapi_lists_every_route(local_stack):
    from common.api.app import routes
    from common.api.routes import app_dispatch  # noqa: F401 - registers every route

    document = get_json(local_stack, "/v1/openapi.json", key=None)
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    registered = {(r.method, r.path) for r in routes()}
    assert documented == registered


def test_openapi_security_matches_public_routes(local_stack):
    document = get_json(local_stack, "/v1/openapi.json", key=None)
    public = {path for path, ops in document["paths"].items() for op in ops.values() if op["security"] == []}
    assert public == {"/health", "/v1/openapi.json", "/v1/docs", "/v1/docs/{asset}"}


def test_docs_page_offline(local_stack):
    reply = call(local_stack, "GET", "/v1/docs", key=None)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    page = reply.raw.decode()
    assert '<script src="/v1/docs/docs.js">' in page
    assert '<link rel="stylesheet" href="/v1/docs/docs.css">' in page


@pytest.mark.parametrize("asset, media", [("docs.js", "text/javascript"), ("docs.css", "text/css")])
def test_docs_assets_served(local_stack, asset, media):
    reply = call(local_stack, "GET", f"/v1/docs/{asset}", key=None)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith(media)
    assert reply.raw == (STATIC / asset).read_bytes()


def test_docs_unknown_asset_rejected(local_stack):
    assert call(local_stack, "GET", "/v1/docs/../../main.py", key=None).status == 404
    assert call(local_stack, "GET", "/v1/docs/evil.js", key=None).status == 422


@pytest.fixture(scope="module")
def fuzz_key(local_stack) -> str:
    """A key without a rate limit, so that the generated requests never see a 429."""
    return new_key(local_stack, "schemathesis", rate_limit=0)


def _client_address() -> dict[str, str]:
    # Each case comes from one of many addresses (as the front end would append them), so the
    # generated load stays out of the address budget that 127.0.0.1 shares with other tests.
    return {"X-Forwarded-For": f"198.18.{random.randint(0, 255)}.{random.randint(1, 254)}"}


@pytest.fixture(scope="module")
def api_schema(local_stack, fuzz_key):
    schema = schemathesis.openapi.from_url(f"{local_stack.api_url}/v1/openapi.json")
    schema.config.update(base_url=local_stack.api_url, headers={"X-API-Key": fuzz_key})
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api_matches_openapi(case):
    case.call_and_validate(headers=_client_address(), checks=CHECKS)


@pytest.fixture(scope="module")
def stored_schema(local_stack, fuzz_key):
    """The schema with a stored two-lap session's id, laps and channels filled in, so that
    schemathesis reaches the success paths of the session, telemetry and lap endpoints."""
    data = motec_csv(["Ground Speed", "Brake Pos", "Lap Distance"], ["km/h", "%", "m"],
                     [[row[0], row[1], row[3], row[5]] for row in two_lap_rows()],
                     venue="Schemathesis Track", vehicle="Car", driver="Driver", beacons_s=[30.0])
    upload("incoming/schemathesis-two-laps.csv", data)
    assert wait_session(local_stack, sha(data))["status"] == "ready"
    schema = schemathesis.openapi.from_url(f"{local_stack.api_url}/v1/openapi.json")
    schema.config.update(base_url=local_stack.api_url, headers={"X-API-Key": fuzz_key},
                         parameters={"session_id": sha(data), "channels": "speed,brake",
                                     "a": f"{sha(data)}:0", "b": f"{sha(data)}:1"})
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    return schema


stored = (schemathesis.pytest.from_fixture("stored_schema")
          .include(path_regex=r"^/v1/(sessions/\{session_id\}|laps/compare)").exclude(method="DELETE"))


@stored.parametrize()
def test_api_matches_openapi_stored_session(case):
    case.call_and_validate(headers=_client_address(), checks=CHECKS)
