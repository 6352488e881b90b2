"""GPX 1.0 and 1.1 tracks.

Read with ElementTree rather than gpxpy, because gpxpy 1.6 finds no points when the GPX elements
carry a prefix and the default namespace belongs to an extension. Elements are matched by local
name, so any prefix works. Python's expat does not fetch external entities and limits entity
expansion, so untrusted files are safe to parse.

What becomes a channel:

- ``latitude`` and ``longitude`` (deg) from the point, ``altitude`` (m) from ``<ele>``.
- ``speed`` (m/s) from GPX 1.0 ``<speed>``, else from a ``speed`` element in the extensions.
- ``heading`` (deg) from GPX 1.0 ``<course>``, else from ``course`` or ``bearing`` in extensions.
- ``heart_rate`` (bpm) from ``hr`` or ``heartrate`` in extensions, in any namespace (Garmin
  TrackPointExtension v1 and v2, Cluetrust GPXDATA and others).
- ``segment``: the index of the ``<trkseg>`` in file order, counting from 0 across all tracks.
  It is discrete, so that later stages can see where one segment ends and never join two.

Times are seconds from the first kept point. A time without a zone is read as UTC, as the GPX
schema requires. A point without a time is dropped and counted, because its position alone does
not tell when the point was passed. Waypoints and routes are not telemetry and are ignored.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import xml.etree.ElementTree as ET

import numpy as np

from ..errors import ParseError
from ..model import DISCRETE, Metadata, ParsedLog, SourceChannel
from .text import to_utf8

FORMAT = "gpx"

_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?gpx[\s>/]")
_TIME = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$",
    re.IGNORECASE,
)
_HEART_RATE = ("hr", "heartrate", "heart_rate")
_SPEED = ("speed",)
_COURSE = ("course", "bearing")

_DROP_NO_TIME = "missing time"
_DROP_BAD_TIME = "invalid time"
_DROP_BAD_POSITION = "invalid position"


def sniff(head: bytes, name: str) -> float:
    """Return 0.95 when the head is XML with a ``gpx`` root element (any namespace prefix)."""
    body, _ = to_utf8(head)
    start = body.lstrip()[:1]
    if start != b"<":
        return 0.0
    return 0.95 if _ROOT.search(body[:8192]) else 0.0


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read the track points of a GPX file."""
    root = _parse_xml(data, name)
    if _local(root.tag) != "gpx":
        raise ParseError(name, "not a GPX document", expected="a <gpx> root element",
                         found=f"<{_local(root.tag)}>")

    points: list[tuple[float, float, float, float, float, float, int, dt.datetime]] = []
    dropped: dict[str, int] = {}
    segment = -1
    track_names: list[str] = []
    for track in _children(root, "trk"):
        track_name = _child_text(track, "name")
        if track_name:
            track_names.append(track_name)
        for seg in _children(track, "trkseg"):
            segment += 1
            for point in _children(seg, "trkpt"):
                row = _point(point, segment, dropped)
                if row is not None:
                    points.append(row)

    total = sum(dropped.values()) + len(points)
    if not points:
        if total == 0:
            raise ParseError(name, "no track points", expected="<trkpt> elements in <trkseg>",
                             found="none")
        raise ParseError(name, "no track point has a usable time", expected="<time> in track points",
                         found=f"{total} points, dropped: {dropped}")

    first_time = points[0][7]
    epoch = np.array([p[7].timestamp() for p in points])
    columns = np.array([p[:7] for p in points], dtype=np.float64)
    channels = [
        SourceChannel("latitude", "deg", columns[:, 0]),
        SourceChannel("longitude", "deg", columns[:, 1]),
    ]
    for index, channel_name, unit in ((2, "altitude", "m"), (3, "speed", "m/s"),
                                      (4, "heading", "deg"), (5, "heart_rate", "bpm")):
        if not np.isnan(columns[:, index]).all():
            channels.append(SourceChannel(channel_name, unit, columns[:, index]))
    channels.append(SourceChannel("segment", "", columns[:, 6], kind=DISCRETE))

    metadata = Metadata(producer=root.get("creator"), start_time=first_time)
    metadata.extra["gpx_version"] = root.get("version")
    if track_names:
        metadata.extra["track_name"] = track_names[0]
    info = _child(root, "metadata")
    description = _child_text(info, "desc") if info is not None else _child_text(root, "desc")
    if description:
        metadata.comment = description
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=epoch - epoch[0],
        channels=channels,
        metadata=metadata,
        rows_read=total,
        rows_dropped=dropped,
    )


