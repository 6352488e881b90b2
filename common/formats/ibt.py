"""iRacing disk telemetry (``.ibt``).

Layout, all little-endian:

- Main header (112 bytes): version, status, tick rate (Hz), session-info update count, length
  and offset, variable count, variable-header offset, buffer count, record length, then four
  buffer descriptors (tick count, offset). A disk file has exactly one buffer, the records.
- Disk sub-header (32 bytes): session start as a Unix time, start and end session time (s), lap
  count and record count. The simulator's live shared memory has the same main header but no
  disk sub-header and several rotating buffers, so a dump of it is rejected.
- Variable headers (144 bytes each): type (char, bool, int, bitfield, float, double), offset in
  the record, element count, a flag that marks arrays of sub-tick samples, name, description, unit.
- Session info: YAML-like text, parsed by ``iracing_session``.
- Records: ``record count`` fixed-length rows starting at the first buffer's offset.

The simulator's units are SI, and it writes ratios from 0 to 1 with the unit "%". The reader
relabels those "fraction" so that normalize does not divide them by 100 again. It also inverts
the clutch, which iRacing reports as 1 when engaged (pedal released).
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import ParseError
from ..model import DISCRETE, Metadata, ParsedLog, SourceChannel
from . import iracing_session
from .text import decode_text

logger = logging.getLogger(__name__)

FORMAT = "ibt"

# version, status, tick rate, session-info update/length/offset, variable count, variable-header
# offset, buffer count, record length, two padding ints. Four buffer descriptors follow.
_HEADER = struct.Struct("<10i8x")
# tick count, record offset, two padding ints.
_BUFFER = struct.Struct("<2i8x")
_SUB_HEADER = struct.Struct("<qddii")
_VAR = struct.Struct("<iii?3x32s64s32s")
_SUB_HEADER_AT = _HEADER.size + 4 * _BUFFER.size
_DISK_HEADERS_SIZE = _SUB_HEADER_AT + _SUB_HEADER.size

_CHAR, _BOOL, _INT, _BITFIELD, _FLOAT, _DOUBLE = range(6)
_TYPE_NAMES = {_CHAR: "char", _BOOL: "bool", _INT: "int", _BITFIELD: "bitfield", _FLOAT: "float",
               _DOUBLE: "double"}
_DTYPES = {_CHAR: np.dtype("u1"), _BOOL: np.dtype("u1"), _INT: np.dtype("<i4"),
           _BITFIELD: np.dtype("<u4"), _FLOAT: np.dtype("<f4"), _DOUBLE: np.dtype("<f8")}
_DISCRETE_TYPES = (_CHAR, _BOOL, _INT, _BITFIELD)

_TIME_VAR = "SessionTime"
_TICK_VAR = "SessionTick"
# Units iRacing writes that mean something else to the canonical table.
_UNIT_FIXES = {"%": "fraction", "revs/min": "rpm"}
# 1 = engaged (pedal released) in iRacing; the canonical clutch is 1 = pedal fully pressed.
_INVERTED = ("Clutch", "ClutchRaw")
# The compass heading; "Yaw" (track-relative) would otherwise take the heading column first.
_HEADING_VAR = "YawNorth"
_MAX_VARS = 100_000


def sniff(head: bytes, name: str) -> float:
    """Score ``head`` as an ``.ibt`` file from the plausibility of its header fields."""
    by_name = 0.35 if name.lower().endswith(".ibt") else 0.0
    if len(head) < _DISK_HEADERS_SIZE:
        return by_name
    version, _status, tick_rate, _upd, info_len, info_at, var_count, var_at, buffers, record_len = \
        _HEADER.unpack_from(head, 0)
    plausible = (
        version in (1, 2)
        and 0 < tick_rate <= 10_000
        and 0 < var_count <= _MAX_VARS
        and var_at >= _SUB_HEADER_AT
        and 1 <= buffers <= 4
        and record_len > 0
        and info_len >= 0
        and info_at >= 0
    )
    if not plausible:
        return by_name
    score = 0.7
    if var_at + _VAR.size <= len(head):
        var_type, _offset, count, _as_time, raw_name, _desc, _unit = _VAR.unpack_from(head, var_at)
        text = raw_name.split(b"\x00", 1)[0]
        if var_type in _TYPE_NAMES and count >= 1 and text and text.isascii() and text.isalnum():
            score = 0.95
    return score + (0.04 if by_name else 0.0)


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read an ``.ibt`` file; reject live-memory dumps and fragments with a ``ParseError``."""
    header = _check_header(data, name)
    (_version, _status, tick_rate, _upd, info_len, info_at, var_count, var_at, _buffers,
     record_len) = header
    _tick_count, records_at = _BUFFER.unpack_from(data, _HEADER.size)
    start_date, start_s, end_s, lap_count, record_count = _SUB_HEADER.unpack_from(data, _SUB_HEADER_AT)

    warnings: list[str] = []
    variables = _read_variables(data, name, var_at, var_count, record_len)
    rows = _record_count(data, name, records_at, record_len, record_count, warnings)
    records = _records(data, name, variables, records_at, record_len, rows)

    time = _time_axis(records, variables, tick_rate, rows)
    channels = _channels(records, variables, warnings)

    metadata = Metadata(producer="iRacing", sample_rate_hz=float(tick_rate))
    # NOTE: the sub-header's Unix time is taken as the wall-clock time of the first record. The
    # irsdk headers do not say whether it is the start of the simulator's session instead.
    metadata.start_time = _start_time(start_date, warnings)
    metadata.extra.update({"tick_rate_hz": tick_rate, "record_count": record_count,
                           "lap_count": lap_count})
    # Session times of the first and last record; damaged files can hold NaN, which JSON lacks.
    for key, value in (("session_start_s", start_s), ("session_end_s", end_s)):
        if np.isfinite(value):
            metadata.extra[key] = value
    session_num = None
    if any(v.name == "SessionNum" and v.count == 1 for v in variables):
        first = float(records["SessionNum"][0])
        session_num = int(first) if np.isfinite(first) else None
    _session_info(data, name, info_at, info_len, session_num, metadata, warnings)

    for message in warnings:
        logger.warning("%s: %s", name, message)
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=time,
        channels=channels,
        metadata=metadata,
        warnings=warnings,
        rows_read=rows,
    )


