"""NMEA 0183 reader: the real kart log, checksums, damaged lines, midnight rollover, GGA-only logs."""

from __future__ import annotations

import datetime as dt
import math
import shutil

import numpy as np
import pytest

from common.errors import ParseError
from common.formats import parse, parse_bytes, parse_path
from conftest import DATA, corpus_file

UTC = dt.UTC

# Values checked by hand in a text editor against the sentences. First RMC 170130.56:
# 2824.64918 N = 28 + 24.64918 / 60, 08122.75706 W = -(81 + 22.75706 / 60), 0.075 kn = 0.1389 km/h.
# First GGA 170132.16 (1.6 s later): altitude 47.8 m, 4 satellites. Last RMC 171354.12
# (743.56 s): 1.988 kn = 3.681776 km/h, course 91.02. The file contains 13 sentences that break
# off without a checksum where the next sentence starts on the same line, and one fragment that
# ends in a one-digit checksum "*4".
CORPUS = [
    {
        "file": "nmea/doves_okc_tillotson_kart.nmea",
        "channels": 8,
        "samples": 15866,
        "duration_s": 743.56,
        "rows_read": 17411,
        "rows_dropped": {"missing checksum": 13, "bad checksum": 1},
        "start_time": dt.datetime(2025, 11, 23, 17, 1, 30, 560000, tzinfo=UTC),
        "rate_hz": 25.0,
        "values": [
            ("latitude", 0.0, 28 + 24.64918 / 60),
            ("longitude", 0.0, -(81 + 22.75706 / 60)),
            ("speed", 0.0, 0.1389),
            ("altitude", 1.6, 47.8),
            ("satellites", 1.6, 4.0),
            ("speed", 743.56, 3.681776),
            ("heading", 743.56, 91.02),
        ],
    },
]


def _value_at(session, column: str, at_s: float) -> float:
    index = int(np.argmin(np.abs(session.elapsed_s - at_s)))
    assert session.elapsed_s[index] == pytest.approx(at_s, abs=1e-6)
    return float(session.channel(column).values[index])


@pytest.mark.parametrize("case", CORPUS, ids=[c["file"] for c in CORPUS])
def test_nmea_corpus(case):
    session = parse_path(corpus_file(case["file"]))

    assert session.format == "nmea"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"], abs=1e-6)
    assert session.quality["rows_read"] == case["rows_read"]
    assert session.quality["rows_dropped"] == case["rows_dropped"]
    assert session.metadata.start_time == case["start_time"]
    assert session.metadata.sample_rate_hz == case["rate_hz"]
    for column, at_s, expected in case["values"]:
        assert _value_at(session, column, at_s) == pytest.approx(expected), (column, at_s)


def test_nmea_detected_by_content(tmp_path):
    renamed = tmp_path / "gps.bin"
    shutil.copyfile(corpus_file("nmea/doves_okc_tillotson_kart.nmea"), renamed)

    session = parse_path(renamed)

    assert session.format == "nmea"
    assert session.sample_count == 15866


def test_nmea_midnight_rollover():
    session = parse((DATA / "nmea" / "midnight.nmea").read_bytes(), "midnight.log")

    assert session.elapsed_s.tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert session.metadata.start_time == dt.datetime(2024, 12, 31, 23, 59, 59, 600000, tzinfo=UTC)
    assert session.quality["rows_dropped"] == {"other sentence types": 1}


def test_nmea_southern_eastern_hemispheres():
    session = parse((DATA / "nmea" / "midnight.nmea").read_bytes(), "midnight.log")

    assert session.channel("latitude").values[0] == pytest.approx(-(33 + 52.128 / 60))
    assert session.channel("longitude").values[0] == pytest.approx(151 + 12.54 / 60)
    assert session.channel("speed").values[0] == pytest.approx(18.52)
    assert session.channel("heading").values[4] == 48.0


def test_nmea_gga_joined_on_time():
    session = parse((DATA / "nmea" / "midnight.nmea").read_bytes(), "midnight.log")
    altitude = session.channel("altitude").values
    satellites = session.channel("satellites").values

    # GGA at 23:59:59.60 and 00:00:00.00 (0.4 s later, the next day).
    assert altitude[0] == 12.0
    assert altitude[1] == pytest.approx(12.25)
    assert altitude[2] == 12.5
    assert math.isnan(altitude[4])
    assert satellites.tolist() == [9.0, 9.0, 10.0, 10.0, 10.0]
    assert session.channel("satellites").kind == "discrete"


def test_nmea_damaged_sentences_counted():
    parsed = parse_bytes((DATA / "nmea" / "damaged.nmea").read_bytes(), "damaged.nmea")

    assert parsed.time.tolist() == pytest.approx([0.0, 0.2, 0.5])
    assert parsed.rows_read == 7
    assert parsed.rows_dropped == {
        "bad checksum": 1,
        "no fix": 1,
        "not an NMEA sentence": 1,
        "missing checksum": 1,
    }
    assert parsed.channels[1].values[0] == pytest.approx(-(11 + 31 / 60))


def test_nmea_gga_only_unchecked():
    parsed = parse_bytes((DATA / "nmea" / "gga_only.nmea").read_bytes(), "gga.nmea")
    by_name = {ch.name: ch for ch in parsed.channels}

    assert parsed.time.tolist() == [0.0, 1.0, 3.0]
    assert by_name["altitude"].values.tolist() == [35.0, 35.5, 36.5]
    assert by_name["satellites"].values.tolist() == [6.0, 7.0, 7.0]
    assert by_name["fix_quality"].values.tolist() == [1.0, 2.0, 1.0]
    assert "speed" not in by_name
    assert parsed.rows_dropped == {"no fix": 1}
    assert parsed.metadata.start_time is None
    assert any("read unchecked" in w for w in parsed.warnings)
    assert any("start date is unknown" in w for w in parsed.warnings)


def test_nmea_without_fixes_rejected():
    data = b"$GPGSA,A,1,,,,,,,,,,,,,,,*1E\n$GPGSV,1,1,00*79\n"

    with pytest.raises(ParseError, match="no usable RMC or GGA sentence"):
        parse_bytes(data, "nofix.nmea")
