"""The OpenAPI 3.1 document, built from the registered routes, and the docs page that renders it.

Parameters, bodies and responses come from the same declarations the dispatcher validates
with, so the document follows the code. Error responses are added from each route's
properties: 401 unless public, 403 for the write scope, 404 with path parameters, 413 for any
body, 422 with parameters or a body, 429 when rate-limited, 503 when it reads the database.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import flask

from . import schemas
from .app import Route, route, routes
from .context import Context
from .errors import not_found
from .params import Param
from .responses import JSON, Reply

STATIC = Path(__file__).parent / "static"
# Files under static/ that GET /v1/docs/{asset} serves, with their media types.
ASSETS = {"docs.js": "text/javascript", "docs.css": "text/css"}
API_VERSION = "1.0.0"

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.",
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


def _error(description: str, headers: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description,
                            "content": {JSON: {"schema": schemas.ERROR}}}
    if headers:
        body["headers"] = headers
    return body


def _reply(reply: Reply) -> dict[str, Any]:
    body: dict[str, Any] = {"description": reply.description}
    if reply.media_types:
        content = {}
        for media in reply.media_types:
            if media == JSON:
                content[media] = {"schema": reply.schema} if reply.schema else {}
            elif media.startswith("text/"):
                content[media] = {"schema": {"type": "string"}}
            else:
                content[media] = {"schema": {"type": "string", "format": "binary"}}
        body["content"] = content
    if reply.headers:
        body["headers"] = reply.headers
    return body


def operation(r: Route) -> dict[str, Any]:
    """Return the OpenAPI operation object of one route."""
    op: dict[str, Any] = {"tags": [r.tag], "summary": r.summary,
                          "operationId": r.handler.__name__}
    if r.description:
        op["description"] = r.description
    params: list[Param] = list(r.path_params) + list(r.query)
    if params:
        op["parameters"] = [p.schema() for p in params]
    if r.body:
        op["requestBody"] = {"required": r.body.required, "description": r.body.description,
                             "content": {m: {"schema": r.body.schema} for m in r.body.media_types}}

    responses = {str(status): _reply(reply) for status, reply in sorted(r.responses.items())}
    if r.public:
        op["security"] = []
    else:
        schemes: list[dict[str, list]] = [{"ApiKeyHeader": []}, {"BearerApiKey": []}]
        if r.oidc:
            schemes.append({"GoogleOidc": []})
        op["security"] = schemes
        responses.setdefault("401", _error("Missing, unknown or revoked API key."))
        if r.scope == "write" or r.oidc:
            responses.setdefault("403", _error("The caller lacks the write scope, or the OIDC "
                                               "token's email is not allowed."))

    if r.path_params or r.path in ("/v1/laps/compare", "/v1/sessions/{session_id}/telemetry"):
        responses.setdefault("404", _error("The session, lap, channel or object does not exist."))
    responses.setdefault("413", _error("The request body is larger than this endpoint accepts."))
    if params or r.body:
        responses.setdefault("422", _error("A parameter or the body is invalid; the message names it."))
    if r.rate_limited:
        responses.setdefault("429", _error("Too many requests for this key or client address.",
                                           _RETRY_AFTER))
        responses.setdefault("503", _error("The database is unavailable.", _RETRY_AFTER))
    op["responses"] = responses
    return op


@functools.cache
def document() -> dict[str, Any]:
    """Return the OpenAPI document (built once per process)."""
    paths: dict[str, dict[str, Any]] = {}
    for r in sorted(routes(), key=lambda r: (r.path != "/health", r.path)):
        paths.setdefault(r.path, {})[r.method.lower()] = operation(r)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "simtel API",
            "version": API_VERSION,
            "description": "Sessions, laps and telemetry of sim racing and track-day logs; uploads, "
                           "parsing and machine-learning training data. Errors are "
                           '{"error": {"code", "message"}}. Every route except /health, '
                           "/v1/openapi.json and /v1/docs needs an API key.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas.COMPONENTS,
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                 "description": "A key from `simtel apikey create NAME`."},
                "BearerApiKey": {"type": "http", "scheme": "bearer",
                                 "description": "The same API key as 'Authorization: Bearer <key>'."},
                "GoogleOidc": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "A Google-signed OIDC token (Cloud Scheduler) whose "
                                              "audience is the API's URL and whose email is listed "
                                              "in API_OIDC_EMAILS."},
            },
        },
    }


@route("GET", "/v1/openapi.json", tag="documentation", public=True, rate_limited=False,
       responses={200: Reply("This OpenAPI 3.1 document.", {"type": "object"})})
def openapi_json(ctx: Context):
    """Get the OpenAPI document of this API."""
    return flask.Response(json.dumps(document()), mimetype=JSON)


@route("GET", "/v1/docs", tag="documentation", public=True, rate_limited=False,
       responses={200: Reply("An HTML page that renders the OpenAPI document.", None, ("text/html",))})
def docs_page(ctx: Context):
    """Read the interactive API documentation (HTML, works offline)."""
    return flask.Response((STATIC / "docs.html").read_bytes(), mimetype="text/html")


@route("GET", "/v1/docs/{asset}", tag="documentation", public=True, rate_limited=False,
       path_params=(Param("asset", "string", "A file of the docs page.", where="path",
                          choices=tuple(ASSETS)),),
       responses={200: Reply("The file.", None, tuple(sorted(set(ASSETS.values()))))})
def docs_asset(ctx: Context):
    """Get a script or style sheet of the docs page."""
    name = ctx.path["asset"]
    if name not in ASSETS:
        raise not_found(f"docs file {name}")
    response = flask.Response((STATIC / name).read_bytes(), mimetype=ASSETS[name])
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
