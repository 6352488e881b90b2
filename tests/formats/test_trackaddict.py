"""TrackAddict / RaceRender CSV reader, on the real corpus file."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import corpus_file
from damaged_copies import check_damaged

from common.errors import ParseError
from common.formats import detect, parse, parse_path

CORPUS = "trackaddict/thomasjungblut_STC_log_trackaddict435.csv"

# The lap comment lines exactly as the file writes them (lines 3163, 12146, 14332, 16683, 23917).
LAP_LINES = [
    "# Lap 0: 00:02:35.138",
    "# Lap 1: 00:07:24.553",
    "# Lap 2: 00:01:47.089",
    "# Lap 3: 00:01:56.145",
    "# Lap 4: 00:05:57.906",
]

# Values checked by hand with `sed -n 'Np'`. Lines 2230 and 2231 both have Time 109.274, and the
# second carries the new GPS fix (GPS_Update 1). Line 12147 is the first row of lap 2 (Time
# 599.242) and line 25218 the last row (Time 1245.587).
CASES = [
    {
        "file": CORPUS,
        # 20 columns less Time and UTC Time.
        "channels": 18,
        # 25198 data rows, 18 of them followed by a row with the same time.
        "samples": 25180,
        "duration_s": 1245.587,
        "metadata": {
            "producer": "TrackAddict 4.3.5",
            "device": "samsung SM-N960F",
            # UTC Time 1559734111.000 on the first data row (date -u -d @1559734111).
            "start_time": dt.datetime(2019, 6, 5, 11, 28, 31, tzinfo=dt.UTC),
        },
        "extra": {"platform": "Android 9", "mode": "0", "end_point": [51.99907, 13.6883],
                  "end_point_heading_deg": -1.0, "device_free_space": "92967 MB"},
        "values": [
            ("latitude", 109.274, 51.9974123),
            ("speed", 109.274, 67.0),            # Speed (Km/h)
            ("altitude", 109.274, 92.5),         # Altitude (m)
            ("Altitude (ft)", 109.274, 303.0),   # kept in feet: the metre column is the altitude
            ("GPS_Update", 109.274, 1.0),
            ("lap_number", 599.242, 2.0),
            ("heading", 1245.587, 89.2),
            ("Accel X", 1245.587, -0.74),
            ("Barometric Pressure", 1245.587, 100.42),
        ],
        "laps": [(0, 155.138, 0.0), (1, 444.553, 155.286), (2, 107.089, 599.242),
                 (3, 116.145, 707.28), (4, 357.906, 823.256)],
    },
]


def _value_at(session, channel, elapsed_s):
    index = int(np.argmin(np.abs(session.elapsed_s - elapsed_s)))
    return float(session.channel(channel).values[index])


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_trackaddict_corpus(case):
    session = parse_path(corpus_file(case["file"]))
    assert session.format == "trackaddict"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"], abs=1e-6)
    for key, expected in case["metadata"].items():
        assert getattr(session.metadata, key) == expected, key
    for key, expected in case["extra"].items():
        assert session.metadata.extra[key] == expected, key
    for channel, elapsed_s, expected in case["values"]:
        assert _value_at(session, channel, elapsed_s) == pytest.approx(expected, abs=1e-6), channel
    laps = [(lap.number, lap.lap_time_s, lap.start_s) for lap in session.producer_laps]
    assert laps == [pytest.approx(lap, abs=1e-9) for lap in case["laps"]]


def test_trackaddict_lap_times_equal_file_text():
    session = parse_path(corpus_file(CORPUS))
    assert len(session.producer_laps) == len(LAP_LINES)
    for lap, line in zip(session.producer_laps, LAP_LINES):
        seconds = lap.lap_time_s
        text = f"# Lap {lap.number}: {int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{seconds % 60:06.3f}"
        assert text == line


def test_trackaddict_units_from_names():
    session = parse_path(corpus_file(CORPUS))
    units = {ch.source_name: ch.source_unit for ch in session.channels}
    assert units["Speed"] == "Km/h"
    assert units["Altitude"] == "m"
    assert units["Altitude (ft)"] == "ft"
    assert units["Barometric Pressure"] == "kPa"
    # "calculated" is not a unit, so it stays in the name.
    assert units["Brake (calculated)"] == ""


def test_trackaddict_pit_lane_events():
    session = parse_path(corpus_file(CORPUS))
    events = session.metadata.extra["events"]
    # "# Pit Lane Entry" on line 3165 follows the row with Time 155.286.
    assert events[0] == {"time_s": 155.286, "text": "Pit Lane Entry"}
    assert events[1] == {"time_s": 170.27, "text": "Pit Lane Exit"}
    assert events[-1] == {"time_s": 1245.587, "text": "Session End"}
    assert len(events) == 10


def test_trackaddict_same_time_rows_counted():
    session = parse_path(corpus_file(CORPUS))
    assert session.quality["rows_read"] == 25198
    assert session.quality["rows_dropped"] == {"superseded by a row with the same time": 18}


def test_trackaddict_detected_by_content():
    data = corpus_file(CORPUS).read_bytes()
    assert detect(data, "log.vbo").FORMAT == "trackaddict"
    assert parse(data, "log.txt").format == "trackaddict"


def test_trackaddict_bad_lap_time_rejected():
    text = (
        b"# RaceRender Data: TrackAddict 4.3.5 on Android 9 [phone] (Mode: 0)\n"
        b'"Time","UTC Time","Lap","Speed (Km/h)"\n'
        b"0.000,1559734111.000,0,10.0\n"
        b"# Lap 0: about two minutes\n"
        b"0.100,1559734111.100,1,11.0\n"
    )
    with pytest.raises(ParseError) as info:
        parse(text, "bad.csv")
    assert info.value.line == 4


def test_trackaddict_text_value_rejected():
    text = (
        b'"Time","UTC Time","Lap","Speed (Km/h)"\n'
        b"0.000,1559734111.000,0,10.0\n"
        b"# Pit Lane Entry\n"
        b"0.100,1559734111.100,1,fast\n"
    )
    with pytest.raises(ParseError) as info:
        parse(text, "bad.csv")
    assert info.value.line == 4
    assert info.value.field == "Speed (Km/h)"


def test_trackaddict_damaged_copies():
    check_damaged(corpus_file(CORPUS).read_bytes(), "trackaddict.csv")


def test_trackaddict_source_tag_and_units():
    text = (
        b'"Time","UTC Time","Lap","Engine Speed (RPM) *OBD","Throttle Position (%) *OBD","Battery (V)"\n'
        b"0.000,1559734111.000,0,3000,25.0,13.8\n"
        b"0.100,1559734111.100,0,3100,50.0,13.9\n"
    )
    session = parse(text, "obd.csv")
    rpm = session.channel("engine_rpm")
    assert rpm.source_name == "Engine Speed"
    assert rpm.group == "OBD"
    assert session.channel("throttle").values[1] == pytest.approx(0.5)
    assert session.channel("Battery").source_unit == "V"
