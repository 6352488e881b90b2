"""GPX reader: real GPX 1.0 and 1.1 files, extensions, namespaces, segments, points without time."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest

from common.errors import ParseError
from common.formats import detect, parse, parse_bytes, parse_path
from conftest import DATA, corpus_file

UTC = dt.UTC

# Values checked by hand in a text editor: each "at_s" is the point's <time> minus the first
# point's time, and the expected value is the point's own attribute or element, converted to the
# canonical unit where needed (speed m/s x 3.6).
CORPUS = [
    {
        # GT31 point at 11:00:00Z (2618 s after 10:16:22Z): lat 50.5804176, ele 0.770,
        # course 178.269989, speed 9.12 m/s. The last point is at 12:06:32Z.
        "file": "gpx/logiqx_GT31_gpx10_speed.gpx",
        "channels": 6,
        "samples": 4161,
        "duration_s": 6610.0,
        "rows_read": 4161,
        "rows_dropped": {},
        "start_time": dt.datetime(2022, 4, 11, 10, 16, 22, tzinfo=UTC),
        "producer": "GPSBabel - https://www.gpsbabel.org",
        "values": [
            ("latitude", 2618.0, 50.5804176),
            ("altitude", 2618.0, 0.77),
            ("heading", 2618.0, 178.269989),
            ("speed", 2618.0, 32.832),
            ("speed", 0.0, 0.828),
        ],
    },
    {
        # Waterspeed: second point at 10:28:21.999 (7 s) has hr 87 and speed 0.1688 m/s; the
        # last point at 11:42:15.000 (4440.001 s) has speed 0.0444 m/s, course 103.07, hr 80.
        "file": "gpx/logiqx_Waterspeed_gpx11_tpx_speed_hr.gpx",
        "channels": 7,
        "samples": 3013,
        "duration_s": 4440.001,
        "rows_read": 3013,
        "rows_dropped": {},
        "start_time": dt.datetime(2022, 9, 27, 10, 28, 14, 999000, tzinfo=UTC),
        "producer": None,
        "values": [
            ("heart_rate", 7.0, 87.0),
            ("speed", 7.0, 0.60768),
            ("heart_rate", 4440.001, 80.0),
            ("heading", 4440.001, 103.07),
            ("latitude", 4440.001, 50.1558158766),
        ],
    },
    {
        # Only the last five points of the eighth segment carry a time, 16:22:52Z to 16:23:49Z.
        "file": "gpx/gpxpy_cerknicko-without-times.gpx",
        "channels": 4,
        "samples": 5,
        "duration_s": 57.0,
        "rows_read": 296,
        "rows_dropped": {"missing time": 291},
        "start_time": dt.datetime(2010, 8, 5, 16, 22, 52, tzinfo=UTC),
        "producer": "GPSBabel - http://www.gpsbabel.org",
        "values": [
            ("latitude", 0.0, 45.791314188),
            ("altitude", 0.0, 556.740723),
            ("altitude", 57.0, 562.508545),
            ("segment", 57.0, 7.0),
        ],
    },
]


def _value_at(session, column: str, at_s: float) -> float:
    index = int(np.argmin(np.abs(session.elapsed_s - at_s)))
    assert session.elapsed_s[index] == pytest.approx(at_s, abs=1e-6)
    return float(session.channel(column).values[index])


@pytest.mark.parametrize("case", CORPUS, ids=[c["file"] for c in CORPUS])
def test_gpx_corpus(case):
    session = parse_path(corpus_file(case["file"]))

    assert session.format == "gpx"
    assert len(session.channels) == case["channels"]
    assert session.sample_count == case["samples"]
    assert session.duration_s == pytest.approx(case["duration_s"], abs=1e-6)
    assert session.quality["rows_read"] == case["rows_read"]
    assert session.quality["rows_dropped"] == case["rows_dropped"]
    assert session.metadata.start_time == case["start_time"]
    assert session.metadata.producer == case["producer"]
    for column, at_s, expected in case["values"]:
        assert _value_at(session, column, at_s) == pytest.approx(expected), (column, at_s)


def test_gpx_detected_by_content(tmp_path):
    renamed = tmp_path / "track.bin"
    shutil.copyfile(corpus_file("gpx/logiqx_GT31_gpx10_speed.gpx"), renamed)

    session = parse_path(renamed)

    assert session.format == "gpx"
    assert session.sample_count == 4161


def test_gpx_byte_order_mark():
    data = (DATA / "gpx" / "bom.gpx").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")

    session = parse(data, "bom.gpx")

    assert session.sample_count == 3
    assert session.elapsed_s.tolist() == [0.0, 1.0, 2.0]
    assert session.channel("altitude").values.tolist() == [12.5, 12.7, 12.9]
    assert session.metadata.extra["track_name"] == "BOM test"


def test_gpx_prefixed_namespace():
    session = parse((DATA / "gpx" / "prefixed_namespace.gpx").read_bytes(), "ns.gpx")

    assert session.sample_count == 2
    assert session.channel("heart_rate").values.tolist() == [120.0, 125.0]
    assert session.channel("speed").values.tolist() == pytest.approx([19.8, 21.6])


def test_gpx_segment_gap_kept():
    session = parse((DATA / "gpx" / "segment_gap.gpx").read_bytes(), "gap.gpx")
    segment = session.channel("segment")

    # Four samples and no invented ones in the 30-minute pause.
    assert session.elapsed_s.tolist() == [0.0, 5.0, 1800.0, 1805.0]
    assert segment.values.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert segment.kind == "discrete"
    assert session.channel("longitude").values.tolist() == [20.0, 20.001, 20.1, 20.101]
    assert session.channel("longitude").provenance == "measured"


def test_gpx_extension_variants():
    parsed = parse_bytes((DATA / "gpx" / "mixed_extensions.gpx").read_bytes(), "mixed.gpx")
    by_name = {ch.name: ch for ch in parsed.channels}

    assert parsed.time.tolist() == [0.0, 1.5, 3.0]
    assert by_name["heart_rate"].values.tolist() == [101.0, 102.0, 103.0]
    assert by_name["speed"].unit == "m/s"
    assert np.isnan(by_name["speed"].values[0])
    assert by_name["speed"].values[1] == 4.0
    assert by_name["heading"].values[1] == 90.5
    assert "altitude" not in by_name
    assert parsed.metadata.comment == "extension variants"


def test_gpx_time_offsets_and_drops():
    parsed = parse_bytes((DATA / "gpx" / "mixed_extensions.gpx").read_bytes(), "mixed.gpx")
    plus_two = dt.timezone(dt.timedelta(hours=2))

    assert parsed.metadata.start_time == dt.datetime(2024, 7, 2, 10, 0, 0, tzinfo=plus_two)
    assert parsed.metadata.start_time.utcoffset() == dt.timedelta(hours=2)
    assert parsed.rows_read == 6
    assert parsed.rows_dropped == {"missing time": 1, "invalid position": 1, "invalid time": 1}


def test_gpx_without_any_time_rejected():
    data = (b'<gpx xmlns="http://www.topografix.com/GPX/1/1" version="1.1">'
            b'<trk><trkseg><trkpt lat="1" lon="2"/><trkpt lat="1" lon="3"/></trkseg></trk></gpx>')

    with pytest.raises(ParseError, match="no track point has a usable time"):
        parse_bytes(data, "notime.gpx")


def test_gpx_without_points_rejected():
    data = b'<gpx version="1.1"><wpt lat="1" lon="2"><name>home</name></wpt></gpx>'

    with pytest.raises(ParseError, match="no track points"):
        parse_bytes(data, "waypoints.gpx")


def test_gpx_invalid_xml_names_line():
    data = (DATA / "gpx" / "segment_gap.gpx").read_bytes().replace(b"</trkpt>", b"</trkp>", 1)

    with pytest.raises(ParseError) as info:
        parse_bytes(data, "broken.gpx")

    assert "invalid XML" in str(info.value)
    assert info.value.line == 5


def test_gpx_utf16_read():
    text = (DATA / "gpx" / "segment_gap.gpx").read_text(encoding="utf-8")
    data = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")

    session = parse(data, "wide.gpx")

    assert session.sample_count == 4


def test_gpx_sniff_other_xml():
    data = b'<?xml version="1.0"?>\n<kml><Document/></kml>'

    with pytest.raises(ParseError):
        detect(data, "route.gpx")
