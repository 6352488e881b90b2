"""iRacing .ibt reader and session-info parsing: the real file, units, quirks, rejected input."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import struct

import pytest

from common.errors import ParseError
from common.formats import parse, parse_bytes, parse_path
from common.formats.iracing_session import parse_session_info, session_facts
from conftest import DATA, corpus_file
from synthetic_logs import (IBT_BITFIELD, IBT_BOOL, IBT_CHAR, IBT_DOUBLE, IBT_FLOAT,
                            IBT_HEADER_SIZE, IBT_INT, IBT_SUB_HEADER_SIZE, IBT_VAR_HEADER_SIZE,
                            IbtFile, IbtVar, build_ibt)

# Exact values of record 1000 were read by hand. Its SessionTime is 70.85 s, 16.8 s after the
# first record at 54.05 s. Each value is `xxd` at byte 52080 + 1000 * 1039 + the variable's offset
# from its header, decoded as little-endian float, int or double: Speed 4.40792 m/s (offset 302)
# is 15.8685 km/h, RPM 988.951 (offset 205), Gear 2 (offset 201), Lat 47.2194302668 (offset 326).
CORPUS = [
    {
        "file": "iracing_ibt/itelem_amg.ibt",
        # 267 variables less SessionTime (the time axis) plus five more elements of the
        # six-element SteeringWheelTorque_ST array.
        "channels": 271,
        "samples": 3371,
        "duration_s": 56.3,
        "time_offset_s": 54.05,
        "metadata": {
            "track": "Red Bull Ring",
            "track_length_m": 4280.0,
            "car": "Mercedes AMG GT4",
            "driver": "Georgi Martsenkov",
            "session_type": "Offline Testing",
            "sample_rate_hz": 60.0,
            "start_time": dt.datetime(2023, 4, 10, 7, 50, 45, tzinfo=dt.UTC),
        },
        "extra": {"subsession_id": 0, "cust_id": 290307, "track_latitude_deg": 47.220305,
                  "sim_time_of_day": "12:00", "record_count": 3371},
        "values": [
            ("speed", 1000, 15.868502998352051),
            ("engine_rpm", 1000, 988.9513549804688),
            ("gear", 1000, 2.0),
            ("latitude", 1000, 47.219430266806114),
        ],
    },
]


@pytest.mark.parametrize("case", CORPUS, ids=[c["file"] for c in CORPUS])
def test_ibt_corpus(case):
    session = parse_path(corpus_file(case["file"]))

    assert session.format == "ibt"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"], abs=1e-6)
    assert session.time_offset_s == pytest.approx(case["time_offset_s"], abs=1e-6)
    for key, expected in case["metadata"].items():
        assert getattr(session.metadata, key) == expected, key
    for key, expected in case["extra"].items():
        assert session.metadata.extra[key] == expected, key
    for column, index, expected in case["values"]:
        assert session.channel(column).values[index] == pytest.approx(expected), (column, index)


def test_ibt_corpus_canonical_units():
    session = parse_path(corpus_file("iracing_ibt/itelem_amg.ibt"))

    assert session.channel("throttle").unit == "fraction"
    assert session.channel("throttle").source_unit == "fraction"
    assert max(session.channel("throttle").values) == pytest.approx(1.0)
    assert session.channel("lap_distance_pct").values[0] == pytest.approx(0.0552196)
    assert session.channel("heading").source_name == "YawNorth"
    assert session.channel("lateral_accel").source_name == "LatAccel"
    assert session.channel("SteeringWheelTorque_ST[5]").unit == "N*m"
    assert session.channel("gear").kind == "discrete"


def test_ibt_detected_by_content(tmp_path):
    renamed = tmp_path / "telemetry.bin"
    shutil.copyfile(corpus_file("iracing_ibt/itelem_amg.ibt"), renamed)

    session = parse_path(renamed)

    assert session.format == "ibt"
    assert session.sample_count == 3371


def test_ibt_fragment_rejected():
    path = corpus_file("iracing_ibt/teamjorge_invalid_test_file.ibt")

    with pytest.raises(ParseError) as info:
        parse_path(path)

    message = str(info.value)
    assert "not an iRacing .ibt file" in message
    assert "expected version 1 or 2" in message
    assert "found 1635021600" in message


def _variables(records: int = 3) -> list[IbtVar]:
    return [
        IbtVar("SessionTime", IBT_DOUBLE, "s", [10.0 + i / 60 for i in range(records)]),
        IbtVar("Speed", IBT_FLOAT, "m/s", [0.0, 25.0, 50.0][:records]),
        IbtVar("Throttle", IBT_FLOAT, "%", [0.0, 0.5, 1.0][:records]),
        IbtVar("Clutch", IBT_FLOAT, "%", [1.0, 0.25, 0.0][:records]),
        IbtVar("RPM", IBT_FLOAT, "revs/min", [900.0, 4000.0, 7000.0][:records]),
        IbtVar("SteeringWheelAngle", IBT_FLOAT, "rad", [0.0, math.pi / 2, -math.pi / 4][:records]),
        IbtVar("Gear", IBT_INT, "", [1, 2, 3][:records]),
        IbtVar("OnPitRoad", IBT_BOOL, "", [True, False, False][:records]),
        IbtVar("SessionFlags", IBT_BITFIELD, "irsdk_Flags", [0x4, 0x4, 0x10000][:records]),
    ]


def _session_info(name: str) -> str:
    return (DATA / "ibt" / name).read_bytes().decode("cp1252")


def test_ibt_units_made_canonical():
    data = build_ibt(IbtFile(_variables(), session_info=_session_info("extra_document.yaml")))

    session = parse(data, "units.ibt")

    assert session.channel("speed").values.tolist() == pytest.approx([0.0, 90.0, 180.0])
    assert session.channel("throttle").values.tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert session.channel("engine_rpm").values.tolist() == pytest.approx([900.0, 4000.0, 7000.0])
    assert session.channel("steering_angle").values.tolist() == pytest.approx([0.0, 90.0, -45.0])
    assert session.channel("gear").values.tolist() == [1.0, 2.0, 3.0]


def test_ibt_clutch_inverted():
    data = build_ibt(IbtFile(_variables(), session_info=_session_info("extra_document.yaml")))

    session = parse(data, "clutch.ibt")

    # iRacing: 1 = engaged (pedal up). Canonical: 0 = released, 1 = fully pressed.
    assert session.channel("clutch").values.tolist() == pytest.approx([0.0, 0.75, 1.0])


def test_ibt_integer_types_discrete():
    parsed = parse_bytes(build_ibt(IbtFile(_variables())), "types.ibt")
    by_name = {ch.name: ch for ch in parsed.channels}

    assert by_name["OnPitRoad"].values.tolist() == [1.0, 0.0, 0.0]
    assert by_name["OnPitRoad"].kind == "discrete"
    assert by_name["SessionFlags"].values.tolist() == [4.0, 4.0, 65536.0]
    assert by_name["SessionFlags"].unit == ""
    assert by_name["Speed"].kind is None


def test_ibt_arrays_split_text_skipped():
    variables = _variables() + [
        IbtVar("CarIdxLap", IBT_INT, "", [[1, 2, 3], [1, 2, 4], [2, 2, 4]], count=3),
        IbtVar("DriverTag", IBT_CHAR, "", [[65, 66], [65, 66], [65, 66]], count=2),
    ]

    parsed = parse_bytes(build_ibt(IbtFile(variables)), "arrays.ibt")
    by_name = {ch.name: ch for ch in parsed.channels}

    assert by_name["CarIdxLap[0]"].values.tolist() == [1.0, 1.0, 2.0]
    assert by_name["CarIdxLap[2]"].values.tolist() == [3.0, 4.0, 4.0]
    assert "DriverTag" not in by_name
    assert any("'DriverTag' is text" in w for w in parsed.warnings)


def test_ibt_metadata_from_session_info():
    spec = IbtFile(_variables(), session_info=_session_info("extra_document.yaml"),
                   start_date=1_717_252_200)

    md = parse_bytes(build_ibt(spec), "meta.ibt").metadata

    assert md.track == "demo_oval"
    assert md.track_length_m == 1250.0
    assert md.driver == "Sam Tester"
    assert md.car == "Demo GT"
    assert md.start_time == dt.datetime(2024, 6, 1, 14, 30, tzinfo=dt.UTC)
    assert md.extra["subsession_id"] == 55501234
    assert md.extra["cust_id"] == 42


def test_ibt_session_info_cp1252_in_file():
    spec = IbtFile(_variables(), session_info=_session_info("cp1252.yaml"))

    md = parse_bytes(build_ibt(spec), "cp1252.ibt").metadata

    assert md.driver == "Jörg Example"
    assert md.extra["track_city"] == "München"


def test_ibt_live_memory_dump_rejected():
    data = build_ibt(IbtFile(_variables(), live=True))

    with pytest.raises(ParseError) as info:
        parse_bytes(data, "irsdk_memory.bin")

    message = str(info.value)
    assert "live iRacing telemetry memory" in message
    assert "found 3 buffers" in message


def test_ibt_truncated_records_kept():
    data = build_ibt(IbtFile(_variables()))

    parsed = parse_bytes(data[:-5], "cut.ibt")

    assert parsed.rows_read == 2
    assert any("file ends after 2 of 3 records" in w for w in parsed.warnings)


def test_ibt_unset_record_count_read():
    data = build_ibt(IbtFile(_variables(), extra_records_in_header=-3))

    parsed = parse_bytes(data, "crashed.ibt")

    assert parsed.rows_read == 3
    assert any("states 0 records" in w for w in parsed.warnings)


def test_ibt_header_cut_rejected():
    data = build_ibt(IbtFile(_variables()))

    with pytest.raises(ParseError, match="file ends inside the .ibt header"):
        parse_bytes(data[:100], "cut.ibt")


def test_ibt_overlapping_variables_rejected():
    variables = [IbtVar(name, IBT_FLOAT, "", [1.0, 2.0]) for name in ("A", "B", "C")]
    data = bytearray(build_ibt(IbtFile(variables)))
    var_at = IBT_HEADER_SIZE + IBT_SUB_HEADER_SIZE
    # Record length 8 bytes; B moves onto A, C to byte 4: each fits, together they claim 12.
    struct.pack_into("<i", data, 36, 8)
    struct.pack_into("<i", data, var_at + IBT_VAR_HEADER_SIZE + 4, 0)
    struct.pack_into("<i", data, var_at + 2 * IBT_VAR_HEADER_SIZE + 4, 4)

    with pytest.raises(ParseError, match="the variables overlap"):
        parse_bytes(bytes(data), "overlap.ibt")


def test_ibt_bad_session_info_warns():
    spec = IbtFile(_variables(), session_info="---\nWeekendInfo:\n\tTrackName: x\n  bad: [\n...\n")

    parsed = parse_bytes(build_ibt(spec), "badinfo.ibt")

    assert parsed.metadata.track is None
    assert any("session info unreadable" in w for w in parsed.warnings)


# --- session-info text ----------------------------------------------------------------------


def test_session_info_extra_document():
    info = parse_session_info((DATA / "ibt" / "extra_document.yaml").read_bytes())
    facts = session_facts(info)

    assert "MergeTool" not in info
    assert facts.track == "demo_oval"
    assert facts.track_length_m == 1250.0
    assert facts.extra["track_latitude_deg"] == 45.000001
    assert facts.extra["track_longitude_deg"] == -7.25
    assert facts.extra["sim_time_of_day"] == "14:30"
    assert facts.driver == "Sam Tester"


def test_session_info_hash_in_text():
    info = parse_session_info((DATA / "ibt" / "hash_in_text.yaml").read_bytes())
    drivers = info["DriverInfo"]["Drivers"]

    assert drivers[1]["TeamName"] == "Team #7 Blue"
    assert drivers[1]["CarClassShortName"] == "GT #4"
    assert drivers[1]["CarNumber"] == "7"
    assert drivers[0]["TeamName"] == "Solo Racing"
    assert session_facts(info).extra["team"] == "Team #7 Blue"


def test_session_info_yaml_indicators():
    info = parse_session_info((DATA / "ibt" / "yaml_indicators.yaml").read_bytes())
    driver_info = info["DriverInfo"]
    entry = driver_info["Drivers"][0]

    assert driver_info["DriverSetupName"] == "base: wet v2.sto"
    assert entry["UserName"] == "? anon"
    assert entry["TeamName"] == "- Dash Team -"
    assert entry["AbbrevName"] == ", D"
    assert entry["Initials"] == "AN"
    assert driver_info["DriverSetupIsModified"] == 0
    assert session_facts(info).track_length_m == 2000.0


def test_session_info_cp1252():
    info = parse_session_info((DATA / "ibt" / "cp1252.yaml").read_bytes())

    assert info["WeekendInfo"]["TrackCity"] == "München"
    assert info["DriverInfo"]["Drivers"][0]["UserName"] == "Jörg Example"
    assert info["DriverInfo"]["Drivers"][0]["TeamName"] == "Équipe Über"
    assert session_facts(info).driver == "Jörg Example"


def test_session_info_free_text_kept_as_text():
    info = parse_session_info("WeekendInfo:\n CourseCautions: off\n Date: 2023-04-15\n"
                              " CarNumber: 007\n Count: 12\n Ratio: -1.5000\n Empty: \n")
    weekend = info["WeekendInfo"]

    assert weekend["CourseCautions"] == "off"
    assert weekend["Date"] == "2023-04-15"
    assert weekend["CarNumber"] == "007"
    assert weekend["Count"] == 12
    assert weekend["Ratio"] == -1.5
    assert weekend["Empty"] is None


def test_session_info_invalid_raises():
    with pytest.raises(ParseError, match="invalid session-info YAML"):
        parse_session_info("WeekendInfo:\n TrackName: a\n\tbad: [\n")