def _check_header(data: bytes, name: str) -> tuple:
    """Return the main header fields; raise ``ParseError`` for anything but a disk ``.ibt``."""
    if len(data) < _SUB_HEADER_AT:
        raise ParseError(name, "file ends inside the .ibt header", offset=0,
                         expected=f"{_SUB_HEADER_AT} bytes", found=f"{len(data)} bytes")
    header = _HEADER.unpack_from(data, 0)
    version, _status, tick_rate, _upd, info_len, info_at, var_count, var_at, buffers, record_len = header
    if version not in (1, 2):
        raise ParseError(name, "not an iRacing .ibt file (or a fragment of one)", offset=0,
                         field="header version", expected="version 1 or 2",
                         found=f"{version} (first bytes {data[:8]!r})")

    if buffers != 1 or var_at < _DISK_HEADERS_SIZE:
        raise ParseError(name, "a dump of the live iRacing telemetry memory, not a disk .ibt file",
                         offset=_HEADER.size, field="buffer count / disk sub-header",
                         expected="1 record buffer and a disk sub-header before the variable headers",
                         found=f"{buffers} buffers, variable headers at byte {var_at}")
    if len(data) < _DISK_HEADERS_SIZE:
        raise ParseError(name, "file ends inside the disk sub-header", offset=_SUB_HEADER_AT,
                         expected=f"{_DISK_HEADERS_SIZE} bytes", found=f"{len(data)} bytes")
    if not 0 < tick_rate <= 10_000:
        raise ParseError(name, "invalid tick rate", field="tick rate", expected="1 to 10000 Hz",
                         found=str(tick_rate))
    if not 0 < var_count <= _MAX_VARS:
        raise ParseError(name, "invalid variable count", field="variable count",
                         expected=f"1 to {_MAX_VARS}", found=str(var_count))
    if record_len <= 0:
        raise ParseError(name, "invalid record length", field="record length",
                         expected="a positive number of bytes", found=str(record_len))
    if info_len < 0 or info_at < 0:
        raise ParseError(name, "invalid session-info position", field="session info",
                         expected="a non-negative offset and length", found=f"{info_at}, {info_len}")
    return header


