"""Tiny writers of binary telemetry files for tests: MoTeC ``.ld`` and iRacing ``.ibt``.

The writers place every field at its documented byte offset with their own code, independent of
the readers, so that a reader bug cannot cancel out a writer bug.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# --- MoTeC .ld ------------------------------------------------------------------------------

LD_HEADER_SIZE = 0x6E2
LD_EVENT_SIZE = 1154
LD_VENUE_SIZE = 1100
LD_VEHICLE_SIZE = 260
LD_CHANNEL_SIZE = 124


@dataclass
class LdChannel:
    """One channel to write: raw stored integers (or floats) plus the scaling fields."""

    name: str
    unit: str
    rate_hz: int
    raw: list[float]
    shift: int = 0
    mul: int = 1
    scale: int = 1
    dec: int = 0
    # Type class 3 with size 2 is int16, size 4 int32; class 7 with size 4 is float32.
    type_class: int = 3
    type_size: int = 2
    short_name: str = ""


def _put_text(buf: bytearray, offset: int, text: str, size: int) -> None:
    raw = text.encode("latin-1")[:size]
    buf[offset:offset + len(raw)] = raw


def build_ld(channels: list[LdChannel], *, date: str = "09/03/2024", time: str = "14:05:10",
             driver: str = "", vehicle: str = "", venue: str = "", comment: str = "",
             event: str = "", session: str = "", event_comment: str = "",
             loop_channels: bool = False) -> bytes:
    """Return an ``.ld`` file: header, event, venue, vehicle, channel headers, then sample data.

    ``loop_channels`` makes the last channel header point back to the first one, a corrupt list.
    """
    event_at = LD_HEADER_SIZE
    venue_at = event_at + LD_EVENT_SIZE
    vehicle_at = venue_at + LD_VENUE_SIZE
    meta_at = vehicle_at + LD_VEHICLE_SIZE
    data_at = meta_at + LD_CHANNEL_SIZE * len(channels)

    blobs = []
    for ch in channels:
        if ch.type_class == 7:
            code = {2: "e", 4: "f", 8: "d"}[ch.type_size]
        else:
            code = {1: "b", 2: "h", 4: "i"}[ch.type_size]
        blobs.append(struct.pack(f"<{len(ch.raw)}{code}", *ch.raw))
    total = data_at + sum(len(b) for b in blobs)
    buf = bytearray(total)

    struct.pack_into("<I", buf, 0x00, 0x40)
    struct.pack_into("<I", buf, 0x08, meta_at if channels else 0)
    struct.pack_into("<I", buf, 0x0C, data_at)
    struct.pack_into("<I", buf, 0x24, event_at)
    struct.pack_into("<I", buf, 0x46, 4242)
    _put_text(buf, 0x4A, "ADL", 8)
    struct.pack_into("<H", buf, 0x52, 420)
    struct.pack_into("<I", buf, 0x56, len(channels))
    _put_text(buf, 0x5E, date, 16)
    _put_text(buf, 0x7E, time, 16)
    _put_text(buf, 0x9E, driver, 64)
    _put_text(buf, 0xDE, vehicle, 64)
    _put_text(buf, 0x15E, venue, 64)
    _put_text(buf, 0x624, comment, 64)

    _put_text(buf, event_at, event, 64)
    _put_text(buf, event_at + 64, session, 64)
    _put_text(buf, event_at + 128, event_comment, 1024)
    struct.pack_into("<H", buf, event_at + 1152, venue_at)
    _put_text(buf, venue_at, venue, 64)
    struct.pack_into("<H", buf, venue_at + 1098, vehicle_at)
    _put_text(buf, vehicle_at, vehicle, 64)
    _put_text(buf, vehicle_at + 196, "Car", 32)

    data_offset = data_at
    for i, (ch, blob) in enumerate(zip(channels, blobs)):
        at = meta_at + i * LD_CHANNEL_SIZE
        prev_at = at - LD_CHANNEL_SIZE if i else 0
        next_at = at + LD_CHANNEL_SIZE if i + 1 < len(channels) else 0
        if loop_channels and i + 1 == len(channels):
            next_at = meta_at
        struct.pack_into("<IIII", buf, at, prev_at, next_at, data_offset, len(ch.raw))
        struct.pack_into("<HHHH", buf, at + 16, i, ch.type_class, ch.type_size, ch.rate_hz)
        struct.pack_into("<hhhh", buf, at + 24, ch.shift, ch.mul, ch.scale, ch.dec)
        _put_text(buf, at + 32, ch.name, 32)
        _put_text(buf, at + 64, ch.short_name or ch.name[:8], 8)
        _put_text(buf, at + 72, ch.unit, 12)
        buf[data_offset:data_offset + len(blob)] = blob
        data_offset += len(blob)
    return bytes(buf)


# --- iRacing .ibt ---------------------------------------------------------------------------

IBT_HEADER_SIZE = 112
IBT_SUB_HEADER_SIZE = 32
IBT_VAR_HEADER_SIZE = 144

# irsdk variable types and their sizes in bytes.
IBT_CHAR, IBT_BOOL, IBT_INT, IBT_BITFIELD, IBT_FLOAT, IBT_DOUBLE = range(6)
_IBT_CODES = {IBT_CHAR: "c", IBT_BOOL: "?", IBT_INT: "i", IBT_BITFIELD: "I", IBT_FLOAT: "f",
              IBT_DOUBLE: "d"}


@dataclass
class IbtVar:
    """One telemetry variable to write; ``values`` contains one entry (or one list) per record."""

    name: str
    type: int
    unit: str
    values: list
    count: int = 1
    desc: str = ""
    count_as_time: bool = False


@dataclass
class IbtFile:
    """Everything an ``.ibt`` writer needs; ``live`` writes the shared-memory layout instead."""

    variables: list[IbtVar]
    session_info: str = "---\nWeekendInfo:\n TrackName: test\n...\n"
    tick_rate: int = 60
    start_date: int = 1_700_000_000
    start_time_s: float = 0.0
    end_time_s: float = 0.0
    lap_count: int = 0
    live: bool = False
    extra_records_in_header: int = 0
    encoding: str = "cp1252"


def build_ibt(spec: IbtFile) -> bytes:
    """Return an ``.ibt`` file (or, with ``spec.live``, a dump of the live telemetry memory).

    Disk layout: header, disk sub-header, variable headers, session-info text, records.
    The live layout has no disk sub-header and three rotating record buffers.
    """
    records = len(spec.variables[0].values) if spec.variables else 0
    offsets = []
    record_size = 0
    for var in spec.variables:
        offsets.append(record_size)
        record_size += struct.calcsize("<" + _IBT_CODES[var.type]) * var.count

    var_at = IBT_HEADER_SIZE + (0 if spec.live else IBT_SUB_HEADER_SIZE)
    info = spec.session_info.encode(spec.encoding)
    info_at = var_at + IBT_VAR_HEADER_SIZE * len(spec.variables)
    buf_at = info_at + len(info)
    num_buf = 3 if spec.live else 1
    total = buf_at + record_size * (num_buf if spec.live else records)
    out = bytearray(total)

    struct.pack_into("<10i", out, 0, 2, 1, spec.tick_rate, 1, len(info), info_at,
                     len(spec.variables), var_at, num_buf, record_size)
    for i in range(num_buf):
        struct.pack_into("<ii", out, 48 + 16 * i, 100 + i, buf_at + i * record_size * int(spec.live))
    if not spec.live:
        struct.pack_into("<qddii", out, IBT_HEADER_SIZE, spec.start_date, spec.start_time_s,
                         spec.end_time_s, spec.lap_count, records + spec.extra_records_in_header)

    for i, var in enumerate(spec.variables):
        at = var_at + i * IBT_VAR_HEADER_SIZE
        struct.pack_into("<iii?", out, at, var.type, offsets[i], var.count, var.count_as_time)
        for offset, text, size in ((16, var.name, 32), (48, var.desc, 64), (112, var.unit, 32)):
            raw = text.encode("latin-1")[:size]
            out[at + offset:at + offset + len(raw)] = raw
    out[info_at:info_at + len(info)] = info

    for r in range(records if not spec.live else num_buf):
        base = buf_at + r * record_size
        for var, offset in zip(spec.variables, offsets):
            value = var.values[min(r, len(var.values) - 1)]
            items = value if var.count > 1 else [value]
            code = _IBT_CODES[var.type]
            if var.type == IBT_CHAR:
                items = [bytes([int(v)]) for v in items]
            struct.pack_into(f"<{var.count}{code}", out, base + offset, *items)
    return bytes(out)
