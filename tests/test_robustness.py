"""Every corpus file, cut short or with damaged bytes, parses or raises ParseError quickly.

Each variant goes through ``common.formats.parse`` (detect, read, normalize) with whatever readers
are registered. The only failure allowed is a ``ParseError`` whose message names the file; a file
that no reader accepts is one such ``ParseError``. Each variant must finish within
``MAX_SECONDS_PER_VARIANT`` (10 s, measured with ``time.perf_counter``), a bound generous enough
for a shared 2-core machine, which catches a reader that falls into a row-by-row loop over a
multi-megabyte file or never ends.
"""

from __future__ import annotations

import random
import time

import pytest
from conftest import CORPUS, corpus_file

from common.errors import ParseError
from common.formats import parse

MAX_SECONDS_PER_VARIANT = 10.0

# Corpus files, relative to the corpus folder; empty when the corpus is absent.
FILES = sorted(
    str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*") if p.is_file()
) if CORPUS.exists() else []

# How each variant changes the bytes: (kind, parameter).
VARIANTS = [
    ("cut at fraction", 0.0),
    ("cut at byte", 1),
    ("cut at byte", 64),
    ("cut at byte", 1000),
    ("cut at fraction", 0.1),
    ("cut at fraction", 0.5),
    ("cut at fraction", 0.999),
    ("flip bytes in the first 4 KiB", 1),
    ("flip bytes in the first 4 KiB", 2),
    ("flip bytes anywhere", 3),
    ("zero a 512-byte block in the middle", 0),
    ("insert binary garbage in the middle", 4),
]


def damage(data: bytes, kind: str, parameter: float) -> bytes:
    """Return a damaged copy of ``data``; random choices are seeded by ``parameter``."""
    size = len(data)
    if kind == "cut at fraction":
        return data[:int(size * parameter)]
    if kind == "cut at byte":
        return data[:int(parameter)]
    rng = random.Random(f"{kind}/{parameter}/{size}")
    damaged = bytearray(data)
    if kind == "flip bytes in the first 4 KiB":
        for _ in range(16):
            position = rng.randrange(min(size, 4096))
            damaged[position] ^= 0xFF
    elif kind == "flip bytes anywhere":
        for _ in range(64):
            position = rng.randrange(size)
            damaged[position] = rng.randrange(256)
    elif kind == "zero a 512-byte block in the middle":
        middle = size // 2
        damaged[middle:middle + 512] = bytes(len(damaged[middle:middle + 512]))
    elif kind == "insert binary garbage in the middle":
        position = rng.randrange(size // 3, 2 * size // 3)
        damaged[position:position] = bytes(rng.randrange(256) for _ in range(200))
    else:
        raise ValueError(kind)
    return bytes(damaged)


@pytest.mark.parametrize("kind, parameter", VARIANTS, ids=[f"{k} {p}" for k, p in VARIANTS])
@pytest.mark.parametrize("relative", FILES or ["(corpus absent)"])
def test_damaged_file_parses_or_rejects(relative, kind, parameter):
    path = corpus_file(relative)
    data = damage(path.read_bytes(), kind, parameter)
    started = time.perf_counter()
    try:
        session = parse(data, path.name)
    except ParseError as error:
        message = str(error)
        assert message.strip()
        assert path.name in message
    else:
        assert session.sample_count > 0
    elapsed_s = time.perf_counter() - started
    assert elapsed_s < MAX_SECONDS_PER_VARIANT, f"{relative}, {kind} {parameter}: {elapsed_s:.1f} s"
