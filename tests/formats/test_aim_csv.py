"""AiM Race Studio CSV reader, on the real corpus file and a hand-written quoted export."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from conftest import DATA, corpus_file
from damaged_copies import check_damaged

from common.errors import ParseError
from common.formats import detect, parse, parse_path

CORPUS = "aim_csv/doves_racestudio3_rotax_junior_kart.csv"
QUOTED = DATA / "aim_csv" / "racestudio2_quoted.csv"

# Segment Times exactly as the corpus file writes them (line 13).
CORPUS_SEGMENT_TEXT = "01:02.8,00:54.9,00:53.3,00:53.1,00:52.5,00:52.4,00:52.6,00:53.1,00:54.7,00:46.5"
CORPUS_BEACONS = [62.774, 117.713, 171.05, 224.169, 276.63, 329.063, 381.672, 434.819, 489.525, 535.996]


def _minutes_seconds(text: str) -> float:
    minutes, seconds = text.split(":")
    return int(minutes) * 60 + float(seconds)


# Values checked by hand with `sed -n 'Np'`: line 18 is the first data row (Time 0), line 20 is
# Time 0.1, line 520 is the last row (Time 25.1). The quoted file is tests/data/aim_csv.
CASES = [
    {
        "path": lambda: corpus_file(CORPUS),
        "channels": 17,
        "samples": 503,
        "duration_s": 25.1,
        "metadata": {
            "track": None,
            "car": "Kosmic Rotax Junior",
            "driver": "CS",
            "producer": "AiM Race Studio",
            "sample_rate_hz": 20.0,
            "start_time": dt.datetime(2024, 12, 15, 13, 34),
        },
        "extra": {"session": "F.Corta Var6", "championship": "RMC", "duration_s": 535.996,
                  "format": "AiM CSV File"},
        "values": [
            ("speed", 0.1, 49.0476),
            ("engine_rpm", 0.1, 6113.2002),
            ("latitude", 0.1, 45.51675463),
            ("longitude", 0.1, 10.00523233),
            ("lateral_accel", 25.1, 0.7547),
            ("water_temp", 25.1, 12.3),
            ("GPS Nsat", 25.1, 13.0),
        ],
        "beacons": CORPUS_BEACONS,
        "laps": [(i + 1, _minutes_seconds(t), start)
                 for i, (t, start) in enumerate(zip(CORPUS_SEGMENT_TEXT.split(","),
                                                    [0.0] + CORPUS_BEACONS[:-1]))],
    },
    {
        "path": lambda: QUOTED,
        "channels": 5,
        "samples": 10,
        "duration_s": 0.9,
        "metadata": {
            "track": "Test Circuit",
            "car": "Demo Kart",
            "driver": "A. Tester",
            "device": "AiM data logger",
            "comment": "hand-written quoted export",
            "sample_rate_hz": 10.0,
            "start_time": dt.datetime(2019, 3, 14, 10, 15, 30),
        },
        "extra": {"duration_s": 0.9, "segment": "Session"},
        "values": [
            ("speed", 0.0, 36.0 * 1.609344),        # 36 mph
            ("water_temp", 0.0, 80.0),              # 176 F
            ("lateral_accel", 0.0, 1.0),            # 9.80665 m/s^2
            ("lateral_accel", 0.1, 0.5),
            ("lateral_accel", 0.6, math.nan),       # empty cell
            ("Speed #2", 0.9, 72.4),                # the repeated name keeps its own unit
            ("engine_rpm", 0.9, 9900.0),
        ],
        "beacons": [0.4, 0.9],
        "laps": [(1, 0.4, 0.0), (2, 0.5, 0.4)],
    },
]


def _value_at(session, channel, elapsed_s):
    index = int(np.argmin(np.abs(session.elapsed_s - elapsed_s)))
    return float(session.channel(channel).values[index])


@pytest.mark.parametrize("case", CASES, ids=["racestudio3_corpus", "racestudio2_quoted"])
def test_aim_csv_file(case):
    session = parse_path(case["path"]())
    assert session.format == "aim_csv"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"], abs=1e-6)
    for key, expected in case["metadata"].items():
        assert getattr(session.metadata, key) == expected, key
    for key, expected in case["extra"].items():
        assert session.metadata.extra[key] == expected, key
    for channel, elapsed_s, expected in case["values"]:
        assert _value_at(session, channel, elapsed_s) == pytest.approx(expected, abs=1e-6, nan_ok=True), channel
    assert session.beacons_s == pytest.approx(case["beacons"])
    laps = [(lap.number, lap.lap_time_s, lap.start_s) for lap in session.producer_laps]
    assert laps == [pytest.approx(lap, abs=1e-9) for lap in case["laps"]]


def test_aim_csv_lap_times_equal_file_text():
    session = parse_path(corpus_file(CORPUS))
    written = CORPUS_SEGMENT_TEXT.split(",")
    assert len(session.producer_laps) == len(written)
    for lap, text in zip(session.producer_laps, written):
        assert f"{int(lap.lap_time_s // 60):02d}:{lap.lap_time_s % 60:04.1f}" == text


def test_aim_csv_cut_short_warned():
    session = parse_path(corpus_file(CORPUS))
    assert any("cut short" in w for w in session.warnings)


def test_aim_csv_detected_by_content():
    for path in (corpus_file(CORPUS), QUOTED):
        data = path.read_bytes()
        assert detect(data, "export.vbo").FORMAT == "aim_csv"
        assert parse(data, "export.txt").format == "aim_csv"


def test_aim_csv_bad_segment_time_rejected():
    text = QUOTED.read_bytes().replace(b'"0:00.500"', b'"half a second"')
    with pytest.raises(ParseError, match="Segment Times"):
        parse(text, "bad.csv")


def test_aim_csv_text_in_data_rejected():
    text = QUOTED.read_bytes().replace(b'"9500"', b'"high"')
    with pytest.raises(ParseError) as info:
        parse(text, "bad.csv")
    assert info.value.line == 22
    assert info.value.field == "RPM"


def test_aim_csv_damaged_copies():
    check_damaged(corpus_file(CORPUS).read_bytes(), "aim.csv")
    check_damaged(QUOTED.read_bytes(), "aim_quoted.csv")
