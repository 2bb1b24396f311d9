"""Loading files: `file:line: field: reason` errors, all-or-nothing, CSV, and the command line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from tests.factory import approx, company, owns, rel


def write_jsonl(path: Path, *records: dict[str, Any] | str) -> Path:
    """A JSON Lines file; str items are written verbatim (for broken lines)."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_problem_of_a_file_is_reported_with_file_line_field(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        company("a"),
        owns("a", "b", 32.4),              # line 2: share above 1
        "{not json",                        # line 3
        {"type": "Planet", "id": "p"},      # line 4
        company("c", country="ZZ"),         # line 5
    )
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    rendered = [str(p) for p in info.value.problems]
    assert rendered[0].startswith(f"{path}:2: share: ")
    assert "above 1" in rendered[0]
    assert rendered[1].startswith(f"{path}:3: (line): not valid JSON")
    assert rendered[2].startswith(f"{path}:4: type: unknown record type 'Planet': use one of Company, ")
    assert rendered[3].startswith(f"{path}:5: country: ")
    assert len(rendered) == 4


def test_unknown_reference_fails_the_whole_file(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "refs.jsonl", company("a"), company("b"), owns("a", "b", 0.5),
                       owns("a", "ghost", 0.1))
    with pytest.raises(InvalidInput) as info:
        ingest(tmp_store, load_file(path))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:4: target: unknown id 'ghost': load the entity first or in the same file"]
    assert tmp_store.counts() == {}


def test_endpoint_of_wrong_kind_is_refused(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "kind.jsonl", company("a"),
                       {"type": "Incident", "id": "i", "name": "I", "category": "outage"},
                       owns("a", "i", 0.5))
    with pytest.raises(InvalidInput) as info:
        ingest(tmp_store, load_file(path))
    assert str(info.value.problems[0]) == f"{path}:3: target: 'i' is a Incident; OWNS target must be Company"


def test_references_may_point_to_entities_already_stored(tmp_store: SqliteStore, tmp_path: Path) -> None:
    ingest(tmp_store, load_file(write_jsonl(tmp_path / "a.jsonl", company("a"), company("b"))))
    ingest(tmp_store, load_file(write_jsonl(tmp_path / "b.jsonl", owns("a", "b", "50%"))))
    assert tmp_store.counts()["OWNS"] == 1


def test_an_entity_cannot_change_type(tmp_store: SqliteStore, tmp_path: Path) -> None:
    ingest(tmp_store, load_file(write_jsonl(tmp_path / "a.jsonl", company("a"))))
    path = write_jsonl(tmp_path / "b.jsonl", {"type": "Person", "id": "a", "name": "A"})
    with pytest.raises(InvalidInput, match="stored as a Company"):
        ingest(tmp_store, load_file(path))


def test_csv_files_one_per_type(tmp_store: SqliteStore, tmp_path: Path) -> None:
    (tmp_path / "companies.csv").write_text(
        "id,name,aliases,country,sources\n"
        'lakala,Lakala,拉卡拉;라카라,CN,"[{""publisher"": ""P"", ""title"": ""T""}]"\n'
        "kaola,Kaola Credit,考拉征信,CN,\n", encoding="utf-8")
    (tmp_path / "OWNS.csv").write_text("source,target,share,valid_from\nlakala,kaola,32.4%,2019-06-30\n")
    for name in ("companies.csv", "OWNS.csv"):
        ingest(tmp_store, load_file(tmp_path / name))
    lakala = tmp_store.get_entities(["lakala"])["lakala"]
    assert lakala.aliases == ["拉卡拉", "라카라"]
    assert lakala.sources[0].publisher == "P"
    (edge,) = [row for page in tmp_store.iter_edges([RelationType.OWNS]) for row in page]
    assert (edge.source, edge.target, edge.share, edge.valid_from) == ("lakala", "kaola", approx(0.324),
                                                                       "2019-06-30")


def test_csv_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "OWNS.csv"
    path.write_text("source,target,share\na,b,0.5\na,c,45\n")
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    assert str(info.value.problems[0]).startswith(f"{path}:3: share: ")


def test_cli_loads_good_files_and_rejects_bad_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "cli.db"))
    good = write_jsonl(tmp_path / "good.jsonl", company("a"), company("b"), owns("a", "b", 0.5))
    bad = write_jsonl(tmp_path / "bad.jsonl", company("c"), rel("DEPENDS_ON", "c", "nobody"))
    result = CliRunner().invoke(app, ["load", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2: target: unknown id 'nobody'" in result.stderr
    store = SqliteStore(tmp_path / "cli.db")
    assert store.counts() == {"Company": 2, "OWNS": 1}  # good file in, nothing of the bad one (not even "c")
    store.close()


def test_cli_seed_load_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "seed.db"))
    runner = CliRunner()
    assert runner.invoke(app, ["load", "--seed"]).exit_code == 0
    store = SqliteStore(tmp_path / "seed.db")
    first = store.counts()
    assert runner.invoke(app, ["load", "--seed"]).exit_code == 0
    assert store.counts() == first
    assert first["Company"] == 6 and first["OWNS"] == 2
    store.close()
