"""docs/channels.md lists every canonical channel, alias, unit spelling and conversion of the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from common import channels

DOC = Path(__file__).resolve().parent.parent / "docs" / "channels.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def missing(doc: str, names) -> list[str]:
    """Return the names that the page does not show as inline code."""
    return [n for n in names if f"`{n}`" not in doc]


def test_doc_lists_canonical_channels(doc):
    assert missing(doc, [c.name for c in channels.CANONICAL]) == []


def test_doc_lists_aliases(doc):
    aliases = [a for c in channels.CANONICAL for a in c.aliases]
    assert missing(doc, aliases) == []


def test_doc_lists_unit_spellings(doc):
    assert missing(doc, [s for s in channels.UNIT_SYNONYMS if s]) == []


def test_doc_lists_conversions(doc):
    rows = [f"| {source} | {target} | {scale:.10g} | {offset:.10g} |"
            for (source, target), (scale, offset) in channels.UNIT_CONVERSIONS.items()]
    assert [r for r in rows if r not in doc] == []


def test_doc_states_ranges(doc):
    for c in channels.CANONICAL:
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{c.name}` | {c.unit} |")), None)
        assert row is not None, c.name
        assert f"| {c.sql_type} | {c.kind} |" in row, c.name
        assert f"| {c.tolerance:g} | {c.default_unit} |" in row, c.name
