"""MoTeC i2 CSV reader: the three real exports, both "Format" spellings, detection by content."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest

from common.errors import ParseError
from common.formats import detect, parse, parse_path
from conftest import DATA, corpus_file

# Values read by hand in a text editor: the metadata rows, the first and last data rows, and the
# number of data rows (lines after the blank lines that follow the units row).
CORPUS = [
    {
        "file": "motec_csv/arcayik_gt_grand_valley_60hz.csv",
        "channels": 14,
        "samples": 11700,
        "duration_s": 194.983,
        "rate_hz": 60.0,
        "metadata": {"track": "Grand Valley Speedway",
                     "car": "IMPREZA Sedan WRX STi spec C (Type-II) '04", "driver": "L. TANG",
                     "device": "ADL", "session_type": None},
        # Log Date 2023-04-04, Log Time 1:16:25 PM (12-hour clock).
        "start_time": dt.datetime(2023, 4, 4, 13, 16, 25),
        "beacons_s": [24.324, 190.167],
        "values": [("speed", 0.0, 30.3), ("engine_rpm", 0.017, 2680.0), ("gear", 194.983, 5.0),
                   ("throttle", 0.033, 0.973), ("Brake Press", 0.0, 3.74),
                   ("wheel_speed_rl", 0.017, 34.9)],
        # "G Force Lat" opens with values such as 53.76 and -137.09 G: outside -8..8 G, so missing.
        "nan": [("lateral_accel", 0.0), ("lateral_accel", 0.033)],
    },
    {
        "file": "motec_csv/jgbalves_Interlagos_Ohira_rfactor.csv",
        "channels": 9,
        "samples": 4922,
        "duration_s": 96.113,
        "rate_hz": 51.2,
        "metadata": {"track": "Interlagos", "car": "BoxerCup: Eric Monteiro #8", "driver": "Ohira",
                     "device": "ADL", "comment": "(Exported from rFactor Data Acquisition Plugin v1.3.2.0)"},
        # Log Date 26/10/2020: 26 cannot be a month, so the order is day-first without doubt.
        "start_time": dt.datetime(2020, 10, 26, 19, 43),
        "beacons_s": [],
        "values": [("speed", 0.0, 257.7), ("Suspension Pos FR", 0.0, 38.26),
                   ("lateral_accel", 0.02, 0.0337), ("distance", 96.113, 4237.0),
                   ("Steering Wheel Pct", 96.113, -0.30), ("throttle", 0.059, 1.0)],
        "nan": [],
    },
    {
        "file": "motec_csv/kriscollier_ac_fs_uk_endurance_lap1.csv",
        "channels": 17,
        "samples": 2853,
        "duration_s": 57.04,
        "rate_hz": 50.0,
        "metadata": {"track": "fs_uk_endurance", "car": "madformulateam_mftc3_stag_8", "driver": "KR7",
                     "session_type": "HOTLAP", "comment": "Tires: Hoosier LC0 (S)"},
        "start_time": dt.datetime(2022, 10, 30, 19, 49),
        # "Beacon Markers","00.000     ": one marker at the start, trailing spaces.
        "beacons_s": [0.0],
        "values": [("speed", 0.0, 66.7), ("engine_rpm", 0.04, 2916.0), ("Tire Temp Core FL", 0.0, 78.5),
                   ("Tire Temp Core RR", 57.04, 66.5), ("distance", 57.04, 990.7),
                   ("Camber FL", 0.06, -1.95)],
        "nan": [],
    },
]


def _value(session, name: str, at_s: float) -> float:
    index = int(np.argmin(np.abs(session.elapsed_s - at_s)))
    assert session.elapsed_s[index] == pytest.approx(at_s, abs=1e-9)
    return float(session.channel(name).values[index])


@pytest.mark.parametrize("case", CORPUS, ids=[c["file"].split("/")[1] for c in CORPUS])
def test_motec_csv_corpus(case):
    session = parse_path(corpus_file(case["file"]))

    assert session.format == "motec_csv"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"], abs=1e-9)
    assert session.metadata.sample_rate_hz == case["rate_hz"]
    assert session.metadata.start_time == case["start_time"]
    assert session.metadata.start_time_ambiguous is False
    assert session.metadata.producer == "MoTeC i2"
    for field, expected in case["metadata"].items():
        assert getattr(session.metadata, field) == expected, field
    assert session.beacons_s == pytest.approx(case["beacons_s"])
    for name, at_s, expected in case["values"]:
        assert _value(session, name, at_s) == pytest.approx(expected, abs=1e-9), (name, at_s)
    for name, at_s in case["nan"]:
        assert np.isnan(_value(session, name, at_s)), (name, at_s)


def test_motec_csv_detected_by_content(tmp_path):
    source = corpus_file("motec_csv/jgbalves_Interlagos_Ohira_rfactor.csv")
    renamed = tmp_path / "export.bin"
    shutil.copy(source, renamed)
    data = renamed.read_bytes()
    assert detect(data, renamed.name).FORMAT == "motec_csv"
    assert parse_path(renamed).sample_count == 4922


def test_motec_csv_repeated_name_row_skipped():
    # The rFactor export writes the channel-name row twice before the units row.
    session = parse_path(corpus_file("motec_csv/jgbalves_Interlagos_Ohira_rfactor.csv"))
    assert [c.source_name for c in session.channels][:3] == ["Distance", "Corr Speed", "Throttle Pos"]
    assert session.channel("Distance").source_unit == "m"


def test_motec_csv_unquoted_with_format_spelling():
    text = (DATA / "motec" / "golden-motec.csv").read_text().replace('"', "")
    text = text.replace("MoTeC CSV File", "MoTeC CSV")
    session = parse(text.encode(), "unquoted.csv")
    assert session.format == "motec_csv"
    assert session.sample_count == 5
    assert session.channel("speed").values.tolist() == [120.5, 121.0, 121.4, 119.9, 112.3]
    assert session.channel("oil_pressure").values[0] == pytest.approx(410.0)


def test_motec_csv_text_value_names_line_and_channel():
    text = (DATA / "motec" / "golden-motec.csv").read_text().replace('"98.5"', '"9x8.5"')
    with pytest.raises(ParseError) as error:
        parse(text.encode(), "bad.csv")
    message = str(error.value)
    assert message.startswith("bad.csv, line 18, field 'Throttle Pos': value is not a number")
    assert "found '9x8.5'" in message
