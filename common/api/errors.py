"""API errors with a stable JSON shape: ``{"error": {"code": ..., "message": ...}}``.

Codes by status: 401 ``unauthenticated``, 403 ``forbidden``, 404 ``not_found``, 405
``method_not_allowed``, 409 ``conflict``, 413 ``payload_too_large``, 422 ``invalid_parameter``
(``unreadable_file`` for POST /v1/parse), 429 ``rate_limited``, 500 ``internal``, 503
``unavailable``.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error returned to the client with an HTTP status and a stable error code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def not_found(resource: str) -> ApiError:
    return ApiError(404, "not_found", f"{resource} not found")


def bad_request(message: str) -> ApiError:
    return ApiError(422, "invalid_parameter", message)


def invalid(name: str, problem: str) -> ApiError:
    """A 422 for one named parameter, such as ``parameter limit must be at most 500, found 900``."""
    return ApiError(422, "invalid_parameter", f"parameter {name} {problem}")


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, {"WWW-Authenticate": 'Bearer realm="simtel"'})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def too_large(limit_bytes: int, what: str = "request body") -> ApiError:
    return ApiError(413, "payload_too_large",
                    f"the {what} is larger than the {limit_bytes} bytes this endpoint accepts")
