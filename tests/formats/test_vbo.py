"""Racelogic VBO reader, on a VBOX 3i file and a RaceBox file from the corpus."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import corpus_file
from damaged_copies import check_damaged

from common.errors import ParseError
from common.formats import detect, parse, parse_path

VBOX = "vbox_vbo/lumbrer_Example_File.VBO"
RACEBOX = "vbox_vbo/doves_racebox_lignano.vbo"

# Values checked by hand with `sed -n 'Np'` and a calculator. In the VBOX file the first data row
# is line 122 (time 142619.860) and line 1000 is 8.78 s later (142628.640). In the RaceBox file
# the first row is line 31 (113221.00) and line 1000 is 38.76 s later (113259.76). Minutes become
# degrees by dividing by 60, and longitude changes sign (west positive in the file).
CASES = [
    {
        "file": VBOX,
        # 49 columns less time.
        "channels": 48,
        "samples": 1833,
        "duration_s": 18.32,
        "metadata": {
            "producer": "Racelogic",
            "sample_rate_hz": 100.0,
            # "File created on 01/03/2016" (day first) and the first sample's UTC time 14:26:19.860.
            "start_time": dt.datetime(2016, 3, 1, 14, 26, 19, 860000, tzinfo=dt.UTC),
            "comment": "GPS Time offset by -15 seconds; Kalman Filter - IMU version, IMU Serial Number #####",
        },
        "extra": {"file_created": "01/03/2016 @ 14:26"},
        "values": [
            ("latitude", 8.78, 3141.68838828 / 60),   # +3141.68838828 minutes, north
            ("longitude", 8.78, -99.51472911 / 60),   # +0099.51472911 minutes, west
            ("speed", 8.78, 1.269),                   # velocity in km/h
            ("heading", 8.78, 231.68),
            ("altitude", 8.78, 181.51),
            ("sats", 0.0, 14.0),
            ("Temp", 18.32, 12.2),                    # last row, unit from [channel units]
            ("BrakePress", 18.32, -17.9),
        ],
        "units": {"Temp": "°C", "BrakePress": "Bar", "SteeringWh": "deg", "SteeringWh #2": "deg",
                  "WheelSpeed": "km/h", "VB3i_AD1": "", "vert-vel": "m/s"},
    },
    {
        "file": RACEBOX,
        "channels": 12,
        "samples": 31527,
        # 11:32:21.00 to 11:53:22.11.
        "duration_s": 1261.11,
        "metadata": {
            "producer": "RaceBox",
            "track": "Lignano",
            # "UTC Date Started : 11/04/2026 11:32" and the first sample's time 11:32:21.00.
            "start_time": dt.datetime(2026, 4, 11, 11, 32, 21, tzinfo=dt.UTC),
        },
        "extra": {"serial_number": "2242507176",
                  # [laptiming]: +02743.96882 -000784.39721 +02743.95983 -000784.39786
                  "start_line": [[2743.96882 / 60, 784.39721 / 60], [2743.95983 / 60, 784.39786 / 60]],
                  "start_line_name": "Start / Finish"},
        "values": [
            # Lignano karting is at about 45.7 N 13.1 E: east longitude written as negative minutes.
            ("latitude", 38.76, 2743.88801 / 60),
            ("longitude", 38.76, 784.36927 / 60),
            ("speed", 38.76, 67.784),
            ("longitudinal_accel", 38.76, -0.707),
            ("sats", 38.76, 13.0),
            ("speed", 1261.11, 0.479),
        ],
        "units": {"velocity": "km/h", "x-rotation-gyroscope": ""},
    },
]


def _value_at(session, channel, elapsed_s):
    index = int(np.argmin(np.abs(session.elapsed_s - elapsed_s)))
    return float(session.channel(channel).values[index])


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_vbo_corpus(case):
    session = parse_path(corpus_file(case["file"]))
    assert session.format == "vbo"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"], abs=1e-6)
    for key, expected in case["metadata"].items():
        assert getattr(session.metadata, key) == expected, key
    for key, expected in case["extra"].items():
        if key == "start_line":
            assert np.allclose(session.metadata.extra[key], expected, atol=1e-9)
        else:
            assert session.metadata.extra[key] == expected, key
    for channel, elapsed_s, expected in case["values"]:
        assert _value_at(session, channel, elapsed_s) == pytest.approx(expected, abs=1e-7), channel
    source_units = {ch.source_name: ch.source_unit for ch in session.channels}
    for channel, unit in case["units"].items():
        assert source_units[channel] == unit, channel


def test_vbo_racebox_at_lignano():
    session = parse_path(corpus_file(RACEBOX))
    latitude = session.channel("latitude").values
    longitude = session.channel("longitude").values
    assert 45.6 < np.nanmedian(latitude) < 45.8
    assert 13.0 < np.nanmedian(longitude) < 13.2


def test_vbo_start_line_near_track():
    session = parse_path(corpus_file(RACEBOX))
    (lat1, lon1), (lat2, lon2) = session.metadata.extra["start_line"]
    latitude = session.channel("latitude").values
    longitude = session.channel("longitude").values
    # The start line must lie within 50 m of some recorded position (1e-3 deg is about 111 m).
    nearest = np.nanmin(np.hypot(latitude - lat1, (longitude - lon1) * np.cos(np.radians(lat1))))
    assert nearest < 0.00045
    assert abs(lat2 - lat1) < 0.001
    assert abs(lon2 - lon1) < 0.001


def test_vbo_units_section_shorter_warned():
    session = parse_path(corpus_file(VBOX))
    assert any("28 units for 49 channels" in w for w in session.warnings)


def test_vbo_detected_by_content():
    for rel in (VBOX, RACEBOX):
        data = corpus_file(rel).read_bytes()
        assert detect(data, "log.csv").FORMAT == "vbo"
        assert parse(data, "log.txt").format == "vbo"


def _small_vbo(rows: list[str], header: str = "File created on 31/12/2020 @ 23:59\r\n") -> bytes:
    text = (
        header
        + "\r\n[header]\r\nsatellites\r\ntime\r\nlatitude\r\nlongitude\r\nvelocity kmh\r\n\r\n"
        + "[comments]\r\nGenerated by Test\r\n\r\n"
        + "[column names]\r\nsats time lat long velocity\r\n\r\n[data]\r\n"
        + "".join(r + "\r\n" for r in rows)
    )
    return text.encode("cp1252")


def test_vbo_midnight_rollover():
    data = _small_vbo([
        "010 235959.80 +03000.00000 +00060.00000 010.000",
        "010 235959.90 +03000.00000 +00060.00000 011.000",
        "010 000000.00 +03000.00000 +00060.00000 012.000",
        "010 000000.10 +03000.00000 +00060.00000 013.000",
    ])
    session = parse(data, "midnight.vbo")
    assert session.elapsed_s == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert session.metadata.start_time == dt.datetime(2020, 12, 31, 23, 59, 59, 800000, tzinfo=dt.UTC)
    assert session.channel("latitude").values[0] == pytest.approx(50.0)
    assert session.channel("longitude").values[0] == pytest.approx(-1.0)


def test_vbo_cut_last_row_dropped():
    data = _small_vbo([
        "010 120000.00 +03000.00000 +00060.00000 010.000",
        "010 120000.10 +03000.00000 +00060.00000 011.000",
        "010 120000.20 +0300",
    ])
    session = parse(data, "cut.vbo")
    assert session.sample_count == 2
    assert session.quality["rows_dropped"] == {"truncated last row": 1}


def test_vbo_short_row_rejected():
    data = _small_vbo([
        "010 120000.00 +03000.00000 +00060.00000 010.000",
        "010 120000.10 +03000.00000",
        "010 120000.20 +03000.00000 +00060.00000 012.000",
    ])
    with pytest.raises(ParseError) as info:
        parse(data, "short.vbo")
    assert info.value.line == 18
    assert "5 space-separated values" in str(info.value)


def test_vbo_text_value_rejected():
    data = _small_vbo([
        "010 120000.00 +03000.00000 +00060.00000 010.000",
        "010 120000.10 +03000.00000 +00060.00000 fast",
    ])
    with pytest.raises(ParseError) as info:
        parse(data, "text.vbo")
    assert info.value.line == 18
    assert info.value.field == "velocity"


def test_vbo_damaged_copies():
    for rel in (VBOX, RACEBOX):
        check_damaged(corpus_file(rel).read_bytes(), rel.rsplit("/", 1)[1])


def test_vbo_names_from_header_only():
    text = (
        "File created on 05/06/2021 @ 09:00:00\r\n\r\n[header]\r\nsatellites\r\ntime\r\nlatitude\r\n"
        "longitude\r\nvelocity kmh\r\nLong accel g\r\n\r\n[data]\r\n"
        "008 090000.00 +03000.00000 -00060.00000 036.000 +0.50\r\n"
        "008 090000.10 +03000.00000 -00060.00000 037.000 +0.25\r\n"
    )
    session = parse(text.encode(), "noheadernames.vbo")
    assert [ch.source_name for ch in session.channels] == ["satellites", "latitude", "longitude", "velocity",
                                                          "Long_accel"]
    assert session.channel("speed").source_unit == "km/h"
    assert session.channel("longitudinal_accel").values[1] == pytest.approx(0.25)
    # -60 minutes of longitude is 1 degree east.
    assert session.channel("longitude").values[0] == pytest.approx(1.0)


def test_vbo_units_one_per_channel():
    text = (
        "File created on 05/06/2021 @ 09:00:00\r\n\r\n[header]\r\ntime\r\nOilTemp\r\nSpeedCAN\r\n\r\n"
        "[channel units]\r\ns\r\n°F\r\nmph\r\n\r\n"
        "[column names]\r\ntime OilTemp SpeedCAN\r\n\r\n[data]\r\n"
        "090000.00 212.0 10.0\r\n090000.10 213.8 11.0\r\n"
    )
    session = parse(text.encode("cp1252"), "units.vbo")
    units = {ch.source_name: ch.source_unit for ch in session.channels}
    assert units == {"OilTemp": "°F", "SpeedCAN": "mph"}
    assert session.warnings == []


def test_vbo_laptiming_longitude_first():
    # The same start line written longitude first: the order nearer the recorded positions wins.
    text = (
        "File created on 05/06/2021 @ 09:00:00\r\n\r\n[header]\r\ntime\r\nlatitude\r\nlongitude\r\n\r\n"
        "[laptiming]\r\nStart  +00060.00000 +03000.00000 +00060.00060 +03000.00060 \u00ac Start / Finish\r\n\r\n"
        "[column names]\r\ntime lat long\r\n\r\n[data]\r\n"
        "090000.00 +03000.00100 +00060.00100\r\n090000.10 +03000.00200 +00060.00200\r\n"
    )
    session = parse(text.encode("cp1252"), "lonfirst.vbo")
    (lat1, lon1), (lat2, lon2) = session.metadata.extra["start_line"]
    assert lat1 == pytest.approx(50.0)
    assert lon1 == pytest.approx(-1.0)
    assert lat2 == pytest.approx(3000.0006 / 60)
    assert lon2 == pytest.approx(-60.0006 / 60)
    assert session.metadata.extra["start_line_name"] == "Start / Finish"
