"""Every failure of the command line ends in a message a user can act on and a non-zero exit, never a traceback."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from corpgraph.api.cli import app
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import company


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded database named by CORPGRAPH_DB."""
    path = tmp_path / "cli.db"
    monkeypatch.setenv("CORPGRAPH_DB", str(path))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    return path


def run(*args: str) -> Result:
    """Invoke the CLI; a clean failure ends in SystemExit (typer.Exit), anything else would be a traceback."""
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def load_fails(path: Path, *expected: str) -> Result:
    """`corpgraph load path` exits 1 with every expected `file:line: field: reason` text on stderr."""
    result = run("load", str(path))
    assert result.exit_code == 1, result.output
    for text in expected:
        assert text in result.stderr, result.stderr
    assert "records written" not in result.stdout  # no "total 0" table above the problems of a failed load
    return result


def test_json_nested_10000_deep(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps(company("a")) + "\n" + "[" * 10_000 + "]" * 10_000 + "\n")
    load_fails(path, f"{path}:2: (line): not valid JSON here: nested too deeply")
    path.write_text('{"type": "Company", "id": "a", "name": ' + "[" * 10_000 + "]" * 10_000 + "}\n")
    load_fails(path, f"{path}:1: (line): not valid JSON here: nested too deeply")


def test_json_document_nested_10000_deep(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" + json.dumps(company("a")) + ", " + "[" * 10_000 + "]" * 10_000 + "]")
    result = run("load", "--format", "native", str(path))
    assert result.exit_code == 1
    assert "nested too deeply" in result.stderr


def test_json_integer_of_more_than_4300_digits(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text('{"type": "Incident", "id": "i", "name": "I", "category": "outage", "records_affected": '
                    + "9" * 5000 + "}\n")
    load_fails(path, f"{path}:1: (line): a number has 5,000 digits; numbers may have at most 4,300")


def test_csv_count_beyond_64_bits_names_its_field(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text("id,name,category,records_affected\ni,I,outage," + "9" * 5000 + "\n")
    load_fails(path, f"{path}:2: records_affected: ")


def test_csv_with_bytes_that_are_not_utf8(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_bytes(b"id,name\na,A\nb,\xff\xfeB\n")
    load_fails(path, f"{path}:3: (line): not UTF-8 at byte 3 of the line")


def test_csv_cell_over_131072_characters(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_text("id,name,description\na,A,ok\nb,B," + "x" * 140_000 + "\n")
    load_fails(path, f"{path}:3: (row): a cell is longer than 131,072 characters")


def test_csv_duplicate_header_is_an_error(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_text("id,name,name\na,First,Second\n")
    load_fails(path, f"{path}:1: name: the header names this field twice (columns 2 and 3)")


@pytest.mark.parametrize("text", [
    "id;name;country;aliases\nx;Xavier SA;FR;\"X SA;Xav\"\n",  # Excel's own in many locales; a quoted ;-list
    "id\tname\tcountry\taliases\nx\tXavier SA\tFR\tX SA;Xav\n",
    "id,name,country,aliases\nx,Xavier SA,FR,X SA;Xav\n",
])
def test_csv_delimiter_is_told_from_the_header(db: Path, tmp_path: Path, text: str) -> None:
    path = tmp_path / "companies.csv"
    path.write_text(text)
    assert run("load", str(path)).exit_code == 0
    store = SqliteStore(db)
    stored = store.get_entities(["x"])["x"]
    store.close()
    assert (stored.name, stored.country, stored.aliases) == ("Xavier SA", "FR", ["X SA", "Xav"])  # type: ignore[attr-defined]


def test_csv_with_another_delimiter_names_it(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_text("id|name\nx|X\n")
    load_fails(path, f"{path}:1: id|name: the header field holds '|': read as comma-separated; corpgraph reads CSV "
                     "separated by a comma, a semicolon or a tab")


@pytest.mark.parametrize("file_name,type_name", [
    ("person.csv", "Person"), ("people.csv", "Person"), ("People.csv", "Person"), ("persons.csv", "Person"),
    ("company.csv", "Company"), ("companies.csv", "Company"), ("COMPANIES.csv", "Company"),
])
def test_csv_file_names_singular_plural_any_case(db: Path, tmp_path: Path, file_name: str, type_name: str) -> None:
    path = tmp_path / file_name
    path.write_text("id,name\nx,X\n")
    assert run("load", str(path)).exit_code == 0
    store = SqliteStore(db)
    assert store.entity_types(["x"])["x"].value == type_name
    store.close()


@pytest.mark.parametrize("file_name", ["owns.csv", "OWNS.csv", "ownership.csv", "Ownerships.csv"])
def test_csv_ownership_file_names(db: Path, tmp_path: Path, file_name: str) -> None:
    (tmp_path / "companies.csv").write_text("id,name\na,A\nb,B\n")
    assert run("load", str(tmp_path / "companies.csv")).exit_code == 0
    path = tmp_path / file_name
    path.write_text("source,target,share\na,b,40%\n")
    assert run("load", str(path)).exit_code == 0
    store = SqliteStore(db)
    assert store.counts() == {"Company": 2, "OWNS": 1}
    store.close()


def test_csv_file_name_that_names_no_type_lists_the_accepted_names(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "folks.csv"
    path.write_text("id,name\nx,X\n")
    result = load_fails(path, f"{path}:1: type: 'folks.csv' does not name a record type and there is no type column")
    for accepted in ("person.csv", "people.csv", "owns.csv", "ownership.csv", "companies.csv"):
        assert accepted in result.stderr


def test_json_syntax_error_column_counts_characters(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    # By hand: `{"type":"Company",` is 18 characters, `"id":"n",` 9 (27), `"name":` 7 (34), `"라카라"` 5 (39),
    # a space (40): the stray x is character 41 (byte 47, as the Korean letters take 3 bytes each).
    path.write_text('{"type":"Company","id":"n","name":"라카라" x}\n', encoding="utf-8")
    load_fails(path, f"{path}:1: (line): not valid JSON: Expecting ',' delimiter at column 41")


def test_jsonl_with_a_byte_order_mark_loads(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(company("a")).encode() + b"\n")
    result = run("load", str(path))
    assert result.exit_code == 0, result.output


def test_db_folder_that_cannot_be_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CORPGRAPH_DB", str(blocker / "sub" / "corpgraph.db"))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    result = run("load", "--seed")
    assert result.exit_code == 2
    assert f"cannot create the folder {blocker / 'sub'} of the embedded store" in result.stderr
    assert "set CORPGRAPH_DB" in result.stderr


def test_locked_store_waits_then_says_so(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SqliteStore(db).close()
    monkeypatch.setenv("CORPGRAPH_BUSY_TIMEOUT", "0.3")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        started = time.monotonic()
        result = run("load", "--seed")
        waited = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 2
    assert "the store is locked by another writer" in result.stderr
    assert "rollback" not in result.stderr
    assert waited >= 0.3  # it waited for the busy writer before giving up


def test_search_without_a_match_says_so(db: Path) -> None:
    assert run("load", "--seed").exit_code == 0
    result = run("search", "zzz-no-such-name")
    assert result.exit_code == 1
    assert "no entity has a name or alias matching 'zzz-no-such-name'" in result.stderr
    assert run("search", "lakala").stdout.split()[:3] == ["Company", "lakala", "Lakala"]


def test_unknown_store_kind(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_STORE", "mongo")
    result = run("summary")
    assert result.exit_code == 2
    assert "unknown store 'mongo'" in result.stderr
