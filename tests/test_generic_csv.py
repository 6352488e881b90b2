"""Generic delimited reader and iRacing CSV reader: layouts, encodings, time columns, rejections."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import DATA

from common.errors import ParseError
from common.formats import detect, generic_csv, iracing_csv, motec_csv, parse, parse_bytes
from common.formats.delimited import split_name_unit


def speed(session) -> list[float]:
    return session.channel("speed").values.tolist()


@pytest.mark.parametrize("title, expected", [
    ("Speed (Km/h)", ("Speed", "Km/h")),
    ("Speed [m/s]", ("Speed", "m/s")),
    ("speed_Mph", ("speed", "Mph")),
    ("Oil Temp {°C}", ("Oil Temp", "°C")),
    ("Damper FL (mm)", ("Damper FL", "mm")),
    ("Brake (calculated)", ("Brake (calculated)", "")),
    ("lap_dist_pct", ("lap_dist_pct", "")),
    ("engine_rpm", ("engine_rpm", "")),
    ("Engine RPM", ("Engine RPM", "")),
])
def test_split_name_unit(title, expected):
    assert split_name_unit(title) == expected


def test_units_in_titles_converted():
    data = b"Time (ms);Speed [mph];Throttle_pct\n0;10.0;50\n100;20.0;75\n200;30.0;100\n"
    session = parse(data, "log.csv")
    assert session.elapsed_s.tolist() == pytest.approx([0.0, 0.1, 0.2])
    assert speed(session) == pytest.approx([16.09344, 32.18688, 48.28032])
    assert session.channel("throttle").values.tolist() == [0.5, 0.75, 1.0]


def test_utf16_tab_separated():
    text = "Time\tSpeed\tGear\r\n0.0\t10.5\t1\r\n0.1\t11.0\t1\r\n0.2\t11.5\t2\r\n"
    session = parse(text.encode("utf-16"), "log.txt")
    assert session.format == "generic_csv"
    assert speed(session) == [10.5, 11.0, 11.5]
    assert session.metadata.extra["encoding"] == "utf-16"


def test_cp1252_preamble_metadata():
    text = "Driver: Jörg Müller\nTrack: Nürburgring\nTime,Speed\n0.0,1.0\n0.5,2.0\n1.0,3.0\n"
    session = parse(text.encode("cp1252"), "log.csv")
    assert session.metadata.driver == "Jörg Müller"
    assert session.metadata.track == "Nürburgring"


def test_space_aligned_columns():
    data = b"  time    speed   rpm\n   0.0     10.0  1000\n   0.5     12.5  1100\n   1.0     15.0  1200\n"
    session = parse(data, "log.dat")
    assert speed(session) == [10.0, 12.5, 15.0]
    assert session.channel("engine_rpm").values.tolist() == [1000.0, 1100.0, 1200.0]


def test_headerless_first_increasing_column_is_time():
    data = b"0.00,55.0,3\n0.05,55.5,3\n0.10,56.0,3\n0.15,56.5,4\n"
    parsed = parse_bytes(data, "numbers.csv")
    assert parsed.time.tolist() == [0.0, 0.05, 0.10, 0.15]
    assert [ch.name for ch in parsed.channels] == ["Channel 2", "Channel 3"]


def test_headerless_stated_rate():
    data = b"Sample rate: 10 Hz\n5.0,3\n5.5,3\n6.0,4\n5.0,4\n"
    parsed = parse_bytes(data, "numbers.csv")
    assert parsed.metadata.sample_rate_hz == 10.0
    assert parsed.time.tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert any("sample rate" in w for w in parsed.warnings)


def test_unix_time_start():
    data = b"timestamp,speed\n1700000000.000,10\n1700000000.500,11\n1700000001.000,12\n"
    session = parse(data, "log.csv")
    assert session.elapsed_s.tolist() == [0.0, 0.5, 1.0]
    assert session.metadata.start_time == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


def test_unix_milliseconds_start():
    data = b"timestamp,speed\n1700000000000,10\n1700000000250,11\n1700000000500,12\n"
    session = parse(data, "log.csv")
    assert session.elapsed_s.tolist() == [0.0, 0.25, 0.5]
    assert session.metadata.start_time.year == 2023


def test_clock_time_column():
    data = b"Time,Speed\n23:59:59.50,10\n23:59:59.75,11\n00:00:00.00,12\n"
    session = parse(data, "log.csv")
    assert session.elapsed_s.tolist() == [0.0, 0.25, 0.5]
    assert session.metadata.start_time is None


def test_iso_time_column_with_zone():
    data = (b"datetime;speed\n2024-03-09T14:05:10.0+01:00;10\n2024-03-09T14:05:10.5+01:00;11\n"
            b"2024-03-09T14:05:11.0+01:00;12\n")
    session = parse(data, "log.csv")
    assert session.elapsed_s.tolist() == [0.0, 0.5, 1.0]
    assert session.metadata.start_time == dt.datetime(2024, 3, 9, 13, 5, 10, tzinfo=dt.UTC)


def test_ambiguous_date_not_guessed():
    data = b"Time,Speed\n03/04/2024 10:00:00,10\n03/04/2024 10:00:01,11\n03/04/2024 10:00:02,12\n"
    session = parse(data, "log.csv")
    assert session.elapsed_s.tolist() == [0.0, 1.0, 2.0]
    assert session.metadata.start_time is None
    assert session.metadata.start_time_ambiguous is True


def test_comment_lines_dropped_and_counted():
    data = b"# logger v2\nTime,Speed\n0.0,10\n# lap 1: 1:32.100\n0.1,11\n0.2,12\n"
    session = parse(data, "log.csv")
    assert speed(session) == [10.0, 11.0, 12.0]
    assert session.quality["rows_dropped"]["comment line"] == 1


def test_truncated_last_row_dropped():
    data = b"Time,Speed,Gear\n0.0,10,1\n0.1,11,1\n0.2,1"
    session = parse(data, "log.csv")
    assert speed(session) == [10.0, 11.0]
    assert session.quality["rows_dropped"]["truncated last row"] == 1


def test_text_column_left_out_with_warning():
    data = b"Time,Flag,Speed\n0.0,green,10\n0.1,green,11\n0.2,yellow,12\n"
    session = parse(data, "log.csv")
    assert [ch.source_name for ch in session.channels] == ["Speed"]
    assert any("'Flag'" in w for w in session.warnings)


def test_thousands_after_sampled_rows():
    rows = [f"{i // 10},{i % 10};{500 + i:d},5" for i in range(200)] + ["20,0;1.234,5"]
    data = ("Time;RPM\n" + "\n".join(rows) + "\n").encode()
    session = parse(data, "log.csv")
    rpm = session.channel("engine_rpm").values
    assert rpm[0] == 500.5
    assert rpm[-1] == 1234.5


def test_decimal_comma_after_integer_rows():
    rows = [f"{i};{i * 2}" for i in range(300)] + ["300;600,5"]
    data = ("Time;Sensor\n" + "\n".join(rows) + "\n").encode()
    sensor = parse(data, "log.csv").channel("Sensor").values
    assert sensor[-1] == 600.5
    assert sensor[1] == 2.0


def test_invalid_number_names_line_and_field():
    data = b"Time,Speed\n0.0,10\n0.1,fast\n0.2,12\n"
    with pytest.raises(ParseError) as error:
        generic_csv.read(data, "bad.csv")
    message = str(error.value)
    assert "bad.csv" in message
    assert "line 3" in message
    assert "'Speed'" in message
    assert "'fast'" in message


@pytest.mark.parametrize("data, found", [
    (b"", "0 bytes"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG image"),
    (bytes(range(256)) * 8, "binary data"),
    (b"Dear team,\nthe car felt loose in turn 3 and we lost 2 tenths.\nRegards\n", "text starting"),
    (b'{"laps": [1, 2, 3],\n "best": 92.1}\n', "found JSON text"),
    (b'\xef\xbb\xbf{"subsession_id": 1, "cust_id": 2}', "iRacing race results JSON"),
])
def test_non_telemetry_rejected(data, found):
    with pytest.raises(ParseError) as error:
        parse(data, "upload.csv")
    assert "upload.csv" in str(error.value)
    assert found in str(error.value)


@pytest.mark.parametrize("data, found", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG image"),
    (b"Dear team,\nthe car felt loose in turn 3.\n", "no rows of numbers"),
    (b'{"laps": [1, 2, 3],\n "best": 92.1}\n', "JSON"),
])
def test_generic_read_rejects(data, found):
    with pytest.raises(ParseError) as error:
        generic_csv.read(data, "upload.csv")
    assert "upload.csv" in str(error.value)
    assert found in str(error.value)


def test_sniff_motec_wins():
    data = (DATA / "cases" / "motec_preamble.csv").read_bytes()
    assert 0 < generic_csv.sniff(data, "x.csv") < motec_csv.sniff(data, "x.csv")
    assert detect(data, "x.csv") is motec_csv


def test_sniff_iracing_wins():
    data = (DATA / "cases" / "iracing_si_units.csv").read_bytes()
    assert 0 < generic_csv.sniff(data, "x.csv") < iracing_csv.sniff(data, "x.csv")
    assert detect(data, "x.csv") is iracing_csv


def test_sniff_generic_ignores_plain_speed_names():
    data = b"Time,Speed,Throttle,Brake\n0,1,0,0\n1,2,0,0\n2,3,0,0\n"
    assert iracing_csv.sniff(data, "x.csv") == 0.0
    assert detect(data, "x.csv") is generic_csv


def test_iracing_without_units_row():
    data = (b"SessionTime,Speed,RPM,Clutch,LatAccel,LapDistPct\n"
            b"100.0,10.0,3000,1.0,9.80665,0.10\n100.5,20.0,4000,0.25,0.0,0.11\n")
    session = parse(data, "ir.csv")
    assert session.format == "iracing_csv"
    assert speed(session) == [36.0, 72.0]
    assert session.channel("engine_rpm").values.tolist() == [3000.0, 4000.0]
    # Clutch engagement 1.0 is a released pedal; 0.25 engagement is the pedal 75 % down.
    assert session.channel("clutch").values.tolist() == [0.0, 0.75]
    assert session.channel("lap_distance_pct").values.tolist() == [0.10, 0.11]


def test_iracing_percent_scaled_by_exporter():
    data = b"SessionTime,LapDistPct,Throttle\ns,%,%\n1.0,0.5,20\n1.1,0.6,80\n"
    parsed = iracing_csv.read(data, "ir.csv")
    units = {ch.name: ch.unit for ch in parsed.channels}
    assert units["Throttle"] == "%"
    assert units["LapDistPct"] == "fraction"
    assert any("'Throttle'" in w for w in parsed.warnings)


def test_generic_values_are_float64():
    session = parse(b"t,speed\n0,1\n1,2\n2,3\n", "x.csv")
    assert session.channel("speed").values.dtype == np.float64


def test_text_column_not_taken_for_sources():
    data = b"Time,Flag,Speed\n0.0,green,10\n0.1,yellow,\n0.2,green,12\n"
    parsed = parse_bytes(data, "log.csv")
    speed_channel = next(ch for ch in parsed.channels if ch.name == "Speed")
    assert speed_channel.times is None
    assert np.isnan(speed_channel.values[1])


def test_unnamed_source_column_found():
    data = b"Time,Kind,Speed,Lat\n0.0,a,10,\n0.1,b,,51.5\n0.2,a,12,\n0.3,b,,51.6\n"
    parsed = parse_bytes(data, "log.csv")
    groups = {ch.name: ch.group for ch in parsed.channels}
    assert groups == {"Speed": "a", "Lat": "b"}
