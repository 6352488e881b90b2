"""Format detection and the registry of format readers.

Each reader module defines ``FORMAT`` (a short id), ``sniff(head, name) -> float`` (a score from
0 to 1 from the first bytes and the file name) and ``read(data, name, sidecars) -> ParsedLog``.
Detection is by content first; the file name only breaks ties.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType

from ..errors import ParseError
from ..model import ParsedLog, Session
from ..normalize import normalize

logger = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024

# Reader modules in order of precedence; the generic delimited reader comes last.
_READER_MODULES = (
    "motec_csv",
    "motec_ld",
    "ibt",
    "gpx",
    "nmea",
    "racechrono",
    "aim_csv",
    "vbo",
    "trackaddict",
    "iracing_csv",
    "generic_csv",
)

_readers: list[ModuleType] | None = None


def readers() -> list[ModuleType]:
    """Return the reader modules, imported on first use."""
    global _readers
    if _readers is None:
        _readers = [importlib.import_module(f"{__name__}.{m}") for m in _READER_MODULES]
    return _readers


def detect(data: bytes, name: str) -> ModuleType:
    """Return the reader for ``data``; raise ``ParseError`` when no reader accepts it."""
    if not data:
        raise ParseError(name, "empty file", expected="a telemetry log", found="0 bytes")
    head = data[:SNIFF_BYTES]
    best, best_score = None, 0.0
    for reader in readers():
        score = reader.sniff(head, name)
        if score > best_score:
            best, best_score = reader, score
    if best is None or best_score < 0.3:
        raise ParseError(name, "not a telemetry format this tool reads",
                         expected="one of: " + ", ".join(r.FORMAT for r in readers()),
                         found=_describe(head))
    return best


def parse_bytes(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Detect the format of ``data`` and read it, without normalizing."""
    reader = detect(data, name)
    return reader.read(data, name, sidecars or {})


def parse(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> Session:
    """Detect, read and normalize one file."""
    return normalize(parse_bytes(data, name, sidecars))


def parse_path(path: str | Path) -> Session:
    """Read a file from disk, with any sidecar file beside it, and normalize it."""
    path = Path(path)
    sidecars = {}
    for sibling in (path.with_suffix(".ldx"), path.with_suffix(".LDX")):
        if sibling != path and sibling.exists():
            sidecars[sibling.name] = sibling.read_bytes()
    return parse(path.read_bytes(), path.name, sidecars)


def _describe(head: bytes) -> str:
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head[:4] in (b"PK\x03\x04",):
        return "a ZIP archive"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:512])
    if printable < 0.9 * min(len(head), 512):
        return "binary data"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        if b"subsession_id" in head or b"cust_id" in head:
            return ("iRacing race results JSON, which is not telemetry: store it with "
                    "'simtel results ingest' or upload it under results/")
        return "JSON text"
    first = head.split(b"\n", 1)[0][:60].decode("utf-8", errors="replace")
    return f"text starting {first!r}"
