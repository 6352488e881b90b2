"""Request routing for the API: match a route, run its handler, answer JSON (errors included)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import flask
import pg8000.native

from ..db.connect import pool
from ..errors import TransientError
from .errors import ApiError

logger = logging.getLogger(__name__)

Handler = Callable[..., flask.Response | dict | list | tuple]


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Handler
    # Whether the route is served without an API key.
    public: bool = False


_routes: list[Route] = []


def route(method: str, path: str, public: bool = False):
    """Register a handler for ``path``; ``{name}`` segments become keyword arguments."""
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"

    def decorate(func: Handler) -> Handler:
        _routes.append(Route(method, re.compile(regex), func, public))
        return func

    return decorate


def json_response(body, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    return flask.Response(json.dumps(body, default=str, allow_nan=False), status=status,
                          headers=headers or {}, mimetype="application/json")


def dispatch(request: flask.Request) -> flask.Response:
    """Answer one request."""
    started = time.monotonic()
    path = request.path.rstrip("/") or "/"
    try:
        response = _dispatch(request, path)
    except ApiError as exc:
        response = json_response(exc.body(), exc.status, exc.headers)
    except (TransientError, pg8000.native.InterfaceError) as exc:
        logger.error("database unavailable: %s", exc, extra={"path": path})
        response = json_response({"error": {"code": "unavailable",
                                            "message": "the database is unavailable; retry later"}},
                                 503, {"Retry-After": "5"})
    except Exception:  # noqa: BLE001 - answer 500 with a stable body and log the cause
        logger.exception("request failed", extra={"path": path, "method": request.method})
        response = json_response({"error": {"code": "internal",
                                            "message": "internal error; see the server logs"}}, 500)
    logger.info("request", extra={"path": path, "method": request.method,
                                  "code": response.status_code,
                                  "duration_ms": round((time.monotonic() - started) * 1000, 1)})
    return response


def _dispatch(request: flask.Request, path: str) -> flask.Response:
    allowed = []
    for r in _routes:
        m = r.pattern.match(path)
        if not m:
            continue
        if r.method != request.method:
            allowed.append(r.method)
            continue
        result = r.handler(request, **m.groupdict())
        if isinstance(result, flask.Response):
            return result
        if isinstance(result, tuple):
            return json_response(*result)
        return json_response(result)
    if allowed:
        raise ApiError(405, "method_not_allowed",
                       f"{request.method} is not allowed on {path}; allowed: {', '.join(allowed)}",
                       {"Allow": ", ".join(allowed)})
    raise ApiError(404, "not_found", f"no route for {path}")


def connection():
    """Lend a pooled database connection for the length of a ``with`` block."""
    return pool().connection()
