"""Decode iRacing Data API JSON and read typed fields with the field's path in every error.

The Data API marks "none" with ``-1`` in most numeric fields and times with 1/10,000 s units;
the readers here turn both into Python values (``None`` and seconds) at one place.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..errors import ParseError

# iRacing writes durations (lap times, intervals, session time) in units of 1/10,000 s.
TIME_UNITS_PER_S = 10_000
# The value that iRacing writes for "none" in numeric fields.
SENTINEL_NONE = -1


def load_payload(data: bytes | str | dict | list, name: str) -> Any:
    """Decode a payload and strip the ``{headers, content}`` wrapper that client recorders add.

    ``data`` may be the file's bytes (UTF-8, with or without a byte-order mark), text, or an
    already decoded object.
    """
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError(name, "file is not valid UTF-8", offset=exc.start) from exc
    elif isinstance(data, str):
        text = data.lstrip("\ufeff")
    else:
        return unwrap(data, name)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(name, f"invalid JSON: {exc.msg}", line=exc.lineno, offset=exc.pos) from exc
    return unwrap(obj, name)


def unwrap(obj: Any, name: str) -> Any:
    """Return the API content inside a recorder's ``{headers, content}`` wrapper, else ``obj``."""
    if isinstance(obj, dict) and "content" in obj and "headers" in obj:
        obj = obj["content"]
    if isinstance(obj, dict) and "link" in obj and len(obj) <= 3 and "subsession_id" not in obj:
        # The API first returns a signed link to the real data, and that response contains no results.
        raise ParseError(name, "payload is the API's download link, not the data; download the "
                         "link and ingest that file", field="link")
    if isinstance(obj, dict) and obj.get("success") is False:
        raise ParseError(name, "the API reported a failed request", field="success",
                         expected="true", found="false")
    return obj


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Record:
    """A JSON object with typed accessors; errors name the file and the field's path.

    Every accessor takes one or more key names: the first key present in the object is read,
    which covers fields that were renamed between API versions. A missing key, or ``null``,
    gives the default (``None`` unless stated).
    """

    def __init__(self, obj: dict, path: str, file: str) -> None:
        self.obj = obj
        self.path = path
        self.file = file

    def field_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str, expected: str | None = None,
              value: Any = None) -> ParseError:
        found = _describe(value) if expected is not None else None
        return ParseError(self.file, problem, field=self.field_path(key), expected=expected,
                          found=found)

    def _get(self, keys: tuple[str, ...]) -> tuple[str, Any]:
        for key in keys:
            if key in self.obj:
                return key, self.obj[key]
        return keys[0], None

    def has(self, *keys: str) -> bool:
        return any(self.obj.get(k) is not None for k in keys)

    def integer(self, *keys: str, sentinel: bool = True, required: bool = False) -> int | None:
        """Read an integer; with ``sentinel`` the API's ``-1`` gives ``None``."""
        key, value = self._get(keys)
        if value is None:
            if required:
                raise self.error(key, "required field is missing", "an integer", value)
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, "invalid value", "an integer", value)
        if isinstance(value, float):
            if not value.is_integer():
                raise self.error(key, "invalid value", "an integer", value)
            value = int(value)
        if sentinel and value == SENTINEL_NONE:
            if required:
                raise self.error(key, "required field contains the 'none' value -1", "an id", value)
            return None
        return value

    def position(self, *keys: str) -> int | None:
        """Read a 0-based position; ``-1`` gives ``None`` and other negatives are invalid."""
        value = self.integer(*keys)
        if value is not None and value < 0:
            raise self.error(keys[0], "invalid position", "0 or more (0-based)", value)
        return value

    def number(self, *keys: str) -> float | None:
        """Read a number; ``-1`` is not a sentinel here."""
        key, value = self._get(keys)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, "invalid value", "a number", value)
        return float(value)

    def duration_s(self, *keys: str, zero_is_none: bool = True) -> float | None:
        """Read a duration written in 1/10,000 s and return seconds; ``-1`` gives ``None``.

        With ``zero_is_none``, 0 gives ``None`` too: a lap time of 0 is the API's value for "no
        time" (for example the average lap of a driver who completed no lap), never a real lap.
        """
        value = self.integer(*keys)
        if value is None or (zero_is_none and value == 0):
            return None
        if value < 0:
            raise self.error(keys[0], "invalid duration", "1/10,000 s units, 0 or more", value)
        return value / TIME_UNITS_PER_S

    def sub_level(self, *keys: str) -> Decimal | None:
        """Read a safety rating stored as hundredths (``sub_level`` 347 is 3.47)."""
        value = self.integer(*keys)
        return None if value is None else Decimal(value) / 100

    def text(self, *keys: str) -> str | None:
        key, value = self._get(keys)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, "invalid value", "a string", value)
        return value

    def flag(self, *keys: str) -> bool | None:
        key, value = self._get(keys)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self.error(key, "invalid value", "true or false", value)

    def timestamp(self, *keys: str) -> datetime | None:
        """Read a UTC time: ISO 8601 text (``Z`` or an offset; none means UTC) or epoch ms."""
        key, value = self._get(keys)
        if value is None or value == "":
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        if not isinstance(value, str):
            raise self.error(key, "invalid time", "ISO 8601 text or epoch milliseconds", value)
        try:
            parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError as exc:
            raise self.error(key, "invalid time", "ISO 8601 text such as 2022-04-04T01:30:00Z",
                             value) from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed

    def record(self, *keys: str) -> Record | None:
        key, value = self._get(keys)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, "invalid value", "a JSON object", value)
        return Record(value, self.field_path(key), self.file)

    def records(self, *keys: str) -> list[Record]:
        """Read a list of objects; a missing list is empty."""
        key, value = self._get(keys)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "invalid value", "a JSON array", value)
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", "invalid list item", "a JSON object", item)
            out.append(Record(item, f"{self.field_path(key)}[{i}]", self.file))
        return out

    def strings(self, *keys: str) -> list[str]:
        key, value = self._get(keys)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "invalid value", "a JSON array of strings", value)
        return list(value)


def payload_kind(obj: object) -> str:
    """Return "results" or "laps" for a decoded (and unwrapped) payload."""
    if isinstance(obj, list):
        return "laps"
    if isinstance(obj, dict) and ("laps" in obj or "chunk_info" in obj):
        return "laps"
    return "results"
