"""Request routing for the API: match a route, check the caller, run its handler, return JSON.

Order of work for each request, and why:

1. Match the path and method (404, 405).
2. Identify the caller and count the request against the rate limits, in one database
   checkout: the client address is always counted (so unauthenticated floods are limited too),
   the API key when there is one. 429 comes before 401 and 403, so that guessing keys is
   limited as well.
3. Reject a declared body larger than the route accepts (413) before reading it.
4. Parse the path and query parameters (422 naming the parameter), then run the handler.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import flask
import pg8000.native
import werkzeug.exceptions

from ..db.connect import pool
from ..errors import TransientError
from . import ratelimit
from .auth import Principal, authenticate, require_scope
from .context import Context
from .errors import ApiError, too_large
from .params import Param, parse_query
from .responses import Body, Reply, json_response

logger = logging.getLogger(__name__)

Handler = Callable[..., flask.Response | dict | list | tuple]


@dataclass
class Route:
    method: str
    # The path as documented, such as /v1/sessions/{session_id}.
    path: str
    pattern: re.Pattern
    handler: Handler
    summary: str
    description: str
    tag: str
    # Served without an API key.
    public: bool
    # The key scope the route needs: "read" or "write".
    scope: str
    # Also accepts a Google-signed OIDC token (see auth.py).
    oidc: bool
    rate_limited: bool
    query: tuple[Param, ...]
    path_params: tuple[Param, ...]
    body: Body | None
    responses: dict[int, Reply] = field(default_factory=dict)


_routes: list[Route] = []


def routes() -> list[Route]:
    return list(_routes)


def route(method: str, path: str, *, tag: str, public: bool = False, scope: str = "read",
          oidc: bool = False, rate_limited: bool = True, query: tuple[Param, ...] = (),
          path_params: tuple[Param, ...] = (), body: Body | None = None,
          responses: dict[int, Reply] | None = None):
    """Register a handler for ``path``.

    ``{name}`` matches one path segment, ``{name:path}`` the rest of the path (slashes included).
    The handler is called as ``handler(ctx)``; its docstring's first line is the summary in the
    OpenAPI document and the rest its description.
    """
    documented = re.sub(r"\{(\w+):path\}", r"{\1}", path)
    regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", path)
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex) + "$"

    def decorate(func: Handler) -> Handler:
        doc = (func.__doc__ or "").strip().split("\n", 1)
        _routes.append(Route(
            method=method, path=documented, pattern=re.compile(regex), handler=func,
            summary=doc[0].strip(), description=doc[1].strip() if len(doc) > 1 else "",
            tag=tag, public=public, scope=scope, oidc=oidc, rate_limited=rate_limited, query=query,
            path_params=path_params, body=body, responses=responses or {},
        ))
        return func

    return decorate


def dispatch(request: flask.Request) -> flask.Response:
    """Handle one request and return its response."""
    started = time.monotonic()
    path = request.path.rstrip("/") or "/"
    caller: list[Principal] = []
    try:
        response = _dispatch(request, path, caller)
    except ApiError as exc:
        response = json_response(exc.body(), exc.status, exc.headers)
    except (TransientError, pg8000.native.InterfaceError) as exc:
        logger.error("database unavailable: %s", exc, extra={"path": path})
        response = json_response({"error": {"code": "unavailable",
                                            "message": "the database is unavailable; retry later"}},
                                 503, {"Retry-After": "5"})
    except Exception:
        logger.exception("request failed", extra={"path": path, "method": request.method})
        response = json_response({"error": {"code": "internal",
                                            "message": "internal error; see the server logs"}}, 500)
    if request.content_length or request.headers.get("Transfer-Encoding"):
        _skip_body_drain(response)
    logger.info("request", extra={"path": path, "method": request.method,
                                  "code": response.status_code,
                                  "key_name": caller[0].name if caller else None,
                                  "duration_ms": round((time.monotonic() - started) * 1000, 1)})
    return response


def framework_error(exc: werkzeug.exceptions.HTTPException) -> flask.Response:
    """Convert an error raised by the web framework itself to the API's error shape."""
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    status = exc.code or 500
    code = codes.get(status, "internal" if status >= 500 else "invalid_parameter")
    return json_response({"error": {"code": code, "message": exc.description or exc.name}}, status)


def _skip_body_drain(response: flask.Response) -> None:
    """Send the response without first reading what is left of the request body.

    functions-framework reads the whole request body before it sends a response that is not
    streamed, so a 413 (or 401) for a large upload would wait for, and buffer, the whole upload.
    A streamed response skips that read; gunicorn discards the unread rest of the body before it
    reads the next request on the connection.
    """
    if not response.is_streamed:
        data = response.get_data()
        response.response = iter([data])


def _match(request: flask.Request, path: str) -> tuple[Route, dict[str, str]]:
    allowed = []
    for r in _routes:
        m = r.pattern.match(path)
        if not m:
            continue
        if r.method == request.method:
            return r, m.groupdict()
        allowed.append(r.method)
    if allowed:
        raise ApiError(405, "method_not_allowed",
                       f"{request.method} is not allowed on {path}; allowed: {', '.join(allowed)}",
                       {"Allow": ", ".join(allowed)})
    raise ApiError(404, "not_found", f"no route for {path}")


def _dispatch(request: flask.Request, path: str, caller: list[Principal]) -> flask.Response:
    r, raw_path = _match(request, path)
    limits = ratelimit.limits()
    client = ratelimit.client_address(request, limits.proxy_hops)
    principal = _admit(request, r, limits, client)
    if principal is not None:
        caller.append(principal)

    max_body = r.body.max_bytes() if r.body else 0
    if request.content_length is not None and request.content_length > max_body:
        raise too_large(max_body)

    path_values = {}
    for p in r.path_params:
        path_values[p.name] = p.parse(raw_path[p.name])
    ctx = Context(request=request, query=parse_query(r.query, request.args), path=path_values,
                  principal=principal, client=client, max_body_bytes=max_body)
    result = r.handler(ctx)
    if isinstance(result, flask.Response):
        return result
    if isinstance(result, tuple):
        return json_response(*result)
    return json_response(result)


def _admit(request: flask.Request, r: Route, limits: ratelimit.Limits, client: str) -> Principal | None:
    """Identify the caller and count the request; raise 401, 403 or 429 when it may not pass."""
    if r.public and not r.rate_limited:
        return None
    with connection() as conn:
        principal = None
        auth_error = None
        if not r.public:
            try:
                principal = authenticate(conn, request, r.oidc)
            except ApiError as exc:
                if exc.status >= 500:
                    raise
                auth_error = exc
        if r.rate_limited:
            counted = {f"addr:{client}": limits.per_address}
            if principal is not None and principal.key_id is not None:
                own = principal.rate_limit
                counted[f"key:{principal.key_id}"] = limits.per_key if own is None else own
            ratelimit.check(conn, counted, limits.window_s)
    if auth_error is not None:
        raise auth_error
    if principal is not None:
        require_scope(principal, r.scope)
    return principal


def connection():
    """Lend a pooled database connection for the length of a ``with`` block."""
    return pool().connection()