@dataclass(slots=True)
class _Var:
    """One variable header; ``offset`` is in bytes from the start of a record."""

    name: str
    type: int
    offset: int
    count: int
    as_time: bool
    desc: str
    unit: str


def _read_variables(data: bytes, name: str, var_at: int, var_count: int, record_len: int) -> list[_Var]:
    end = var_at + var_count * _VAR.size
    if end > len(data):
        raise ParseError(name, "file ends inside the variable headers", offset=var_at,
                         expected=f"{var_count} headers of {_VAR.size} bytes",
                         found=f"{max(0, len(data) - var_at)} bytes")
    variables: list[_Var] = []
    seen: set[str] = set()
    used = 0
    for i in range(var_count):
        at = var_at + i * _VAR.size
        var_type, offset, count, as_time, raw_name, raw_desc, raw_unit = _VAR.unpack_from(data, at)
        var_name = _text(raw_name) or f"Var{i}"
        if var_type not in _TYPE_NAMES:
            raise ParseError(name, f"variable {var_name!r} has an unknown type", offset=at,
                             expected="0 to 5 (char, bool, int, bitfield, float, double)",
                             found=str(var_type))
        size = _DTYPES[var_type].itemsize
        if count < 1 or offset < 0 or offset + size * count > record_len:
            raise ParseError(name, f"variable {var_name!r} lies outside the record", offset=at,
                             expected=f"offset + size within {record_len} bytes",
                             found=f"offset {offset}, {count} x {size} bytes")
        used += size * count
        if used > record_len:
            # Variables never overlap, so a larger total is damage and could claim huge memory.
            raise ParseError(name, "invalid variable headers: the variables overlap", offset=at,
                             expected=f"at most {record_len} bytes per record",
                             found=f"{used} bytes up to variable {var_name!r}")
        if var_name in seen:
            var_name = f"{var_name} #{i}"
        seen.add(var_name)
        variables.append(_Var(var_name, var_type, offset, count, bool(as_time),
                              _text(raw_desc), _text(raw_unit)))
    return variables


def _record_count(data: bytes, name: str, records_at: int, record_len: int, stated: int,
                  warnings: list[str]) -> int:
    """Return how many whole records to read: the stated count, or fewer when the file is cut."""
    if records_at < _DISK_HEADERS_SIZE or records_at > len(data):
        raise ParseError(name, "record buffer offset outside the file", offset=_HEADER.size + 4,
                         expected=f"{_DISK_HEADERS_SIZE} to {len(data)}", found=str(records_at))
    available = (len(data) - records_at) // record_len
    if stated <= 0:
        warnings.append(f"the disk sub-header states {stated} records; reading the {available} "
                        f"whole records in the file")
        rows = available
    elif stated > available:
        warnings.append(f"file ends after {available} of {stated} records")
        rows = available
    else:
        rows = stated
    if rows == 0:
        raise ParseError(name, "no telemetry records", offset=records_at,
                         expected=f"records of {record_len} bytes", found=f"{len(data) - records_at} bytes")
    return rows


def _records(data: bytes, name: str, variables: list[_Var], records_at: int, record_len: int,
             rows: int) -> np.ndarray:
    formats = [_DTYPES[v.type] if v.count == 1 else (_DTYPES[v.type], (v.count,)) for v in variables]
    try:
        layout = np.dtype({
            "names": [v.name for v in variables],
            "formats": formats,
            "offsets": [v.offset for v in variables],
            "itemsize": record_len,
        })
    except ValueError as exc:
        raise ParseError(name, f"invalid variable layout: {exc}", expected="variables within the record",
                         found=f"{len(variables)} variables in {record_len} bytes") from exc
    return np.frombuffer(data, dtype=layout, count=rows, offset=records_at)


