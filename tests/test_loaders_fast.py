"""Native JSON Lines are validated whole in pydantic-core (loaders.validate._whole) and, when anything is wrong
with a line, read again in Python: both paths give equal records, and the fast one refuses every line the
Python one refuses, so problems are reported exactly as before."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.generate import generate
from corpgraph.loaders.formats import get_format
from corpgraph.loaders.formats.native import FORMAT as NATIVE
from corpgraph.loaders.readers import parse_line
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import _validate_one, _whole, validate_stream
from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem


def slow(line: bytes) -> object:
    """The record the Python path makes of a line (json.loads, then the model), or None with problems."""
    problems: list[Problem] = []
    data = parse_line("f", 2, line, problems)
    return None if data is None else _validate_one(Origin("f", 2), data, problems)


def test_every_line_of_a_world_and_the_seed_gives_the_same_record(tmp_path: Path) -> None:
    world = tmp_path / "world.jsonl"
    generate(world, 300)  # companies, people, owns with dates and null shares, incidents, every relation type
    lines = world.read_bytes().splitlines(keepends=True) + seed_path().read_bytes().splitlines(keepends=True)
    kinds = set()
    for line in lines:
        fast = _whole(line)
        assert fast is not None and fast == slow(line), line
        kinds.add(type(fast).__name__)
    assert {"Company", "Person", "Incident", "Owns", "ResponsibleFor", "DependsOn", "SuppliedDataTo"} <= kinds


OWNS = '{"type":"OWNS","source":"a","target":"b","share":%s}'
COMPANY = '{"type":"Company","id":"a","name":%s}'


@pytest.mark.parametrize("line", [
    COMPANY % '"A\tB"', COMPANY % "'A'", COMPANY % '"A",', COMPANY % '"A" /* c */', COMPANY % '"A\\x41"',
    COMPANY % '"A\\ud800"', '\ufeff' + COMPANY % '"A"', COMPANY % '"A"' + " x", "[1, 2]", "", "   ",
    '{"id":"a","name":"A"}', '{"type":"Nothing","id":"a"}', '{"type":"Company","id":"a","name":"A","x":1}',
    OWNS % "01", OWNS % ".5", OWNS % "1e400", OWNS % "NaN", OWNS % "Infinity", OWNS % "7", OWNS % '"150%"',
    OWNS % "1" + "1" * 5000, '{"type":"OWNS","source":"a","target":"a","share":0.5}',
    '{"type":"OWNS","source":"a","target":"b","valid_from":"20190630"}',
    '{"type":"OWNS","source":"a","target":"b","valid_from":"2019-02-30"}',
])
def test_a_line_the_python_path_refuses_is_refused_by_the_fast_one(line: str) -> None:
    raw = line.encode("utf-8") + b"\n"
    assert slow(raw) is None
    assert _whole(raw) is None


def test_a_refused_file_has_the_same_problems_on_both_paths(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    records = [{"type": "Company", "id": "a", "name": "A"}, {"type": "OWNS", "source": "a", "target": "b", "share": 7},
               {"type": "Company", "id": "b"}, {"type": "Company", "id": "c", "name": "C", "country": "XX"}]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n{oops\n\n")
    lines = NATIVE.lines(path)
    assert lines is not None
    fast, read = validate_stream(str(path), lines), validate_stream(str(path), get_format("native").read(path))
    assert [str(p) for p in fast.problems] == [str(p) for p in read.problems]
    # Lines 2 (share 7), 3 (no name), 4 (country XX) and 5 (not JSON): four problems, on those lines.
    assert [p.line for p in fast.problems] == [2, 3, 4, 5]
    assert [r.id for r, _ in fast.entities] == [r.id for r, _ in read.entities] == ["a"]
    assert fast.failed_ids == read.failed_ids == {"b", "c"}
