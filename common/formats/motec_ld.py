"""MoTeC ``.ld`` binary logs (ADL, M800, i2 exports) and their ``.ldx`` beacon sidecars.

Layout, all little-endian:

- File header at offset 0 (1762 bytes): the marker 0x40 and the offsets of the first channel
  header, the sample data and the event block. Then come the logger's serial number, type and
  version, the channel count, date ``dd/mm/yyyy``, time ``hh:mm:ss``, driver, vehicle id, venue
  and a short comment. Text fields are NUL-padded.
- Event block: event name, session, long comment and the offset of a venue block, which in turn
  points to a vehicle block (vehicle id, weight, type, comment).
- Channel headers: a doubly linked list of 124-byte records (previous, next, data offset, sample
  count, data types, rate in Hz, shift, mul, scale, decimal places, name, short name, unit).
  Each channel has its own rate, so each gets its own timestamps ``i / rate``, starting at 0 s.

Stored values are converted with ``value = (raw / scale * 10**-dec + shift) * mul``.

The ``.ldx`` sidecar is XML: ``<Marker ClassName="BCN" Time="...">`` elements hold the beacon
(lap marker) times in microseconds from the start of the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
import xml.etree.ElementTree as ET
from pathlib import PurePath

import numpy as np

from ..errors import ParseError
from ..model import DISCRETE, Metadata, ParsedLog, SourceChannel
from .text import decode_text

logger = logging.getLogger(__name__)

FORMAT = "motec_ld"

_MARKER = 0x40

# marker, first channel header, data, event, logger serial/type/version, channel count, date,
# time, driver, vehicle, venue, short comment. The "x" runs skip fields of unknown meaning.
_HEADER = struct.Struct("<I4xII20xI24x6xI8sH2xI4x16s16x16s16x64s64s64x64s64x1024x4x66x64s126x")
# previous, next, data offset, sample count, counter, type class, type size, rate (Hz), shift,
# mul, scale, decimal places, name, short name, unit.
_CHANNEL = struct.Struct("<IIIIHHHHhhhh32s8s12s40x")
_EVENT = struct.Struct("<64s64s1024sH")
_VENUE = struct.Struct("<64s1034xH")
_VEHICLE = struct.Struct("<64s128xI32s32s")

# Type class 0x07 stores IEEE floats; 0x00, 0x03 and 0x05 store signed integers. The second
# number is the sample size in bytes.
_FLOAT_CLASSES = (0x07,)
_INT_CLASSES = (0x00, 0x03, 0x05)
_DTYPES = {
    ("float", 2): np.dtype("<f2"),
    ("float", 4): np.dtype("<f4"),
    ("float", 8): np.dtype("<f8"),
    ("int", 1): np.dtype("<i1"),
    ("int", 2): np.dtype("<i2"),
    ("int", 4): np.dtype("<i4"),
}

_LDX_SUFFIX = ".ldx"
# Beyond this many decimal places (either way) the scaling field is damage, not a real setting.
_MAX_DECIMAL_PLACES = 30


def sniff(head: bytes, name: str) -> float:
    """Score ``head`` as an ``.ld`` file: the 0x40 marker and header offsets that fit the layout."""
    if len(head) < 16:
        return 0.0
    marker, pad, meta_ptr, data_ptr = struct.unpack_from("<IIII", head, 0)
    if marker != _MARKER or pad != 0:
        return 0.0
    if meta_ptr < _HEADER.size or data_ptr < _HEADER.size:
        return 0.0
    score = 0.6
    if meta_ptr + _CHANNEL.size <= len(head):
        fields = _CHANNEL.unpack_from(head, meta_ptr)
        prev_ptr, data_offset, rate = fields[0], fields[2], fields[7]
        if prev_ptr == 0 and data_offset >= _HEADER.size and rate > 0:
            score = 0.95
    if name.lower().endswith(".ld"):
        score += 0.04
    return score


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read an ``.ld`` log; beacons come from an ``.ldx`` file in ``sidecars`` when there is one."""
    header = _unpack(_HEADER, data, 0, name, "file header")
    (marker, meta_ptr, data_ptr, event_ptr, serial, device_type, device_version, channel_count,
     date_raw, time_raw, driver_raw, vehicle_raw, venue_raw, comment_raw) = header
    if marker != _MARKER:
        raise ParseError(name, "not a MoTeC .ld file", offset=0, expected="marker 0x40",
                         found=f"0x{marker:x}")

    warnings: list[str] = []
    channels = _read_channels(data, name, meta_ptr, warnings)
    if not channels:
        raise ParseError(name, "no readable channel", offset=meta_ptr,
                         expected="at least one channel header with samples", found="none")

    metadata = Metadata(
        producer="MoTeC",
        track=_text(venue_raw),
        car=_text(vehicle_raw),
        driver=_text(driver_raw),
        device=_text(device_type),
        comment=_text(comment_raw),
        start_time=_start_time(_text(date_raw), _text(time_raw), warnings),
    )
    metadata.extra["device_serial"] = serial
    metadata.extra["device_version"] = device_version
    metadata.extra["channel_count_in_header"] = channel_count
    _read_event(data, event_ptr, metadata, warnings)

    beacons = _read_sidecar(name, sidecars or {}, metadata, warnings)
    for message in warnings:
        logger.warning("%s: %s", name, message)
    return ParsedLog(
        file=name,
        format=FORMAT,
        time=np.zeros(0),
        channels=channels,
        metadata=metadata,
        beacons_s=beacons,
        warnings=warnings,
        rows_read=max(ch.values.size for ch in channels),
    )


