"""iRacing session-info text: repair the real-world YAML quirks, parse it, extract session facts.

iRacing writes session info as YAML-like text, but free text is written unquoted. So a team
name with ``#`` reads as a comment, and a setup name with ``: `` or a user name starting with
``? ``, ``- `` or ``,`` is a YAML syntax error. Tools that merge files add further YAML
documents. The text is single-byte (cp1252 / ISO-8859-1), not UTF-8. Some units are wrong:
``TrackLatitude: 45.0 m`` is in degrees.

``parse_session_info`` quotes every free-text value before handing the text to PyYAML, so that
free text stays a string (``off``, ``yes`` and dates included) while plain numbers stay numbers.
``session_facts`` then picks track, car, driver and session facts from the parsed mapping.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import ParseError
from . import dates
from .text import decode_text

# "key: value" lines, optionally as the first key of a list item ("- key: value").
_KEY_LINE = re.compile(r"^(?P<lead>\s*(?:-\s+)?)(?P<key>[A-Za-z0-9_][^:]*?):(?P<rest>(?:\s.*)?)$")
# Plain list items ("- value") that are not "- key: value".
_ITEM_LINE = re.compile(r"^(?P<lead>\s*-\s+)(?P<rest>.*)$")
# Numbers YAML reads as numbers; a leading zero ("007") is kept as text.
_NUMBER = re.compile(r"^[-+]?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_DOUBLE_QUOTED = re.compile(r'^"(?:[^"\\]|\\.)*"$')
_SINGLE_QUOTED = re.compile(r"^'(?:[^']|'')*'$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUANTITY = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(.*?)\s*$")

_LENGTH_TO_M = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "ft": 0.3048}


def parse_session_info(raw: bytes | str, file: str = "session info") -> dict[str, Any]:
    """Return the session-info mapping: the YAML document that contains ``WeekendInfo``.

    Without such a document, the last document that is a mapping is returned. Raises
    ``ParseError`` when no document can be read even after the repairs.
    """
    text = decode_text(raw.split(b"\x00", 1)[0]) if isinstance(raw, bytes) else raw
    text = _CONTROL.sub(" ", text.replace("\x00", ""))
    documents = _split_documents(text)
    if not documents:
        raise ParseError(file, "empty session info", expected="YAML text", found="nothing")

    with_weekend = [doc for doc in documents if re.search(r"^WeekendInfo:", doc, re.MULTILINE)]
    candidates = with_weekend[:1] or list(reversed(documents))
    first_error: ParseError | None = None
    for doc in candidates:
        try:
            value = _load(doc, file)
        except ParseError as exc:
            first_error = first_error or exc
            continue
        if isinstance(value, dict):
            return value
    if first_error is not None:
        raise first_error
    raise ParseError(file, "session info has no YAML mapping", expected="key: value lines",
                     found=repr(documents[0][:60]))


def repair_yaml(text: str) -> str:
    """Return ``text`` with every free-text value single-quoted, so PyYAML reads it as written."""
    return "\n".join(_repair_line(line) for line in text.splitlines())


def _repair_line(line: str) -> str:
    match = _KEY_LINE.match(line)
    if match:
        value = match.group("rest").strip()
        if not value or _is_plain(value):
            return line
        return f"{match.group('lead')}{match.group('key')}: {_quote(value)}"
    match = _ITEM_LINE.match(line)
    if match:
        value = match.group("rest").strip()
        if value and not _is_plain(value):
            return f"{match.group('lead')}{_quote(value)}"
    return line


def _is_plain(value: str) -> bool:
    """Return True for a value YAML already reads as written: a number or a quoted string."""
    return bool(_NUMBER.match(value) or _DOUBLE_QUOTED.match(value) or _SINGLE_QUOTED.match(value))


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _split_documents(text: str) -> list[str]:
    """Split ``text`` at ``---`` and ``...`` marker lines; drop empty documents."""
    documents: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        stripped = line.rstrip()
        if stripped == "---" or stripped.startswith("--- ") or stripped == "...":
            documents.append("\n".join(current))
            current = []
            continue
        current.append(line)
    documents.append("\n".join(current))
    return [doc for doc in documents if doc.strip()]


def _load(document: str, file: str) -> Any:
    try:
        return yaml.safe_load(repair_yaml(document))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParseError(file, f"invalid session-info YAML: {problem}",
                         line=mark.line + 1 if mark is not None else None,
                         expected="YAML key: value lines") from exc
    except RecursionError as exc:
        raise ParseError(file, "session-info YAML nests too deeply", expected="YAML key: value lines",
                         found="deeply nested brackets") from exc


@dataclass
class SessionFacts:
    """Facts picked from the session info; ``extra`` is keyed for ``Metadata.extra``."""

    track: str | None = None
    track_length_m: float | None = None
    car: str | None = None
    driver: str | None = None
    session_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def session_facts(info: dict[str, Any], session_num: int | None = None) -> SessionFacts:
    """Pick track, car, driver, session type and ids from a parsed session-info mapping.

    The driver is the ``Drivers`` entry whose ``UserID`` is ``DriverUserID`` or, failing that,
    whose ``CarIdx`` is ``DriverCarIdx``. When the text names neither id, a sole entry is taken.
    ``session_num`` selects the ``Sessions`` entry; a sole entry is taken without it.
    """
    facts = SessionFacts()
    weekend = _mapping(info.get("WeekendInfo"))
    options = _mapping(weekend.get("WeekendOptions"))

    facts.track = _text(weekend.get("TrackDisplayName")) or _text(weekend.get("TrackName"))
    facts.track_length_m = _length_m(weekend.get("TrackLength"))
    _put(facts.extra, "track_name", _text(weekend.get("TrackName")))
    _put(facts.extra, "track_config", _text(weekend.get("TrackConfigName")))
    _put(facts.extra, "track_id", weekend.get("TrackID"))
    _put(facts.extra, "track_city", _text(weekend.get("TrackCity")))
    _put(facts.extra, "track_country", _text(weekend.get("TrackCountry")))
    # The file labels latitude and longitude with "m", but both are in degrees.
    _put(facts.extra, "track_latitude_deg", _number(weekend.get("TrackLatitude")))
    _put(facts.extra, "track_longitude_deg", _number(weekend.get("TrackLongitude")))
    _put(facts.extra, "subsession_id", _integer(weekend.get("SubSessionID")))
    _put(facts.extra, "session_id", _integer(weekend.get("SessionID")))
    _put(facts.extra, "series_id", _integer(weekend.get("SeriesID")))
    _put(facts.extra, "event_type", _text(weekend.get("EventType")))
    _put(facts.extra, "sim_date", _text(options.get("Date") or weekend.get("Date")))
    clock = dates.parse_time(_text(options.get("TimeOfDay") or weekend.get("TimeOfDay")) or "")
    _put(facts.extra, "sim_time_of_day", clock.strftime("%H:%M") if clock else None)

    driver_info = _mapping(info.get("DriverInfo"))
    drivers = [d for d in driver_info.get("Drivers") or [] if isinstance(d, dict)]
    user_id = _integer(driver_info.get("DriverUserID"))
    car_idx = _integer(driver_info.get("DriverCarIdx"))
    entry = next((d for d in drivers if user_id is not None and _integer(d.get("UserID")) == user_id),
                 None)
    if entry is None:
        entry = next((d for d in drivers if car_idx is not None and _integer(d.get("CarIdx")) == car_idx),
                     None)
    if entry is None and user_id is None and car_idx is None and len(drivers) == 1:
        entry = drivers[0]
    if entry is not None:
        facts.driver = _text(entry.get("UserName"))
        facts.car = _text(entry.get("CarScreenName")) or _text(entry.get("CarPath"))
        _put(facts.extra, "car_path", _text(entry.get("CarPath")))
        _put(facts.extra, "car_id", _integer(entry.get("CarID")))
        _put(facts.extra, "team", _text(entry.get("TeamName")))
        _put(facts.extra, "car_number", _text(entry.get("CarNumber")))
        _put(facts.extra, "irating", _integer(entry.get("IRating")))
        if user_id is None:
            user_id = _integer(entry.get("UserID"))
    _put(facts.extra, "cust_id", user_id)
    _put(facts.extra, "setup", _text(driver_info.get("DriverSetupName")))

    sessions = _mapping(info.get("SessionInfo")).get("Sessions") or []
    sessions = [s for s in sessions if isinstance(s, dict)]
    chosen = next((s for s in sessions if _integer(s.get("SessionNum")) == session_num), None)
    if chosen is None and len(sessions) == 1:
        chosen = sessions[0]
    if chosen is not None:
        facts.session_type = _text(chosen.get("SessionType")) or _text(chosen.get("SessionName"))
        _put(facts.extra, "session_name", _text(chosen.get("SessionName")))
    return facts


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _put(extra: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        extra[key] = value


def _number(value: Any) -> float | None:
    """Return the number in ``value`` ("45.000001 m", 12.5), ignoring any unit after it."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value))
    return float(match.group(1)) if match else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    if number is None or not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def _length_m(value: Any) -> float | None:
    """Return a length such as "3.70 km" in metres; None when the unit is not a known length."""
    if value is None:
        return None
    match = _QUANTITY.match(str(value))
    if not match:
        return None
    factor = _LENGTH_TO_M.get(match.group(2).lower())
    return round(float(match.group(1)) * factor, 3) if factor else None
