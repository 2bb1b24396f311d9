"""The import framework: format detection, JSON-pointer problems, every problem in one pass, placeholders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.detect import detect
from corpgraph.loaders.formats import FORMAT_NAMES, Raw, available
from corpgraph.loaders.formats.jsondoc import iter_json_items
from corpgraph.loaders.validate import load_file, validate_stream
from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import InvalidInput, Problem
from tests.factory import company, owns
from tests.test_loaders import write_jsonl


def test_native_json_lines_and_csv_are_detected_from_content(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "data.txt", company("a"))  # no telling suffix: the content decides
    (tmp_path / "OWNS.csv").write_text("source,target,share\na,b,0.5\n")
    assert detect(jsonl).name == "native"
    assert detect(tmp_path / "OWNS.csv").name == "native"


def test_an_undetectable_file_names_the_formats_tried(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some words\n")
    with pytest.raises(InvalidInput) as info:
        detect(path)
    message = str(info.value.problems[0])
    assert message.startswith(f"{path}:0: (file): cannot tell the format")
    for name in available():
        assert name in message
    assert set(available()) <= set(FORMAT_NAMES)


def test_a_problem_in_a_json_document_is_located_by_json_pointer() -> None:
    origin = Origin("fermcat.json", 13, "/12/interests/0", {"share": "/share"})
    assert str(origin.problem("share", "above 100%")) == "fermcat.json:#/12/interests/0/share: share: above 100%"
    assert str(origin.problem("valid_from", "bad")) == "fermcat.json:#/12/interests/0: valid_from: bad"
    assert str(Problem("f.jsonl", 4, "type", "x")) == "f.jsonl:4: type: x"


def test_validation_keeps_pointers_and_orders_problems_by_item() -> None:
    stream: list[Raw | Problem] = [
        (Origin("doc.json", 2, "/1", {"share": "/interests/0/share"}), owns("a", "b", 1.5)),
        Problem("doc.json", 1, "(document)", "broken", "/0"),
    ]
    batch = validate_stream("doc.json", stream)
    rendered = [str(p) for p in batch.problems]
    assert rendered[0] == "doc.json:#/0: (document): broken"
    assert rendered[1].startswith("doc.json:#/1/interests/0/share: share: 1.5 is above 1")


def test_field_errors_and_unknown_ids_come_in_one_pass(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "both.jsonl",
                       company("a"),
                       company("b", country="ZZ"),       # line 2: field error
                       owns("a", "ghost", 0.5),          # line 3: unknown id
                       owns("a", "b", 0.2))              # line 4: b failed validation; not reported again
    with pytest.raises(InvalidInput) as info:
        ingest(tmp_store, load_file(path, strict=False))
    rendered = [str(p) for p in info.value.problems]
    assert len(rendered) == 2
    assert rendered[0].startswith(f"{path}:2: country: ")
    assert rendered[1] == f"{path}:3: target: unknown id 'ghost': load the entity first or in the same file"
    assert tmp_store.counts() == {}


def placeholder(id: str) -> dict[str, object]:
    """A raw placeholder Company, as an importer makes for an open reference."""
    return company(id, name=id, placeholder=True)


def test_placeholders_fill_open_references_and_never_replace_stored_entities(
        tmp_store: SqliteStore, tmp_path: Path) -> None:
    ingest(tmp_store, load_file(write_jsonl(tmp_path / "real.jsonl", company("x:1", "Real One"))))
    first = write_jsonl(tmp_path / "import.jsonl", company("x:2", "Two"), owns("x:1", "x:2", 0.5),
                        owns("x:3", "x:2", 0.5), placeholder("x:1"), placeholder("x:3"))
    summary = ingest(tmp_store, load_file(first))
    assert summary.placeholders == 1                       # x:3 only: x:1 is stored
    stored = tmp_store.get_entities(["x:1", "x:3"])
    assert (stored["x:1"].name, stored["x:1"].placeholder) == ("Real One", False)
    assert (stored["x:3"].name, stored["x:3"].placeholder) == ("x:3", True)
    assert ingest(tmp_store, load_file(first)).placeholders == 0  # loading again changes nothing
    ingest(tmp_store, load_file(write_jsonl(tmp_path / "later.jsonl", company("x:3", "Three"))))
    later = tmp_store.get_entities(["x:3"])["x:3"]
    assert (later.name, later.placeholder) == ("Three", False)   # the real record completes the placeholder
    assert tmp_store.counts() == {"Company": 3, "OWNS": 2}


def test_a_placeholder_beside_its_real_record_in_one_file_is_dropped(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", placeholder("y"), company("y", "Why"), company("z"), owns("y", "z", 1))
    assert ingest(tmp_store, load_file(path)).placeholders == 0
    assert tmp_store.get_entities(["y"])["y"].name == "Why"


def test_json_arrays_stream_items_with_pointers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("corpgraph.loaders.formats.jsondoc.CHUNK", 16)  # items straddle many window reads
    path = tmp_path / "doc.json"
    items = [{"n": i, "text": "é" * i} for i in range(40)] + [123456789]
    path.write_text(json.dumps(items, indent=2, ensure_ascii=False), encoding="utf-8")
    got = []
    for item in iter_json_items(path):
        assert isinstance(item, tuple), item  # a well-formed document: no problem
        got.append(item)
    assert [value for _, value in got] == items
    assert got[12][0] == Origin(str(path), 13, "/12")


def test_a_broken_json_array_is_a_problem_at_its_item(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text('[{"a": 1}, {"a": 2} {"a": 3}]')
    got = list(iter_json_items(path))
    assert got[:2] == [(Origin(str(path), 1, "/0"), {"a": 1}), (Origin(str(path), 2, "/1"), {"a": 2})]
    assert str(got[2]) == f"{path}:#/2: (document): not valid JSON: expected ',' or ']'"


def test_cli_says_the_detected_format_and_converts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "cli.db"))
    path = write_jsonl(tmp_path / "good.jsonl", company("a"), company("b"), owns("a", "b", 0.5))
    result = CliRunner().invoke(app, ["load", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: native (detected from its content)" in result.stderr
    converted = CliRunner().invoke(app, ["convert", "--format", "native", str(path)])
    assert converted.exit_code == 0
    assert [json.loads(line)["type"] for line in converted.stdout.splitlines()] == ["Company", "Company", "OWNS"]
    unknown = CliRunner().invoke(app, ["load", "--format", "klingon", str(path)])
    assert unknown.exit_code == 1
    assert "unknown format 'klingon'; known formats: " in unknown.stderr


def test_cli_summary_and_search_after_an_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "cli.db"))
    path = write_jsonl(tmp_path / "good.jsonl", company("acme", "Acme Holdings"))
    assert CliRunner().invoke(app, ["load", str(path)]).exit_code == 0
    summary = CliRunner().invoke(app, ["summary"])
    assert summary.exit_code == 0 and "Company" in summary.stdout
    found = CliRunner().invoke(app, ["search", "acme"])
    assert found.stdout.split()[:2] == ["Company", "acme"]


def test_a_named_format_that_the_content_contradicts_says_what_the_file_is(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "native.jsonl", company("a"))
    bods = tmp_path / "bods.json"
    bods.write_text(json.dumps([{"statementID": "s1", "statementType": "entityStatement", "name": "A"}]))
    with pytest.raises(InvalidInput) as info:
        load_file(path, format="bods")
    assert [str(p) for p in info.value.problems] == [
        f"{path}:0: (file): not bods: the content is native; load it with --format native, or without --format"]
    with pytest.raises(InvalidInput, match="not native: the content is bods"):
        load_file(bods, format="native")
