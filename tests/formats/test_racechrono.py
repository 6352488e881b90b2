"""RaceChrono Pro CSV v3 reader, on the real corpus file."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import corpus_file
from damaged_copies import check_damaged

from common.formats import detect, parse, parse_path

# Values checked by hand with `sed -n 'Np'` on the file: line 13 is the first data row, line 253
# the first row of lap 6, line 7542 the first row of lap 7, line 3000 a row inside lap 6.
CASES = [
    {
        "file": "racechrono/jlynx_taupo_race2_lap6_official_v3.csv",
        # 28 columns less timestamp and elapsed_time.
        "channels": 26,
        # 7779 data rows, of which 36 repeat the row before them exactly.
        "samples": 7743,
        # elapsed_time 578.023 on line 13 to 692.006 on line 7791.
        "duration_s": 692.006 - 578.023,
        "time_offset_s": 578.023,
        "metadata": {
            "track": "BMW - Taupo",
            "driver": None,
            "session_type": "Lap timing",
            "comment": "Started 2nd finished 2nd",
            "producer": "RaceChrono Pro v9.1.3",
            # timestamp 1676148521.023 on line 13 (date -u -d @1676148521.023).
            "start_time": dt.datetime(2023, 2, 11, 20, 48, 41, 23000, tzinfo=dt.UTC),
        },
        "extra": {"session_title": "Race 2", "format": "3", "partial_laps": [5, 7],
                  "sources": {"100": "gps", "200": "canbus"}},
        # (channel, elapsed time in the session, expected value in canonical units)
        "values": [
            ("speed", 0.0, 20.0 * 3.6),                  # speed (gps) 20.0 m/s on line 13
            ("speed (canbus)", 0.0, 25.2699),            # kept in m/s: not canonical
            ("speed (calc)", 620.295 - 578.023, 31.955),  # line 3000
            ("engine_rpm", 620.295 - 578.023, 6106.875),
            ("throttle", 620.295 - 578.023, 0.0166229),  # accelerator_pos 1.66229 %
            ("brake", 620.295 - 578.023, 1.0),           # brake_pos 100.0 %
            ("water_temp", 620.295 - 578.023, 95.627),   # coolant_temp 95.627 .C
            ("latitude", 0.0, -38.6633811),
            ("longitude", 0.0, 176.1478022),
            ("lap_number", 0.0, 5),
            ("lap_number", 581.69946 - 578.023, 6),
            ("lap_number", 692.006 - 578.023, 7),
        ],
        # lap 6: elapsed_time 581.69946 (line 253) to 688.14695 (line 7542).
        "laps": [(6, 688.14695 - 581.69946, 581.69946)],
    },
]


def _value_at(session, channel, elapsed_s):
    index = int(np.argmin(np.abs(session.elapsed_s - elapsed_s)))
    return float(session.channel(channel).values[index])


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_racechrono_corpus(case):
    session = parse_path(corpus_file(case["file"]))
    assert session.format == "racechrono"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"], abs=1e-6)
    assert session.time_offset_s == pytest.approx(case["time_offset_s"], abs=1e-6)
    for key, expected in case["metadata"].items():
        assert getattr(session.metadata, key) == expected, key
    for key, expected in case["extra"].items():
        assert session.metadata.extra[key] == expected, key
    for channel, elapsed_s, expected in case["values"]:
        assert _value_at(session, channel, elapsed_s) == pytest.approx(expected, abs=1e-6), channel
    laps = [(lap.number, lap.lap_time_s, lap.start_s) for lap in session.producer_laps]
    assert laps == [pytest.approx(lap, abs=1e-6) for lap in case["laps"]]


def test_racechrono_repeated_names_by_source():
    session = parse_path(corpus_file(CASES[0]["file"]))
    speeds = {ch.source_name: ch for ch in session.channels if ch.source_name.startswith("speed")}
    assert sorted(speeds) == ["speed (calc)", "speed (canbus)", "speed (gps)"]
    assert speeds["speed (gps)"].group == "gps"
    assert speeds["speed (canbus)"].group == "canbus"
    assert speeds["speed (gps)"].canonical == "speed"
    assert speeds["speed (gps)"].unit == "km/h"
    assert speeds["speed (canbus)"].unit == "m/s"


def test_racechrono_duplicate_rows_counted():
    session = parse_path(corpus_file(CASES[0]["file"]))
    assert session.quality["rows_read"] == 7779
    assert session.quality["rows_dropped"] == {"duplicate row": 36}


def test_racechrono_detected_by_content():
    data = corpus_file(CASES[0]["file"]).read_bytes()
    assert detect(data, "session.vbo").FORMAT == "racechrono"
    assert parse(data, "session.dat").format == "racechrono"


def test_racechrono_sources_interleaved():
    # GPS rows at 1 Hz and CAN rows at 5 Hz, as RaceChrono writes them when it does not
    # fill empty cells: each channel keeps its own rows and is merged on time.
    text = (
        "This file is created using RaceChrono Pro v9.1.3 ( http://racechrono.com/ ).\n"
        "Format,3\nSession title,\"Test\"\nTrack name,\"Nowhere\"\n\n"
        "timestamp,fragment_id,lap_number,elapsed_time,speed,rpm,speed\n"
        "unix time,,,s,m/s,rpm,m/s\n"
        ",,,,100: gps,200: canbus,200: canbus\n"
        "1700000000.0,0,1,10.0,10.0,,\n"
        "1700000000.2,0,1,10.2,,3000,11.0\n"
        "1700000000.4,0,1,10.4,,3200,11.5\n"
        "1700000001.0,0,1,11.0,20.0,,\n"
        "1700000001.2,0,1,11.2,,4000,21.0\n"
    )
    session = parse(text.encode(), "interleaved.csv")
    assert session.sample_count == 5
    speed = session.channel("speed").values
    assert speed[0] == pytest.approx(36.0)
    # 0.2 s into a 1 s step from 10 to 20 m/s: 12 m/s.
    assert speed[1] == pytest.approx(12.0 * 3.6)
    rpm = session.channel("engine_rpm").values
    assert np.isnan(rpm[0])
    assert rpm[2] == pytest.approx(3200.0)
    # Between 10.4 s (3200) and 11.2 s (4000), at 11.0 s: 3800.
    assert rpm[3] == pytest.approx(3800.0)
    assert session.channel("speed (canbus)").group == "canbus"


def test_racechrono_no_header_rejected():
    from common.errors import ParseError

    text = b"This file is created using RaceChrono Pro v9.1.3\nFormat,3\n"
    with pytest.raises(ParseError, match="no channel-name row"):
        parse(text, "empty.csv")


def test_racechrono_damaged_copies():
    data = corpus_file(CASES[0]["file"]).read_bytes()
    check_damaged(data, "racechrono.csv")


def test_racechrono_timestamp_when_no_elapsed():
    text = (
        "This file is created using RaceChrono Pro v9.1.3 ( http://racechrono.com/ ).\n"
        "Format,3\n\n"
        "timestamp,fragment_id,lap_number,elapsed_time,speed\n"
        "unix time,,,s,km/h\n"
        ",,,,100: gps\n"
        "1700000000.0,0,1,,10.0\n"
        "1700000000.5,0,1,,20.0\n"
    )
    session = parse(text.encode(), "noelapsed.csv")
    assert session.elapsed_s == pytest.approx([0.0, 0.5])
    assert session.time_offset_s == pytest.approx(1700000000.0)
    assert session.metadata.start_time == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
