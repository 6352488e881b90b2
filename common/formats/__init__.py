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
    return parse(path.read_bytes(), path.name, read_sidecars(path))


# MoTeC .ld logs keep their beacons in a .ldx file of the same name; no other format has sidecars.
LOG_SUFFIXES_WITH_SIDECARS = (".ld",)
SIDECAR_SUFFIXES = (".ldx", ".LDX")


def is_sidecar(name: str) -> bool:
    """Return whether ``name`` is a sidecar file, read with its log rather than on its own."""
    return name.lower().endswith(SIDECAR_SUFFIXES[0])


def sidecar_names(name: str) -> list[str]:
    """Return the names a sidecar of the log ``name`` may have (none for other formats)."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in LOG_SUFFIXES_WITH_SIDECARS:
        return []
    return [stem + s for s in SIDECAR_SUFFIXES]


def log_names(sidecar: str) -> list[str]:
    """Return the names the log of the sidecar ``sidecar`` may have."""
    stem = sidecar.rpartition(".")[0]
    return [stem + s for s in LOG_SUFFIXES_WITH_SIDECARS + tuple(s.upper() for s in LOG_SUFFIXES_WITH_SIDECARS)]


def read_sidecars(path: Path) -> dict[str, bytes]:
    """Read the sidecar file beside a log on disk, by its file name; empty when there is none."""
    for name in sidecar_names(str(path)):
        sibling = Path(name)
        if sibling.exists():
            return {sibling.name: sibling.read_bytes()}
    return {}


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
