"""Damaged copies of the .ld, .ibt, GPX and NMEA corpus files parse or raise ParseError, quickly."""

from __future__ import annotations

import random

import pytest

from conftest import corpus_file
from damaged_copies import check_damaged, parse_or_reject

FILES = [
    "motec_ld/afonso360_Sample1.ld",
    "iracing_ibt/itelem_amg.ibt",
    "gpx/logiqx_GT31_gpx10_speed.gpx",
    "gpx/logiqx_Waterspeed_gpx11_tpx_speed_hr.gpx",
    "gpx/gpxpy_cerknicko-without-times.gpx",
    "nmea/doves_okc_tillotson_kart.nmea",
]

# Byte ranges of each binary file's structure (headers, offset tables), where a changed byte
# changes how the rest is read rather than one sample value. The .ibt copy is cut after 200
# records, which keeps it valid but makes each parse fast.
STRUCTURE = {
    # File header, event, venue and vehicle blocks, then 78 channel headers of 124 bytes.
    "motec_ld/afonso360_Sample1.ld": ((0, 0x6E2), (0x3448, 0x3448 + 78 * 124), None),
    # Main and disk headers, then 267 variable headers of 144 bytes.
    "iracing_ibt/itelem_amg.ibt": ((0, 144), (144, 144 + 267 * 144), 52080 + 200 * 1039),
}


@pytest.mark.parametrize("relative", FILES)
def test_damaged_corpus_copies(relative):
    path = corpus_file(relative)

    check_damaged(path.read_bytes(), path.name)


@pytest.mark.parametrize("relative", sorted(STRUCTURE))
def test_damaged_binary_structure(relative):
    path = corpus_file(relative)
    header, table, keep = STRUCTURE[relative]
    data = path.read_bytes()[:keep]
    rng = random.Random(relative)

    for start, end in (header, table):
        for attempt in range(15):
            buf = bytearray(data)
            for _ in range(4):
                buf[rng.randrange(start, end)] = rng.randrange(256)
            parse_or_reject(bytes(buf), path.name, f"bytes {start}-{end} changed (set {attempt})")
    for cut in (1, 16, 100, header[1] - 1, header[1] + 1, table[1] - 3, table[1] + 7):
        parse_or_reject(data[:cut], path.name, f"cut at byte {cut}")