def _time_axis(records: np.ndarray, variables: list[_Var], tick_rate: int, rows: int) -> np.ndarray:
    """Return the session time (s) of each record, from SessionTime, SessionTick or the row index."""
    names = {v.name: v for v in variables}
    with np.errstate(invalid="ignore"):
        if _TIME_VAR in names and names[_TIME_VAR].count == 1:
            return records[_TIME_VAR].astype(np.float64)
        if _TICK_VAR in names and names[_TICK_VAR].count == 1:
            return records[_TICK_VAR].astype(np.float64) / tick_rate
    return np.arange(rows, dtype=np.float64) / tick_rate


def _channels(records: np.ndarray, variables: list[_Var], warnings: list[str]) -> list[SourceChannel]:
    """Turn each variable but the time axis into channels.

    Array variables become one channel per element, ``Name[i]``. That includes arrays of sub-tick
    samples (such as the 360 Hz steering torque): spreading them onto their own timestamps would
    make normalize resample every other channel onto a grid six times finer. Text (char arrays)
    is skipped with a warning.
    """
    channels: list[SourceChannel] = []
    for var in variables:
        if var.name == _TIME_VAR:
            continue
        if var.type == _CHAR and var.count > 1:
            warnings.append(f"variable {var.name!r} is text ({var.count} chars); skipped")
            continue
        unit = _unit(var.unit)
        kind = DISCRETE if var.type in _DISCRETE_TYPES else None
        column = records[var.name]
        if var.count == 1:
            parts = [(var.name, column)]
        else:
            parts = [(f"{var.name}[{i}]", column[:, i]) for i in range(var.count)]
        for channel_name, raw in parts:
            # Damaged bytes can form signalling NaNs, which raise "invalid value" while cast.
            with np.errstate(invalid="ignore"):
                values = raw.astype(np.float64)
            if var.type in (_FLOAT, _DOUBLE):
                values[~np.isfinite(values)] = np.nan
            if var.name in _INVERTED:
                values = 1.0 - values
            channels.append(SourceChannel(name=channel_name, unit=unit, values=values, kind=kind))
    return _heading_first(channels)


def _unit(unit: str) -> str:
    if unit.startswith("irsdk_"):
        # An enumeration or bit-field type name, not a unit.
        return ""
    return _UNIT_FIXES.get(unit, unit)


def _heading_first(channels: list[SourceChannel]) -> list[SourceChannel]:
    """Move the compass heading in front of the other channels so that it fills the heading column."""
    heading = [ch for ch in channels if ch.name == _HEADING_VAR]
    if not heading:
        return channels
    return heading + [ch for ch in channels if ch.name != _HEADING_VAR]


def _start_time(start_date: int, warnings: list[str]) -> dt.datetime | None:
    """Return the session start (UTC) from the sub-header's Unix time, or None when unset."""
    if start_date <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(start_date, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        warnings.append(f"session start date {start_date} is not a valid Unix time; left unknown")
        return None


def _session_info(data: bytes, name: str, info_at: int, info_len: int, session_num: int | None,
                  metadata: Metadata, warnings: list[str]) -> None:
    """Fill ``metadata`` from the session-info text; a text that cannot be read becomes a warning."""
    if info_len == 0:
        warnings.append("no session info in the file")
        return
    if info_at + info_len > len(data):
        warnings.append(f"session info (bytes {info_at} to {info_at + info_len}) lies past the end "
                        f"of the file; track, car and driver unknown")
        return
    try:
        info = iracing_session.parse_session_info(data[info_at:info_at + info_len],
                                                  f"{name} session info")
    except ParseError as exc:
        warnings.append(f"session info unreadable, track, car and driver unknown: {exc}")
        return
    facts = iracing_session.session_facts(info, session_num)
    metadata.track = facts.track
    metadata.track_length_m = facts.track_length_m
    metadata.car = facts.car
    metadata.driver = facts.driver
    metadata.session_type = facts.session_type
    metadata.extra.update(facts.extra)


def _text(raw: bytes) -> str:
    return decode_text(raw.split(b"\x00", 1)[0]).strip()
