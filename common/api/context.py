"""The request as passed to a handler: parsed parameters, the caller and a size-limited body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import flask

from .auth import Principal
from .errors import ApiError, too_large

# Bytes read from the request stream at a time.
READ_BLOCK_BYTES = 1024 * 1024


@dataclass
class Context:
    request: flask.Request
    query: dict[str, Any]
    path: dict[str, Any]
    principal: Principal | None
    # The client address the rate limit counts (see ratelimit.client_address).
    client: str
    # Largest body this route accepts, in bytes.
    max_body_bytes: int = 0
    _body: bytes | None = field(default=None, repr=False)

    def body(self) -> bytes:
        """Read the whole body, or raise 413 as soon as it passes ``max_body_bytes``.

        Chunked bodies carry no Content-Length, so the limit is enforced while reading too.
        """
        if self._body is not None:
            return self._body
        declared = self.request.content_length
        if declared is not None and declared > self.max_body_bytes:
            raise too_large(self.max_body_bytes)
        stream = self.request.stream
        parts: list[bytes] = []
        size = 0
        while True:
            block = stream.read(min(READ_BLOCK_BYTES, self.max_body_bytes + 1 - size))
            if not block:
                break
            parts.append(block)
            size += len(block)
            if size > self.max_body_bytes:
                raise too_large(self.max_body_bytes)
        self._body = b"".join(parts)
        return self._body

    def json(self) -> Any:
        """Parse the body as JSON; raise 422 when it is missing or not JSON."""
        raw = self.body()
        if not raw.strip():
            raise ApiError(422, "invalid_parameter", "the request body is empty; send a JSON document")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(422, "invalid_parameter", f"the request body is not valid JSON: {exc}") from None