def _read_channels(data: bytes, name: str, first: int, warnings: list[str]) -> list[SourceChannel]:
    """Follow the linked list of channel headers from ``first`` and read each channel's samples."""
    channels: list[SourceChannel] = []
    seen: set[int] = set()
    names: dict[str, int] = {}
    sample_bytes = 0
    pointer = first
    while pointer:
        if pointer in seen:
            raise ParseError(name, "channel header list loops back", offset=pointer,
                             expected="a list ending with a next offset of 0",
                             found=f"offset {pointer} a second time")
        seen.add(pointer)
        fields = _unpack(_CHANNEL, data, pointer, name, "channel header")
        (_prev, next_ptr, data_offset, count, _counter, type_class, type_size, rate_hz,
         shift, mul, scale, dec, name_raw, short_raw, unit_raw) = fields
        channel_name = _text(name_raw) or _text(short_raw) or f"Channel {len(channels) + 1}"
        unit = _text(unit_raw) or ""
        where = f"channel {channel_name!r} (header at byte offset {pointer})"

        dtype = _dtype(type_class, type_size)
        if dtype is None:
            warnings.append(f"{where}: skipped, unknown data type {type_class}/{type_size}")
        elif rate_hz == 0:
            warnings.append(f"{where}: skipped, sample rate 0 Hz")
        elif scale == 0:
            warnings.append(f"{where}: skipped, scale factor 0")
        elif abs(dec) > _MAX_DECIMAL_PLACES:
            warnings.append(f"{where}: skipped, invalid decimal places {dec}")
        elif count == 0:
            warnings.append(f"{where}: skipped, no samples")
        else:
            raw = _samples(data, data_offset, count, dtype, where, warnings)
            # Channels never share sample data, so together they cannot hold more bytes than the
            # file. A damaged file that claims more would otherwise make this loop use gigabytes.
            sample_bytes += raw.nbytes
            if sample_bytes > len(data):
                raise ParseError(name, "invalid channel headers: the channels' sample data overlap",
                                 offset=pointer, expected=f"at most {len(data)} bytes of samples",
                                 found=f"{sample_bytes} bytes by channel {channel_name!r}")
            values = _scale(raw, shift, mul, scale, dec)
            values[~np.isfinite(values)] = np.nan
            times = np.arange(values.size, dtype=np.float64) / float(rate_hz)
            channels.append(SourceChannel(
                name=_unique(channel_name, names),
                unit=unit,
                values=values,
                times=times,
                rate_hz=float(rate_hz),
                kind=_kind(type_class, unit, dec, scale, mul),
            ))
        pointer = next_ptr
    return channels


def _scale(raw: np.ndarray, shift: int, mul: int, scale: int, dec: int) -> np.ndarray:
    """Return ``(raw / scale * 10**-dec + shift) * mul`` as float64.

    Dividing by ``10**dec`` (instead of multiplying by ``10**-dec``) keeps one-decimal values such
    as 42.9 exact to the last printed digit.
    """
    # Damaged bytes can form signalling NaNs or overflow; those values become NaN afterwards.
    with np.errstate(invalid="ignore", over="ignore"):
        values = raw.astype(np.float64) / scale
        if dec > 0:
            values /= 10.0 ** dec
        elif dec < 0:
            values *= 10.0 ** (-dec)
        if shift:
            values += shift
        if mul != 1:
            values *= mul
    return values


def _dtype(type_class: int, type_size: int) -> np.dtype | None:
    if type_class in _FLOAT_CLASSES:
        return _DTYPES.get(("float", type_size))
    if type_class in _INT_CLASSES:
        return _DTYPES.get(("int", type_size))
    return None


def _samples(data: bytes, offset: int, count: int, dtype: np.dtype, where: str,
             warnings: list[str]) -> np.ndarray:
    """Return the stored samples; a channel cut short by the end of the file keeps what is there."""
    available = max(0, (len(data) - offset) // dtype.itemsize) if offset < len(data) else 0
    if available < count:
        warnings.append(f"{where}: file ends after {available} of {count} samples")
        count = available
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset) if count else np.zeros(0)


def _kind(type_class: int, unit: str, dec: int, scale: int, mul: int) -> str | None:
    """Mark unitless, unscaled integer channels (status words, error groups, beacons) discrete.

    Interpolating a bit field or a counter invents values, so these are held instead. Other
    channels keep the canonical table's kind.
    """
    if type_class in _INT_CLASSES and not unit and dec == 0 and scale == 1 and mul == 1:
        return DISCRETE
    return None


