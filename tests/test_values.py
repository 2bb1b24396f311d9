"""Values that can be stored can be read back: NaN and Infinity refused everywhere, sizes capped, with file:line: field."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corpgraph.loaders.validate import load_file, validate_records
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.values import MAX_ITEMS, MAX_LABEL, MAX_NAME, MAX_TEXT
from tests.factory import company, entity, owns, rel

FINITE = "NaN and Infinity are not allowed: write a finite number"
SHARE = "NaN and Infinity are not shares: write a fraction 0..1 or a percent string"
INCIDENT = {"category": "outage"}


def problems_of(*records: dict[str, Any]) -> list[str]:
    """The rendered problems of raw records validated as the loader does."""
    _, problems = validate_records("in.jsonl", list(enumerate(records, start=1)))
    return [str(p) for p in problems]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_refused_in_every_float_field(bad: float) -> None:
    found = problems_of(
        company("a", figures=[{"label": "users", "value": bad}]),
        entity("Incident", "i", **INCIDENT, duration_hours=bad, amounts=[{"value": bad, "currency": "CNY"}]),
        company("b", confidence=bad),
        owns("a", "b", bad),
        owns("a", "b", 0.5, share_min=bad, valid_from="2020-01-01"),
        rel("SUPPLIED_DATA_TO", "a", "b", revenue={"value": bad, "currency": "CNY"}),
    )
    assert found == [
        f"in.jsonl:1: figures.0.value: {FINITE}",
        f"in.jsonl:2: duration_hours: {FINITE}",
        f"in.jsonl:2: amounts.0.value: {FINITE}",
        f"in.jsonl:3: confidence: {FINITE}",
        f"in.jsonl:4: share: {SHARE}",
        f"in.jsonl:5: share_min: {SHARE}",
        f"in.jsonl:6: revenue.value: {FINITE}",
    ]


def test_json_nan_and_infinity_literals_are_refused_with_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "nan.jsonl"
    path.write_text(
        '{"type": "Company", "id": "a", "name": "A", "figures": [{"label": "x", "value": NaN}]}\n'
        '{"type": "Company", "id": "b", "name": "B"}\n'
        '{"type": "OWNS", "source": "a", "target": "b", "share": Infinity}\n'
        '{"type": "Incident", "id": "i", "name": "I", "category": "outage", "duration_hours": -Infinity}\n'
        '{"type": "Incident", "id": "j", "name": "J", "category": "outage", "duration_hours": 1e999}\n')
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:1: figures.0.value: {FINITE}", f"{path}:3: share: {SHARE}",
        f"{path}:4: duration_hours: {FINITE}", f"{path}:5: duration_hours: {FINITE}"]


def test_csv_nan_and_infinity_cells_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    path.write_text('type,id,name,category,duration_hours,source,target,share,figures\n'
                    'Incident,i,I,outage,inf,,,,\n'
                    'OWNS,,,,,a,b,nan,\n'
                    'Company,c,C,,,,,,"[{""label"": ""x"", ""value"": NaN}]"\n')
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:2: duration_hours: {FINITE}", f"{path}:3: share: {SHARE}", f"{path}:4: figures.0.value: {FINITE}"]


def test_string_and_list_limits_are_exact() -> None:
    at_limit = company("a", "n" * MAX_NAME, aliases=["x" * MAX_LABEL] * MAX_ITEMS, description="d" * MAX_TEXT)
    assert problems_of(at_limit) == []
    over = company("b", "n" * (MAX_NAME + 1), aliases=["x" * (MAX_LABEL + 1)], description="d" * (MAX_TEXT + 1))
    assert problems_of(over, company("c", aliases=["y"] * (MAX_ITEMS + 1))) == [
        "in.jsonl:1: name: String should have at most 1000 characters",
        "in.jsonl:1: aliases.0: String should have at most 1000 characters",
        "in.jsonl:1: description: String should have at most 65536 characters",
        "in.jsonl:2: aliases: List should have at most 200 items after validation, not 201",
    ]


def test_counts_must_fit_64_bits() -> None:
    # 2**63 - 1 = 9223372036854775807 is the largest count both stores keep as an integer.
    assert problems_of(entity("Incident", "i", **INCIDENT, records_affected=2**63 - 1)) == []
    assert problems_of(entity("Incident", "i", **INCIDENT, records_affected=2**63)) == [
        "in.jsonl:1: records_affected: Input should be less than or equal to 9223372036854775807"]


def test_limits_hold_for_nested_lists_and_identifiers() -> None:
    many = {f"k{i}": "v" for i in range(MAX_ITEMS + 1)}
    sources = [{"publisher": "p", "title": "t"}] * (MAX_ITEMS + 1)
    found = problems_of(company("a", identifiers=many, sources=sources))
    assert found == ["in.jsonl:1: sources: List should have at most 200 items after validation, not 201",
                     "in.jsonl:1: identifiers: List should have at most 200 items after validation, not 201"]
    assert json.dumps(found)  # plain strings, nothing else
