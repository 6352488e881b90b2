"""Known classes of format faults, each read from a small file under tests/data/cases.

Each test reads the file the way the pipeline does (detect, read, normalize) and checks the
values that a correct reader produces, in canonical units.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import DATA

from common.formats import parse_bytes, parse_path

CASES = DATA / "cases"


def values(session, column: str) -> list[float]:
    return session.channel(column).values.tolist()


def at_time(session, column: str, t_s: float) -> float:
    index = int(np.flatnonzero(np.isclose(session.elapsed_s, t_s))[0])
    return float(session.channel(column).values[index])


def test_motec_preamble_values():
    session = parse_path(CASES / "motec_preamble.csv")
    assert session.format == "motec_csv"
    assert session.sample_count == 3
    assert [ch.source_name for ch in session.channels] == ["Ground Speed", "Throttle Pos", "Gear"]
    assert values(session, "speed") == [100.0, 101.5, 103.2]
    assert values(session, "throttle") == pytest.approx([0.80, 0.855, 0.90])
    assert values(session, "gear") == [3, 3, 4]


def test_motec_preamble_metadata():
    metadata = parse_path(CASES / "motec_preamble.csv").metadata
    assert metadata.track == "Demo Ring"
    assert metadata.sample_rate_hz == 20.0
    assert metadata.session_type == "P1"
    assert metadata.start_time == dt.datetime(2024, 3, 9, 14, 5, 10)
    assert metadata.start_time_ambiguous is False


def test_decimal_comma_with_thousands():
    session = parse_path(CASES / "decimal_comma_thousands.csv")
    assert session.format == "generic_csv"
    assert session.elapsed_s.tolist() == pytest.approx([0.0, 0.05, 0.10])
    assert values(session, "engine_rpm") == [7125.5, 7310.0, 980.0]
    assert values(session, "speed") == [98.25, 99.5, 101.75]
    for channel in session.channels:
        assert channel.values.dtype == np.float64
        assert not np.isnan(channel.values).any(), channel.source_name


def test_bom_quoted_header_names():
    parsed = parse_bytes((CASES / "bom_quoted_header.csv").read_bytes(), "bom_quoted_header.csv")
    assert parsed.metadata.extra["time column"] == "Time"
    assert [ch.name for ch in parsed.channels] == ["Speed"]
    assert parsed.rows_read == 3
    assert parsed.time.tolist() == [0.0, 0.25, 0.5]


def test_bom_quoted_header_session():
    session = parse_path(CASES / "bom_quoted_header.csv")
    assert session.sample_count == 3
    assert values(session, "speed") == [42.0, 43.5, 45.0]


def test_iracing_si_units():
    session = parse_path(CASES / "iracing_si_units.csv")
    assert session.format == "iracing_csv"
    assert values(session, "speed") == pytest.approx([0.0, 90.0, 180.0])
    assert values(session, "throttle") == [0.0, 0.5, 1.0]
    assert values(session, "brake") == [1.0, 0.0, 0.0]
    assert values(session, "lap_distance_pct") == [0.0, 0.25, 0.5]
    assert values(session, "steering_angle") == pytest.approx([0.0, 90.0, -45.0], abs=1e-5)
    assert values(session, "gear") == [1, 2, 3]


def test_iracing_pedal_units_restated():
    parsed = parse_bytes((CASES / "iracing_si_units.csv").read_bytes(), "iracing_si_units.csv")
    units = {ch.name: ch.unit for ch in parsed.channels}
    assert units["Throttle"] == "fraction"
    assert units["Brake"] == "fraction"
    assert units["LapDistPct"] == "fraction"
    assert units["SteeringWheelAngle"] == "rad"


def test_throttle_sentinel_missing():
    session = parse_path(CASES / "throttle_sentinel.csv")
    throttle = values(session, "throttle")
    assert np.isnan(throttle[0])
    assert np.isnan(throttle[-1])
    assert throttle[1:3] == [0.55, 1.0]
    assert session.quality["values_out_of_range"] == 2
    assert session.quality["channels"]["Throttle"]["out_of_range"] == 2


def test_interleaved_sources_real_time():
    session = parse_path(CASES / "interleaved_irregular.csv")
    assert session.elapsed_s.tolist() == [0.0, 0.1, 0.4, 0.5, 0.6]
    assert at_time(session, "speed", 0.1) == pytest.approx(107.5)
    assert at_time(session, "latitude", 0.1) == pytest.approx(51.5001)


def test_interleaved_source_groups():
    parsed = parse_bytes((CASES / "interleaved_irregular.csv").read_bytes(), "interleaved_irregular.csv")
    groups = {ch.name: ch.group for ch in parsed.channels}
    assert groups == {"Speed": "car", "Latitude": "gps"}
    speed = next(ch for ch in parsed.channels if ch.name == "Speed")
    assert speed.times.tolist() == [0.0, 0.4, 0.5]


def test_interleaved_discrete_held():
    session = parse_path(CASES / "interleaved_discrete.csv")
    assert session.elapsed_s.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert values(session, "gear") == [3, 3, 3, 3, 4]
    assert values(session, "speed") == [100.0, 105.0, 110.0, 112.0, 115.0]


def test_irregular_steps_time_base():
    session = parse_path(CASES / "irregular_steps.csv")
    assert session.elapsed_s.tolist() == [0.0, 0.5, 1.5, 2.0]
    assert session.time_offset_s == 3.0
    assert values(session, "speed") == [36.0, 72.0, 72.0, 36.0]
