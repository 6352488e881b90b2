"""Declared request parameters: one declaration both validates a request and documents it.

Each route lists its query and path parameters as ``Param`` objects. The dispatcher parses the
raw strings with ``Param.parse`` (a 422 naming the parameter on bad input), and the OpenAPI
document is built from ``Param.schema``, so the two cannot drift apart.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import invalid

SESSION_ID_PATTERN = "^[0-9a-fA-F]{64}$"


@dataclass(frozen=True)
class Param:
    """One query or path parameter.

    ``kind`` is one of ``string``, ``integer``, ``number``, ``boolean``, ``datetime`` (ISO 8601;
    a time without an offset is taken as UTC) or ``list`` (comma-separated strings, quoted as
    in CSV when an item contains a comma).
    """

    name: str
    kind: str
    description: str
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int = 1000
    where: str = "query"
    example: Any = None
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.pattern:
            object.__setattr__(self, "_regex", re.compile(self.pattern))

    def parse(self, raw: str) -> Any:
        """Convert one raw value; raise a 422 ``ApiError`` naming the parameter when invalid."""
        if len(raw) > self.max_length:
            raise invalid(self.name, f"is longer than {self.max_length} characters")
        if "\x00" in raw:
            # PostgreSQL text cannot hold NUL, so such a value could never match anything.
            raise invalid(self.name, "must not contain NUL characters")
        parser = getattr(self, f"_parse_{self.kind}")
        return parser(raw)

    def _parse_string(self, raw: str) -> str:
        if raw == "":
            raise invalid(self.name, "must not be empty")
        if self.choices and raw not in self.choices:
            raise invalid(self.name, f"must be one of {', '.join(self.choices)}, found {raw!r}")
        if self._regex and not self._regex.match(raw):
            raise invalid(self.name, f"must match {self.pattern}, found {raw!r}")
        return raw

    def _parse_integer(self, raw: str) -> int:
        if not re.fullmatch(r"[+-]?\d{1,18}", raw.strip()):
            raise invalid(self.name, f"must be an integer, found {raw!r}")
        value = int(raw)
        self._check_range(value)
        return value

    def _parse_number(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise invalid(self.name, f"must be a number, found {raw!r}") from None
        if not math.isfinite(value):
            raise invalid(self.name, f"must be a finite number, found {raw!r}")
        self._check_range(value)
        return value

    def _parse_boolean(self, raw: str) -> bool:
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise invalid(self.name, f"must be true or false, found {raw!r}")

    def _parse_datetime(self, raw: str) -> datetime:
        text = raw.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise invalid(self.name, f"must be an ISO 8601 date-time such as 2025-05-17T09:41:07Z, "
                                     f"found {raw!r}") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def _parse_list(self, raw: str) -> list[str]:
        # CSV rules: an item containing a comma is written in double quotes, with its own double
        # quotes doubled. A quote inside an unquoted item is an ordinary character.
        try:
            items = [item.strip() for item in next(csv.reader([raw], skipinitialspace=True), [])]
        except csv.Error as exc:
            raise invalid(self.name, f"is not a valid comma-separated list: {exc}") from None
        if not items or any(item == "" for item in items):
            raise invalid(self.name, f"must be a comma-separated list without empty items, found {raw!r}")
        return items

    def _check_range(self, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise invalid(self.name, f"must be at least {_num(self.minimum)}, found {_num(value)}")
        if self.maximum is not None and value > self.maximum:
            raise invalid(self.name, f"must be at most {_num(self.maximum)}, found {_num(value)}")

    def schema(self) -> dict[str, Any]:
        """Return the OpenAPI parameter object."""
        schema: dict[str, Any] = {
            "string": {"type": "string", "minLength": 1, "maxLength": self.max_length},
            "integer": {"type": "integer"},
            "number": {"type": "number"},
            "boolean": {"type": "boolean"},
            "datetime": {"type": "string", "format": "date-time"},
            "list": {"type": "array", "minItems": 1,
                     "items": {"type": "string", "minLength": 1, "pattern": "^[^,]*[^,\\s][^,]*$"}},
        }[self.kind]
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.pattern:
            schema["pattern"] = self.pattern
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        body: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "description": self.description,
            "schema": schema,
        }
        if self.kind == "list":
            body.update(style="form", explode=False)
        if self.example is not None:
            body["example"] = self.example
        return body


def parse_query(params: tuple[Param, ...], args) -> dict[str, Any]:
    """Parse a request's query string against the declared parameters.

    Unknown parameters and repeated ones are rejected, so that a misspelt filter is an error
    instead of a silently unfiltered result.
    """
    declared = {p.name: p for p in params}
    values: dict[str, Any] = {}
    for name in args:
        if name not in declared:
            accepted = ", ".join(sorted(declared)) or "none"
            raise invalid(name, f"is not a parameter of this endpoint (accepted: {accepted})")
        raw = args.getlist(name)
        if len(raw) > 1:
            raise invalid(name, "is given more than once")
        values[name] = declared[name].parse(raw[0])
    for p in params:
        if p.name not in values:
            if p.required:
                raise invalid(p.name, "is required")
            values[p.name] = p.default
    return values


def session_id_param(description: str = "Session id: the SHA-256 of the file, 64 hex digits.") -> Param:
    return Param("session_id", "string", description, where="path", pattern=SESSION_ID_PATTERN,
                 max_length=64)


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
