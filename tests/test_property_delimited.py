"""Property: values written to a delimited file in any common layout, locale and encoding read back.

Hypothesis writes MoTeC-style exports and generic delimited files with random preambles,
separators, decimal and thousands marks, encodings, line ends and units. After ``parse`` (read and
normalize), each channel converted back to the unit it was written in must equal the numbers
written, within the precision they were written with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.channels import BY_NAME, UNIT_CONVERSIONS, normalize_unit
from common.formats import parse

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (decimal mark, thousands mark or None) pairs as locales write them.
LOCALES = [
    (".", None), (".", ","), (".", "'"), (".", " "),
    (",", None), (",", "."), (",", " "), (",", "\u00a0"),
]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]
SPEED_UNITS = {"km/h": 300.0, "mph": 186.0, "m/s": 83.0}
DRIVERS = ["Jörg Müller", "Zoë Ødegård", "Ana", "Łukasz"]  # the last is not in cp1252
TRACKS = ["Nürburgring", "Brands Hatch", "Autódromo Hermanos Rodríguez"]
EPOCH_S = 1_700_000_000


@dataclass
class Column:
    """One written channel: its title parts, the unit written and the numbers as written."""

    name: str
    unit: str
    canonical: str | None
    values: list[float]
    decimals: int
    title: str = ""


@dataclass
class Written:
    data: bytes
    name: str
    columns: list[Column]
    times_s: list[float]
    driver: str | None = None
    track: str | None = None
    rate_hz: float | None = None
    beacons_s: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def format_number(value: float, decimals: int, decimal: str, thousands: str | None) -> str:
    """Write ``value`` as a locale would: fixed decimals, grouped thousands."""
    text = f"{abs(value):,.{decimals}f}" if thousands else f"{abs(value):.{decimals}f}"
    text = text.replace(",", "\x00").replace(".", decimal)
    text = text.replace("\x00", thousands or "")
    return ("-" if value < 0 and float(f"{value:.{decimals}f}") != 0 else "") + text


def rounded(values: list[float], decimals: int) -> list[float]:
    return [float(f"{v:.{decimals}f}") for v in values]


@st.composite
def channel_columns(draw, rows: int, style: str) -> list[Column]:
    """Speed, throttle, engine speed, gear and one channel the table does not know."""
    speed_unit = draw(st.sampled_from(sorted(SPEED_UNITS)))
    top = SPEED_UNITS[speed_unit]
    floats = st.floats(0.0, top, allow_nan=False)
    speed = rounded(draw(st.lists(floats, min_size=rows, max_size=rows)), 2)

    throttle_unit = draw(st.sampled_from(["%", "fraction", "ratio", "0-1"]))
    scale = 100.0 if throttle_unit == "%" else 1.0
    decimals = 1 if throttle_unit == "%" else 3
    throttle = rounded([v * scale for v in draw(st.lists(st.floats(0.0, 1.0), min_size=rows,
                                                         max_size=rows))], decimals)

    rpm = rounded(draw(st.lists(st.floats(500.0, 15000.0), min_size=rows, max_size=rows)), 1)
    gear = [float(g) for g in draw(st.lists(st.integers(1, 6), min_size=rows, max_size=rows))]
    sensor = rounded(draw(st.lists(st.floats(-5000.0, 5000.0), min_size=rows, max_size=rows)), 2)
    return [
        Column("Ground Speed" if style == "motec" else "Speed", speed_unit, "speed", speed, 2),
        Column("Throttle Pos" if style == "motec" else "Throttle", throttle_unit, "throttle", throttle,
               decimals),
        Column("Engine RPM", "rpm", "engine_rpm", rpm, 1),
        Column("Gear", "", "gear", gear, 0),
        Column("Damper Sensor", "mm", None, sensor, 2),
    ]


def quote(text: str, always: bool, separator: str, marks: str) -> str:
    if always or not text or separator in text or any(m in text for m in marks) or " " in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def encode(text: str, encoding: str, newline: str) -> bytes:
    return text.replace("\n", newline).encode(encoding)


@st.composite
def motec_files(draw) -> Written:
    rows = draw(st.integers(2, 25))
    rate = draw(st.sampled_from([10.0, 20.0, 50.0, 60.0, 100.0, 1000.0]))
    separator = draw(st.sampled_from([",", ";", "\t"]))
    decimal, thousands = draw(st.sampled_from(LOCALES))
    encoding = draw(st.sampled_from(ENCODINGS))
    driver = draw(st.sampled_from(DRIVERS if encoding != "cp1252" else DRIVERS[:3]))
    track = draw(st.sampled_from(TRACKS))
    columns = draw(channel_columns(rows, "motec"))
    times = [round(i / rate, 3) for i in range(rows)]

    def q(text: str) -> str:
        return '"' + text + '"'

    def num(value: float, decimals: int) -> str:
        return q(format_number(value, decimals, decimal, thousands))

    sep = separator
    meta_rows = [
        [q("Venue"), q(track), "", "", q("Worksheet"), q("")],
        [q("Vehicle"), q("Test Car"), "", "", q("Vehicle Desc"), q("")],
        [q("Driver"), q(driver)],
        [q("Device"), q("ADL")],
        [q("Comment"), q(draw(st.sampled_from(["", "Überholt", "wet; cold", 'say "hi"'])).replace('"', '""'))],
        [q("Log Date"), q("2024-03-09"), "", "", q("Origin Time"), num(0.0, 3), q("s")],
        [q("Log Time"), q("2:05:10 PM")],
        [q("Sample Rate"), num(rate, 3), q("Hz"), "", q("Duration"), num(times[-1], 3), q("s")],
    ]
    chosen = draw(st.permutations(meta_rows))
    lines = [sep.join([q("Format"), q("MoTeC CSV File"), "", "", q("Workbook"), q("")])]
    lines += [sep.join(r) for r in chosen]
    beacons = [] if thousands in (" ", "\u00a0") else draw(st.sampled_from([[], [12.5], [12.5, 1234.567]]))
    marker_text = " ".join(format_number(b, 3, decimal, thousands) for b in beacons)
    lines += [sep.join([q("Beacon Markers"), q(marker_text)]), "", ""]
    lines.append(sep.join(q(n) for n in ["Time"] + [c.name for c in columns]))
    lines.append(sep.join(q(u) for u in ["s"] + [c.unit for c in columns]))
    lines += ["", ""]
    for i in range(rows):
        fields = [num(times[i], 3)] + [num(c.values[i], c.decimals) for c in columns]
        lines.append(sep.join(fields))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    data = encode("\n".join(lines) + "\n", encoding, newline)
    return Written(data, "export.csv", columns, times, driver=driver, track=track, rate_hz=rate,
                   beacons_s=beacons, notes=[f"sep={sep!r} locale={decimal!r}/{thousands!r} encoding={encoding}"])


TITLE_STYLES = ("units row", "parentheses", "brackets", "suffix")
_SUFFIX = {"km/h": "kmh", "mph": "mph", "m/s": None, "%": "pct", "fraction": "ratio", "ratio": "ratio",
           "0-1": None, "rpm": None, "mm": None, "": None}


@st.composite
def generic_files(draw) -> Written:
    rows = draw(st.integers(2, 25))
    rate = draw(st.sampled_from([10.0, 20.0, 25.0, 50.0]))
    separator = draw(st.sampled_from([",", ";", "\t", " "]))
    decimal, thousands = draw(st.sampled_from(
        [loc for loc in LOCALES if not (separator == " " and loc[1] in (" ", "\u00a0"))]))
    encoding = draw(st.sampled_from(ENCODINGS))
    style = draw(st.sampled_from(TITLE_STYLES))
    time_kind = draw(st.sampled_from(["seconds", "milliseconds", "unix"]))
    columns = draw(channel_columns(rows, "generic"))
    driver = draw(st.sampled_from(DRIVERS if encoding != "cp1252" else DRIVERS[:3]))
    times = [round(i / rate, 3) for i in range(rows)]

    marks = decimal + (thousands or "")
    always = draw(st.booleans())

    def field_text(text: str) -> str:
        return quote(text, always, separator, marks)

    if time_kind == "seconds":
        time_col = Column("Time", "s", None, times, 3)
    elif time_kind == "milliseconds":
        time_col = Column("Time", "ms", None, [t * 1000.0 for t in times], 0)
    else:
        time_col = Column("Timestamp", "", None, [EPOCH_S + t for t in times], 3)

    def title(c: Column) -> str:
        if not c.unit or style == "units row":
            return c.name
        if style == "parentheses":
            return f"{c.name} ({c.unit})"
        if style == "brackets":
            return f"{c.name} [{c.unit}]"
        suffix = _SUFFIX.get(c.unit)
        return f"{c.name.replace(' ', '_')}_{suffix}" if suffix else f"{c.name} ({c.unit})"

    all_columns = [time_col] + columns
    track = draw(st.sampled_from(TRACKS))
    track_line = f"Track{separator}{field_text(track)}"
    preamble_pool = [
        "# exported by LapLogger 3",
        f"Driver: {driver}",
        track_line,
        "Session: Practice 2",
        "# Date: 2024-03-09",
        "",
    ]
    preamble = draw(st.lists(st.sampled_from(preamble_pool), max_size=5))
    lines = list(preamble)
    lines.append(separator.join(field_text(title(c)) for c in all_columns))
    if style == "units row":
        lines.append(separator.join(field_text(c.unit) for c in all_columns))
    for i in range(rows):
        lines.append(separator.join(
            field_text(format_number(c.values[i], c.decimals, decimal, thousands)) for c in all_columns))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    data = encode("\n".join(lines) + "\n", encoding, newline)
    written_driver = driver if f"Driver: {driver}" in preamble else None
    written_track = track if track_line in preamble else None
    return Written(data, "log.txt", columns, times, driver=written_driver, track=written_track,
                   notes=[(f"sep={separator!r} locale={decimal!r}/{thousands!r} encoding={encoding} "
                           f"style={style} time={time_kind}")])


def back_to_written_unit(values: np.ndarray, unit: str, canonical: str) -> np.ndarray:
    """Undo the canonical conversion so the values compare with the numbers written."""
    target = BY_NAME[canonical]
    source = normalize_unit(unit) if unit else target.default_unit
    scale, offset = UNIT_CONVERSIONS[(source, target.unit)]
    return (values - offset) / scale


def check_round_trip(written: Written) -> None:
    written.notes.append(repr(written.data[:400]))
    session = parse(written.data, written.name)
    np.testing.assert_allclose(session.elapsed_s, np.array(written.times_s) - written.times_s[0],
                               rtol=0, atol=2e-6, err_msg=str(written.notes))
    by_key = {(ch.canonical or ch.source_name): ch for ch in session.channels}
    for column in written.columns:
        key = column.canonical or column.name
        assert key in by_key, f"{key} missing from {sorted(by_key)}; {written.notes}"
        channel = by_key[key]
        expected = np.array(column.values)
        if column.canonical is None:
            got = channel.values
        else:
            got = back_to_written_unit(channel.values, column.unit, column.canonical)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9,
                                   err_msg=f"{column.name} {written.notes}")


@SETTINGS
@given(motec_files())
def test_motec_export_round_trip(written):
    check_round_trip(written)
    session = parse(written.data, written.name)
    assert session.format == "motec_csv"
    assert session.metadata.driver == written.driver
    assert session.metadata.track == written.track
    assert session.metadata.sample_rate_hz == written.rate_hz
    assert session.metadata.start_time == dt.datetime(2024, 3, 9, 14, 5, 10)
    assert session.beacons_s == written.beacons_s


@SETTINGS
@given(generic_files())
def test_generic_file_round_trip(written):
    check_round_trip(written)
    session = parse(written.data, written.name)
    assert session.format == "generic_csv"
    if written.driver:
        assert session.metadata.driver == written.driver
    if written.track:
        assert session.metadata.track == written.track