def _start_time(date_text: str | None, time_text: str | None,
                warnings: list[str]) -> dt.datetime | None:
    """Combine the header date and time; MoTeC writes the date day first (``dd/mm/yyyy``)."""
    if not date_text:
        return None
    for pattern in ("%d/%m/%Y", "%d/%m/%y"):
        try:
            day = dt.datetime.strptime(date_text, pattern).date()
            break
        except ValueError:
            continue
    else:
        warnings.append(f"log date {date_text!r} is not dd/mm/yyyy; start time left unknown")
        return None
    clock = dt.time(0, 0)
    if time_text:
        try:
            clock = dt.datetime.strptime(time_text, "%H:%M:%S").time()
        except ValueError:
            warnings.append(f"log time {time_text!r} is not hh:mm:ss; midnight assumed")
    return dt.datetime.combine(day, clock)


def _read_event(data: bytes, event_ptr: int, metadata: Metadata, warnings: list[str]) -> None:
    """Add the event, session, long comment, venue and vehicle blocks to ``metadata``."""
    if not event_ptr:
        return
    if event_ptr + _EVENT.size > len(data):
        warnings.append(f"event block at byte offset {event_ptr} lies past the end of the file")
        return
    event_raw, session_raw, comment_raw, venue_ptr = _EVENT.unpack_from(data, event_ptr)
    event = _text(event_raw)
    if event:
        metadata.extra["event"] = event
    metadata.session_type = _text(session_raw)
    long_comment = _text(comment_raw)
    if long_comment:
        metadata.extra["event_comment"] = long_comment
        if not metadata.comment:
            metadata.comment = long_comment

    if not venue_ptr or venue_ptr + _VENUE.size > len(data):
        return
    venue_raw, vehicle_ptr = _VENUE.unpack_from(data, venue_ptr)
    if not metadata.track:
        metadata.track = _text(venue_raw)
    if not vehicle_ptr or vehicle_ptr + _VEHICLE.size > len(data):
        return
    vehicle_raw, weight, type_raw, vehicle_comment_raw = _VEHICLE.unpack_from(data, vehicle_ptr)
    if not metadata.car:
        metadata.car = _text(vehicle_raw)
    if weight:
        metadata.extra["vehicle_weight"] = weight
    for key, raw in (("vehicle_type", type_raw), ("vehicle_comment", vehicle_comment_raw)):
        text = _text(raw)
        if text:
            metadata.extra[key] = text


def _read_sidecar(name: str, sidecars: dict[str, bytes], metadata: Metadata,
                  warnings: list[str]) -> list[float]:
    """Return beacon times (s) from the ``.ldx`` sidecar with the log's stem, or the only one."""
    candidates = {k: v for k, v in sidecars.items() if k.lower().endswith(_LDX_SUFFIX)}
    if not candidates:
        return []
    stem = PurePath(name).stem.lower()
    chosen = [k for k in candidates if PurePath(k).stem.lower() == stem]
    if not chosen and len(candidates) == 1:
        chosen = list(candidates)
    if not chosen:
        warnings.append(f"no .ldx sidecar named like the log among {sorted(candidates)}; beacons unknown")
        return []
    sidecar = chosen[0]
    return read_ldx(candidates[sidecar], sidecar, metadata, warnings)


def read_ldx(data: bytes, name: str, metadata: Metadata | None = None,
             warnings: list[str] | None = None) -> list[float]:
    """Return the beacon times (s) of an ``.ldx`` file, sorted; add its lap details to ``metadata``.

    An invalid sidecar does not fail the log: its problem is added to ``warnings`` instead.
    """
    warnings = warnings if warnings is not None else []
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, LookupError) as exc:
        warnings.append(f"sidecar {name} ignored: invalid XML ({exc})")
        return []

    beacons: list[float] = []
    for element in root.iter():
        if _local(element.tag) != "Marker":
            continue
        if element.get("ClassName", "BCN") != "BCN":
            continue
        text = element.get("Time")
        try:
            micros = float(text) if text is not None else float("nan")
        except ValueError:
            micros = float("nan")
        if not np.isfinite(micros):
            warnings.append(f"sidecar {name}: marker {element.get('Name')!r} has invalid time {text!r}")
            continue
        beacons.append(micros / 1e6)

    if metadata is not None:
        for element in root.iter():
            if _local(element.tag) == "String" and element.get("Id") and element.get("Value"):
                key = "ldx_" + "_".join(element.get("Id", "").lower().split())
                metadata.extra[key] = element.get("Value", "").strip()
    return sorted(beacons)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _unpack(layout: struct.Struct, data: bytes, offset: int, name: str, part: str) -> tuple:
    if offset < 0 or offset + layout.size > len(data):
        raise ParseError(name, f"file ends inside the {part}", offset=offset,
                         expected=f"{layout.size} bytes", found=f"{max(0, len(data) - offset)} bytes")
    return layout.unpack_from(data, offset)


def _text(raw: bytes) -> str | None:
    """Decode a NUL-padded text field; return None when it is empty."""
    text = decode_text(raw.split(b"\x00", 1)[0]).strip()
    return text or None


def _unique(name: str, seen: dict[str, int]) -> str:
    if name not in seen:
        seen[name] = 1
        return name
    seen[name] += 1
    return f"{name} #{seen[name]}"
