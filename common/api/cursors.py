"""Opaque pagination cursors: the sort key of a page's last row, as URL-safe base64 JSON."""

from __future__ import annotations

import base64
import json
from typing import Any

from .errors import invalid


def encode(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode(cursor: str, types: tuple[type, ...]) -> tuple:
    """Return the cursor's values, checked against ``types``; raise 422 when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        values = None
    ok = (isinstance(values, list) and len(values) == len(types)
          and all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types))
          and all(-(2**63) < v < 2**63 for v in values if isinstance(v, int)))
    if not ok:
        raise invalid("cursor", "is not valid; pass next_cursor from the previous page unchanged")
    return tuple(values)
