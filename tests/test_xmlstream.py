"""The two XML readers of loaders.formats.xmlstream agree: libxml2 (the fast path) gives the records, lines and
header expat gives, past line 65,535 too, with comments and processing instructions inside records."""
from __future__ import annotations

from pathlib import Path

from benchmarks.generate_gleif import generate_gleif_lei
from corpgraph.loaders.formats.xmlstream import XmlRecord, _expat_records, _lxml_records, iter_records

RECORDS = frozenset({"LEIRecord", "RelationshipRecord", "Exception"})
HEADER = frozenset({"ContentDate"})


def test_both_readers_give_the_same_records_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "lei.xml"
    generate_gleif_lei(path, 2_000, 7)  # about 38 lines a record: 2,000 records run past line 65,535
    text = path.read_text()
    text = text.replace("<lei:Entity>", "<lei:Entity><!-- a comment --><?pi data?>", 3)
    path.write_text(text)
    fast = list(_lxml_records(path, RECORDS, HEADER))
    assert len(fast) == 2_000 and all(isinstance(r, XmlRecord) for r in fast)
    assert fast[-1].line > 65_535  # the last record lies past libxml2's own line limit
    assert fast == list(_expat_records(path, RECORDS, HEADER))
    # The record's start tag is on the line given.
    lines = text.splitlines()
    assert all("LEIRecord" in lines[r.line - 1] for r in fast)


def test_a_broken_file_gives_the_records_before_the_break_once_then_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "lei.xml"
    generate_gleif_lei(path, 30, 7)
    lines = path.read_text().splitlines(keepends=True)
    starts = [n for n, line in enumerate(lines, start=1) if "<lei:LEIRecord " in line]
    broken = starts[20]  # the 21st record's start tag: 20 records come before the break
    lines[broken - 1] = lines[broken - 1].replace("<lei:LEIRecord", "<lei:LEIRecord <", 1)
    path.write_text("".join(lines))
    got = list(iter_records(path, RECORDS, HEADER))
    assert [r.line for r in got[:-1]] == starts[:20]  # each record before the break exactly once
    problem = got[-1]
    assert not isinstance(problem, XmlRecord) and problem.line == broken
    assert problem.reason.startswith("not well-formed XML: ")  # expat's message, as before
