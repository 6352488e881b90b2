"""Text helpers shared by the delimited-text readers: encodings, separators, header rows."""

from __future__ import annotations

import codecs
import csv


def to_utf8(data: bytes) -> tuple[bytes, str]:
    """Return ``data`` as UTF-8-compatible bytes without a byte-order mark, and the encoding seen.

    UTF-16 (with a byte-order mark, or recognised by NUL bytes in every other position of the first
    bytes) is transcoded to UTF-8, and a last odd byte or an unpaired surrogate, as in a file cut
    short, becomes U+FFFD. UTF-8 and single-byte text are returned unchanged but for the byte-order
    mark, because numbers and separators are ASCII in both. ``decode_text`` decodes names and
    metadata later. Binary data is returned unchanged.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):], "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE):
        return _utf16_to_utf8(data[2:], "utf-16-le"), "utf-16"
    if data.startswith(codecs.BOM_UTF16_BE):
        return _utf16_to_utf8(data[2:], "utf-16-be"), "utf-16"
    encoding = _utf16_without_bom(data[:512])
    if encoding:
        return _utf16_to_utf8(data, encoding), encoding
    return data, "utf-8"


def _utf16_to_utf8(data: bytes, encoding: str) -> bytes:
    if len(data) % 2:
        data = data[:-1]
    return data.decode(encoding, errors="replace").encode("utf-8")


def _utf16_without_bom(head: bytes) -> str | None:
    """Return "utf-16-le" or "utf-16-be" when ``head`` looks like ASCII text in UTF-16."""
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.6 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.6 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def looks_like_text(head: bytes) -> bool:
    """Return True when ``head`` (already passed through ``to_utf8``) reads as text, not binary.

    Text here means no NUL byte and at most 2 % control characters other than tab, CR, LF and
    form feed. Bytes of 0x80 and above count as text, because single-byte code pages use them.
    """
    if not head or b"\x00" in head:
        return False
    control = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13))
    return control <= 0.02 * len(head)


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
    """Split one delimited line, honouring double quotes, and strip each field.

    With the space separator a run of spaces is one separator, as in column-aligned files.
    """
    if separator == " ":
        fields = next(csv.reader([line.strip()], delimiter=" ", quotechar='"', skipinitialspace=True), [])
    else:
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


def unique_names(names: list[str]) -> list[str]:
    """Give repeated or empty channel names a numbered suffix (``Speed #2``) so that each is unique.

    An empty name becomes ``Channel N`` after its 1-based column position.
    """
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        base = name or f"Channel {i + 1}"
        if base in seen:
            seen[base] += 1
            out.append(f"{base} #{seen[base]}")
        else:
            seen[base] = 1
            out.append(base)
    return out


def quote_short(text: str, limit: int = 60) -> str:
    """Return ``text`` quoted for an error message, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
