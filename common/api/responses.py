"""Response helpers: JSON encoding of database values, and the declared response shapes."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from dataclasses import dataclass, field
from typing import Any

import flask
import numpy as np

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class Reply:
    """One documented response of a route: its description, schema and media types."""

    description: str
    schema: dict[str, Any] | None = None
    media_types: tuple[str, ...] = (JSON,)
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Body:
    """The request body a route accepts.

    ``max_bytes`` is called per request, so that limits read from the environment apply
    without a restart of the test process.
    """

    description: str
    schema: dict[str, Any]
    max_bytes: Any
    media_types: tuple[str, ...] = (JSON,)
    required: bool = True


def plain(value: Any) -> Any:
    """Convert database and numpy values to JSON values; NaN and infinities become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return plain(float(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    return value


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    return flask.Response(json.dumps(plain(body), allow_nan=False, separators=(",", ":")),
                          status=status, headers=headers or {}, mimetype=JSON)


def error_schema() -> dict[str, Any]:
    return {"$ref": "#/components/schemas/Error"}
