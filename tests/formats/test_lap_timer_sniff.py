"""The lap-timer readers claim their own corpus files and no other corpus file."""

from __future__ import annotations

import pytest
from conftest import CORPUS

from common.formats import SNIFF_BYTES, readers

OWN_FOLDER = {"racechrono": "racechrono", "aim_csv": "aim_csv", "vbo": "vbox_vbo", "trackaddict": "trackaddict"}


@pytest.mark.parametrize("fmt", sorted(OWN_FOLDER))
def test_sniff_only_own_corpus_files(fmt):
    if not CORPUS.exists():
        pytest.skip(f"corpus not found under {CORPUS}")
    reader = next(r for r in readers() if r.FORMAT == fmt)
    files = sorted(p for p in CORPUS.glob("*/*") if p.suffix.lower() != ".md")
    for path in files:
        score = reader.sniff(path.read_bytes()[:SNIFF_BYTES], "renamed.dat")
        if path.parent.name == OWN_FOLDER[fmt]:
            assert score == 1.0, path.name
        else:
            assert score == 0.0, path.name