def _parse_xml(data: bytes, name: str) -> ET.Element:
    """Parse ``data``; a byte-order mark or blank lines before the XML declaration are allowed."""
    source: bytes | str
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        source = data.decode("utf-16").lstrip()
    else:
        source = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
        source = source.lstrip()
    try:
        return ET.fromstring(source)
    except ET.ParseError as exc:
        line, column = exc.position
        raise ParseError(name, f"invalid XML: {exc}", line=line, field=f"column {column}",
                         expected="a well-formed GPX document") from exc
    except LookupError as exc:
        raise ParseError(name, f"unknown text encoding in the XML declaration: {exc}",
                         expected="an encoding such as UTF-8 or ISO-8859-1") from exc


def _point(point: ET.Element, segment: int, dropped: dict[str, int]):
    """Return one point's values, or None (counted in ``dropped``) when it cannot be used."""
    try:
        lat = float(point.get("lat", "nan"))
        lon = float(point.get("lon", "nan"))
    except ValueError:
        lat = lon = float("nan")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        _count(dropped, _DROP_BAD_POSITION)
        return None

    time_text = _child_text(point, "time")
    if not time_text:
        _count(dropped, _DROP_NO_TIME)
        return None
    when = _parse_time(time_text)
    if when is None:
        _count(dropped, _DROP_BAD_TIME)
        return None

    altitude = _number(_child_text(point, "ele"))
    speed = _number(_child_text(point, "speed"))
    course = _number(_child_text(point, "course"))
    heart_rate = float("nan")
    extensions = _child(point, "extensions")
    if extensions is not None:
        for element in extensions.iter():
            local = _local(element.tag).lower()
            if local in _HEART_RATE and np.isnan(heart_rate):
                heart_rate = _number(element.text)
            elif local in _SPEED and np.isnan(speed):
                speed = _number(element.text)
            elif local in _COURSE and np.isnan(course):
                course = _number(element.text)
    return lat, lon, altitude, speed, course, heart_rate, float(segment), when


def _parse_time(text: str) -> dt.datetime | None:
    """Parse an ISO 8601 time; offsets may be written ``Z``, ``+00:00``, ``+0000`` or ``+00``."""
    match = _TIME.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if second > 60:
        return None
    fraction = match.group(7)
    micro = int(round(float(fraction) * 1e6)) if fraction else 0
    zone = match.group(8)
    if not zone or zone.upper() == "Z":
        tz = dt.UTC
    else:
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            return None
        offset = dt.timedelta(hours=hours, minutes=minutes)
        tz = dt.timezone(-offset if zone[0] == "-" else offset)
    try:
        when = dt.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=tz)
    except ValueError:
        return None
    # A leap second (:60) is read as :59 plus one second.
    return when + dt.timedelta(seconds=max(0, second - 59), microseconds=micro)


def _number(text: str | None) -> float:
    if text is None:
        return float("nan")
    try:
        value = float(text.strip())
    except ValueError:
        return float("nan")
    return value if np.isfinite(value) else float("nan")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: ET.Element, local: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == local]


def _child(element: ET.Element, local: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == local:
            return child
    return None


def _child_text(element: ET.Element, local: str) -> str | None:
    child = _child(element, local)
    if child is None or child.text is None:
        return None
    text = child.text.strip()
    return text or None


def _count(dropped: dict[str, int], reason: str) -> None:
    dropped[reason] = dropped.get(reason, 0) + 1
