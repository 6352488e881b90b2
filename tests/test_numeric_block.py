"""Numeric block reader: parallel parts, locale detection and the paths it falls back to."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import ParseError
from common.formats import numeric
from common.formats.numeric import detect_decimal, parse_number, read_numeric_block


@pytest.fixture()
def small_parts(monkeypatch):
    """Cut even small blocks into parallel parts."""
    monkeypatch.setattr(numeric, "_PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(numeric.os, "cpu_count", lambda: 4)


def block(rows: int, blank_every: int = 0) -> tuple[bytes, np.ndarray]:
    lines, expected = [], []
    for i in range(rows):
        lines.append(f'"{i * 0.05:.2f}","{i % 300}.5"')
        expected.append((round(i * 0.05, 2), i % 300 + 0.5))
        if blank_every and i % blank_every == 0:
            lines.append("")
    return ("\n".join(lines) + "\n").encode(), np.array(expected)


def test_parallel_parts_match_expected(small_parts):
    data, expected = block(1000)
    columns, rows = read_numeric_block(data, 0, 1, ["t", "v"], ",", "x.csv")
    assert rows == 1000
    assert columns[0].tolist() == expected[:, 0].tolist()
    assert columns[1].tolist() == expected[:, 1].tolist()


def test_parallel_parts_blank_lines(small_parts):
    data, expected = block(1000, blank_every=7)
    columns, rows = read_numeric_block(data, 0, 1, ["t", "v"], ",", "x.csv")
    assert rows == 1000
    assert columns[0].tolist() == expected[:, 0].tolist()
    assert columns[1].tolist() == expected[:, 1].tolist()


def test_quoted_line_break_in_text(small_parts):
    data = b'0.0,"pit\nlane",1\n' + b"".join(f'{i}.0,"track",{i}\n'.encode() for i in range(1, 400))
    columns, rows = read_numeric_block(data, 0, 1, ["t", "where", "v"], ",", "x.csv",
                                       text_columns={"where"})
    assert rows == 400
    assert columns[1][0] == "pit\nlane"
    assert columns[2].tolist() == [1] + list(range(1, 400))


def test_split_block_cuts_after_line_feeds(small_parts):
    data, _ = block(100)
    parts = numeric._split_block(data, 0, len(data))
    assert len(parts) == 4
    assert all(data[hi - 1:hi] == b"\n" for _lo, hi, _rows in parts)
    # 100 line feeds, plus a possible last line without one.
    assert sum(rows for _lo, _hi, rows in parts) == 101


def test_truncated_row_counted():
    stats: dict[str, int] = {}
    columns, rows = read_numeric_block(b"1,2,3\n4,5,6\n7,8", 0, 1, ["a", "b", "c"], ",", "x.csv",
                                       stats=stats)
    assert rows == 2
    assert stats == {"truncated last row": 1}
    assert columns[2].tolist() == [3.0, 6.0]


def test_missing_tokens_are_nan():
    columns, _rows = read_numeric_block(b"1,-\n2,N/A\n3,null\n4,7\n", 0, 1, ["a", "b"], ",", "x.csv")
    assert np.isnan(columns[1][:3]).all()
    assert columns[1][3] == 7.0


def test_wrong_field_count_located():
    with pytest.raises(ParseError) as error:
        read_numeric_block(b"1,2\n3,4,5,6\n7,8\n", 0, 10, ["a", "b"], ",", "x.csv")
    assert "line 11" in str(error.value)
    assert "expected 2 fields" in str(error.value)


@pytest.mark.parametrize("rows, separator, expected", [
    ([["7.125,5", "98,25"]], ";", (",", ".")),
    ([["7,125.5", "98.25"]], ",", (".", ",")),
    ([["0,050", "12,5"]], ";", (",", None)),
    ([["1 234,5"]], ";", (",", " ")),
    ([["1'234.5"]], ",", (".", "'")),
    ([["1,234"]], ";", (",", None)),
    ([["1,234"]], ",", (".", ",")),
    ([["0", "12"]], ",", (".", None)),
])
def test_detect_decimal(rows, separator, expected):
    assert detect_decimal(rows, separator) == expected


@pytest.mark.parametrize("text, decimal, thousands, expected", [
    ("7.125,5", ",", ".", 7125.5),
    ("-1,234.5", ".", ",", -1234.5),
    ("1e-3", ".", None, 0.001),
    ('"12,5"', ",", None, 12.5),
])
def test_parse_number(text, decimal, thousands, expected):
    assert parse_number(text, decimal, thousands) == expected


@pytest.mark.parametrize("text, decimal, thousands", [
    ("1.2.3", ",", "."),
    ("12,5", ".", None),
    ("7.125", ",", None),
    ("fast", ".", None),
])
def test_parse_number_rejects(text, decimal, thousands):
    with pytest.raises(ValueError):
        parse_number(text, decimal, thousands)
