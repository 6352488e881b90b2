"""MoTeC .ld reader: the real ADL log, channel scaling, data types, the .ldx sidecar, bad input."""

from __future__ import annotations

import datetime as dt
import shutil
import struct

import numpy as np
import pytest

from common.errors import ParseError
from common.formats import detect, parse, parse_bytes, parse_path
from common.formats import motec_ld
from conftest import DATA, corpus_file
from synthetic_logs import (LD_CHANNEL_SIZE, LD_EVENT_SIZE, LD_HEADER_SIZE, LD_VEHICLE_SIZE,
                            LD_VENUE_SIZE, LdChannel, build_ld)

# Exact values were read by hand with `xxd` at each channel's data offset (from its header in
# the linked list) and scaled with the header's fields: Air Temp Inlet stores 0x00c7 = 199 with
# dec 1 (19.9 C); Engine RPM stores 0x0113 = 275 with mul 6, scale 10, dec -1 (1650 rpm); Ground
# Speed stores 0x0157 = 343 at sample 0 and 0x0932 = 2354 at sample 1000 (10 Hz, t = 100 s), dec 1.
CORPUS = [
    {
        "file": "motec_ld/afonso360_Sample1.ld",
        "channels": 78,
        "samples": 45400,
        "duration_s": 453.99,
        "metadata": {
            "track": "Calder",
            "car": "11A",
            "driver": None,
            "session_type": "2",
            "device": "ADL",
            "comment": "second warmup",
            "start_time": dt.datetime(2005, 11, 23, 9, 53, 0),
        },
        "extra": {"event": "i2 data day", "device_serial": 12007,
                  "event_comment": "Calder Park, 23/11/05, fine sunny day"},
        "rates_hz": {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0},
        "values": [
            ("Air Temp Inlet", 0, 19.9),
            ("engine_rpm", 0, 1650.0),
            ("engine_rpm", 10, 1626.0),
            ("speed", 0, 34.3),
            ("speed", 10000, 235.4),
        ],
    },
]


@pytest.mark.parametrize("case", CORPUS, ids=[c["file"] for c in CORPUS])
def test_motec_ld_corpus(case):
    session = parse_path(corpus_file(case["file"]))

    assert session.format == "motec_ld"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"])
    for key, expected in case["metadata"].items():
        assert getattr(session.metadata, key) == expected, key
    for key, expected in case["extra"].items():
        assert session.metadata.extra[key] == expected, key
    assert {ch.rate_hz for ch in session.channels} == case["rates_hz"]
    for column, index, expected in case["values"]:
        assert session.channel(column).values[index] == pytest.approx(expected), (column, index)


def test_motec_ld_corpus_canonical_units():
    session = parse_path(corpus_file("motec_ld/afonso360_Sample1.ld"))

    throttle = session.channel("throttle")
    assert throttle.source_name == "Throttle Pos"
    assert throttle.unit == "fraction"
    assert np.nanmax(throttle.values) <= 1.0
    assert session.channel("gear").kind == "discrete"
    assert session.channel("lateral_accel").source_name == "G Force Lat"


def test_motec_ld_detected_by_content(tmp_path):
    renamed = tmp_path / "log.bin"
    shutil.copyfile(corpus_file("motec_ld/afonso360_Sample1.ld"), renamed)

    session = parse_path(renamed)

    assert session.format == "motec_ld"
    assert len(session.channels) == 78


def _case_channels() -> list[LdChannel]:
    return [
        LdChannel("Engine RPM", "rpm", 20, [1000, 1100, 1250], mul=6),
        LdChannel("Oil Temp", "C", 2, [905, 910], dec=1),
    ]


def test_motec_ld_channel_scaling():
    data = build_ld(_case_channels(), venue="Test Ring")

    parsed = parse_bytes(data, "scaling.ld")
    rpm, oil = parsed.channels

    assert parsed.format == "motec_ld"
    assert rpm.values.tolist() == [6000.0, 6600.0, 7500.0]
    assert rpm.times.tolist() == [0.0, 0.05, 0.1]
    assert oil.values.tolist() == [90.5, 91.0]
    assert oil.times.tolist() == [0.0, 0.5]
    assert oil.unit == "C"
    assert parsed.metadata.track == "Test Ring"


def test_motec_ld_scaling_all_fields():
    # (raw / scale * 10^-dec + shift) * mul with every field set:
    # (1234 / 2 / 100 + 5) * 3 = 33.51 and (-1234 / 2 / 100 + 5) * 3 = -3.51
    channel = LdChannel("Mixed", "bar", 10, [1234, -1234], shift=5, mul=3, scale=2, dec=2)

    parsed = parse_bytes(build_ld([channel]), "mixed.ld")

    assert parsed.channels[0].values.tolist() == pytest.approx([33.51, -3.51])


def test_motec_ld_channel_scaling_normalized():
    session = parse(build_ld(_case_channels()), "scaling.ld")

    rpm = session.channel("engine_rpm")
    oil = session.channel("oil_temp")
    assert session.elapsed_s.tolist() == [0.0, 0.05, 0.1, 0.5]
    assert rpm.values[:3].tolist() == [6000.0, 6600.0, 7500.0]
    assert oil.values[0] == 90.5
    assert oil.values[3] == 91.0
    assert oil.unit == "C"


def test_motec_ld_int32_and_float():
    channels = [
        LdChannel("Odometer", "m", 1, [100000, 200000], type_size=4, dec=1),
        LdChannel("Lambda", "LA", 1, [0.5, 1.25], type_class=7, type_size=4),
    ]

    parsed = parse_bytes(build_ld(channels), "types.ld")

    assert parsed.channels[0].values.tolist() == [10000.0, 20000.0]
    assert parsed.channels[1].values.tolist() == [0.5, 1.25]


