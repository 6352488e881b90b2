"""Truncated and corrupted copies of a file, for checking that readers fail cleanly."""

from __future__ import annotations

import random
import time

from common.errors import ParseError
from common.formats import parse

# Seconds one damaged copy may take to parse or be rejected; generous for a shared 2-core machine.
MAX_SECONDS = 10.0


def damaged_copies(data: bytes, seed: int = 7) -> list[tuple[str, bytes]]:
    """Return ``(description, bytes)`` pairs: cuts, flipped bytes, garbage lines, lost lines."""
    rng = random.Random(seed)
    n = len(data)
    copies: list[tuple[str, bytes]] = []
    for fraction in (0.0005, 0.002, 0.01, 0.05, 0.3, 0.77, 0.9995):
        cut = max(1, int(n * fraction))
        copies.append((f"cut at byte {cut}", data[:cut]))
    for k in range(4):
        buf = bytearray(data)
        for _ in range(20):
            buf[rng.randrange(n)] = rng.randrange(256)
        copies.append((f"20 random bytes changed (set {k})", bytes(buf)))
    header_end = min(n, 400)
    buf = bytearray(data)
    for _ in range(10):
        buf[rng.randrange(header_end)] = rng.randrange(256)
    copies.append(("10 bytes of the header changed", bytes(buf)))
    middle = n // 2
    line_start = data.rfind(b"\n", 0, middle) + 1
    copies.append(("text line inserted in the data",
                   data[:line_start] + b"this is not a sample row\n" + data[line_start:]))
    copies.append(("NUL bytes inserted in the data", data[:middle] + b"\x00" * 64 + data[middle:]))
    copies.append(("a quarter of the data removed", data[: n // 3] + data[n // 3 + n // 4:]))
    copies.append(("first 300 bytes removed", data[300:]))
    return copies


def check_damaged(data: bytes, name: str) -> None:
    """Assert that every damaged copy of ``data`` parses or raises ``ParseError``, quickly."""
    for description, damaged in damaged_copies(data):
        parse_or_reject(damaged, name, description)


def parse_or_reject(data: bytes, name: str, description: str) -> None:
    """Assert that ``data`` parses or raises ``ParseError``, within ``MAX_SECONDS``."""
    started = time.perf_counter()
    try:
        parse(data, name)
    except ParseError:
        pass
    except Exception as exc:
        raise AssertionError(f"{name}, {description}: raised {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"{name}, {description}: took {elapsed:.1f} s"
