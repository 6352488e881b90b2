"""Text helpers shared by the delimited-text readers: encodings, separators, header rows."""

from __future__ import annotations

import codecs
import csv

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def to_utf8(data: bytes) -> tuple[bytes, str]:
    """Return ``data`` as UTF-8-compatible bytes without a byte-order mark, and the encoding seen.

    UTF-16 (with a byte-order mark, or detected by NUL bytes in the first line) is transcoded to
    UTF-8. UTF-8 and single-byte text are returned unchanged but for the byte-order mark, because
    numbers and separators are ASCII in both; ``decode_text`` decodes names and metadata later.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):], "utf-8-sig"
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16").encode("utf-8"), "utf-16"
    head = data[:200]
    if len(head) >= 4 and head.count(b"\x00") >= len(head) // 4:
        encoding = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return data.decode(encoding, errors="replace").encode("utf-8"), encoding
    return data, "utf-8"


def decode_text(raw: bytes) -> str:
    """Decode ``raw`` as UTF-8, falling back to cp1252 (then Latin-1) for single-byte files."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def split_row(line: str, separator: str) -> list[str]:
    """Split one delimited line, honouring double quotes, and strip each field."""
    fields = next(csv.reader([line], delimiter=separator, quotechar='"', skipinitialspace=False), [])
    return [f.strip() for f in fields]


def guess_separator(line: str) -> str:
    """Return the most likely field separator of ``line``: ``,`` ``;`` tab, or space."""
    counts = {sep: _count_outside_quotes(line, sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda s: counts[s])
    if counts[best] > 0:
        return best
    return " "


def _count_outside_quotes(line: str, sep: str) -> int:
    count = 0
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            count += 1
    return count


def iter_lines(data: bytes, start: int = 0):
    """Yield ``(line_number, start_offset, end_offset, raw_line)`` for each line of ``data``.

    Line numbers count from 1; ``end_offset`` is just past the line break. Handles LF, CRLF and CR.
    """
    n = len(data)
    pos = start
    number = data.count(b"\n", 0, start) + 1 if start else 1
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = n
        line = data[pos:nl]
        if b"\r" in line:
            cr = line.find(b"\r")
            if cr < len(line) - 1:
                # Old Mac line ends: treat CR alone as a break.
                nl = pos + cr
                line = data[pos:nl]
                yield number, pos, nl + 1, line
                number += 1
                pos = nl + 1
                continue
            line = line[:-1]
        yield number, pos, nl + 1, line
        number += 1
        pos = nl + 1