def test_motec_ld_unknown_type_skipped():
    channels = [
        LdChannel("Speed", "km/h", 1, [10, 20]),
        LdChannel("Odd", "", 1, [1, 2], type_class=9),
    ]

    parsed = parse_bytes(build_ld(channels), "odd.ld")

    assert [ch.name for ch in parsed.channels] == ["Speed"]
    assert any("'Odd'" in w and "unknown data type" in w for w in parsed.warnings)


def test_motec_ld_invalid_decimal_places_skipped():
    channels = [
        LdChannel("Speed", "km/h", 1, [10, 20]),
        LdChannel("Damaged", "C", 1, [1, 2], dec=400),
    ]

    parsed = parse_bytes(build_ld(channels), "damaged.ld")

    assert [ch.name for ch in parsed.channels] == ["Speed"]
    assert any("invalid decimal places 400" in w for w in parsed.warnings)


def test_motec_ld_unitless_integer_discrete():
    channels = [LdChannel("Status Grp 1", "", 5, [0, 64, 64])]

    parsed = parse_bytes(build_ld(channels), "status.ld")

    assert parsed.channels[0].kind == "discrete"


def test_motec_ld_metadata_fields():
    data = build_ld(_case_channels(), driver="A. Driver", vehicle="Car 7", venue="Test Ring",
                    comment="short", event="Test Day", session="Practice 1",
                    event_comment="long comment", date="05/06/2024", time="08:15:30")

    md = parse_bytes(data, "meta.ld").metadata

    assert md.driver == "A. Driver"
    assert md.car == "Car 7"
    assert md.track == "Test Ring"
    assert md.comment == "short"
    assert md.session_type == "Practice 1"
    assert md.extra["event"] == "Test Day"
    assert md.extra["event_comment"] == "long comment"
    # Day first, as MoTeC writes it: 5 June, not 6 May.
    assert md.start_time == dt.datetime(2024, 6, 5, 8, 15, 30)


def test_motec_ld_ldx_beacons(tmp_path):
    ldx = (DATA / "motec_ld" / "three_laps.ldx").read_bytes()
    log = tmp_path / "run.ld"
    log.write_bytes(build_ld(_case_channels()))
    (tmp_path / "run.ldx").write_bytes(ldx)

    session = parse_path(log)

    assert session.beacons_s == [12.5, 75.25, 139.0005]
    assert session.metadata.extra["ldx_fastest_time"] == "1:02.750"
    assert session.metadata.extra["ldx_total_laps"] == "4"


def test_motec_ld_ldx_from_sidecars_dict():
    ldx = (DATA / "motec_ld" / "three_laps.ldx").read_bytes()

    parsed = parse_bytes(build_ld(_case_channels()), "Run.LD", {"Run.ldx": ldx})

    assert parsed.beacons_s == [12.5, 75.25, 139.0005]


def test_motec_ld_ldx_invalid_warns():
    parsed = parse_bytes(build_ld(_case_channels()), "run.ld", {"run.ldx": b"<LDXFile><Layers>"})

    assert parsed.beacons_s == []
    assert any("run.ldx" in w and "invalid XML" in w for w in parsed.warnings)


def test_motec_ld_ldx_other_stem_ignored():
    ldx = (DATA / "motec_ld" / "three_laps.ldx").read_bytes()
    sidecars = {"a.ldx": ldx, "b.ldx": ldx}

    parsed = parse_bytes(build_ld(_case_channels()), "run.ld", sidecars)

    assert parsed.beacons_s == []
    assert any("no .ldx sidecar" in w for w in parsed.warnings)


def test_motec_ld_channel_loop_rejected():
    data = build_ld(_case_channels(), loop_channels=True)

    with pytest.raises(ParseError, match="loops back"):
        parse_bytes(data, "loop.ld")


def test_motec_ld_overlapping_channels_rejected():
    channels = [LdChannel(f"C{i}", "", 1, [i] * 2000) for i in range(3)]
    data = bytearray(build_ld(channels))
    first_header = LD_HEADER_SIZE + LD_EVENT_SIZE + LD_VENUE_SIZE + LD_VEHICLE_SIZE
    data_start = first_header + 3 * LD_CHANNEL_SIZE
    # Point every channel at the start of the data and claim far more samples than exist.
    for i in range(3):
        struct.pack_into("<II", data, first_header + i * LD_CHANNEL_SIZE + 8, data_start, 10**6)

    with pytest.raises(ParseError, match="sample data overlap"):
        parse_bytes(bytes(data), "overlap.ld")


def test_motec_ld_truncated_header_rejected():
    data = build_ld(_case_channels())[:900]

    with pytest.raises(ParseError, match="file ends inside the file header"):
        motec_ld.read(data, "short.ld", {})


def test_motec_ld_truncated_data_kept():
    data = build_ld(_case_channels())

    parsed = parse_bytes(data[:-2], "cut.ld")

    assert parsed.channels[1].values.tolist() == [90.5]
    assert any("file ends after 1 of 2 samples" in w for w in parsed.warnings)


def test_motec_ld_sniff_by_content():
    data = build_ld(_case_channels())

    assert detect(data, "upload.dat").FORMAT == "motec_ld"
    assert motec_ld.sniff(b"\x40\x00\x00\x00" + b"\x00" * 12, "x.ld") == 0.0
