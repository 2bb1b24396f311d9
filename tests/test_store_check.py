"""`corpgraph check` reports unreadable or inconsistent records of an existing store instead of crashing on them.

The bad records are written around corpgraph (raw SQL, raw Cypher), as a hand edit or an older version would.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.write.integrity import StoredProblem, check_store
from corpgraph.graph.stores.neo4j import open_neo4j_store
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import UnreadableRecord
from tests.factory import batch, company, entity, owns
from tests.neo4j_server import Neo4jServer

GOOD = batch(company("a"), company("b"), entity("Incident", "i", category="outage"), owns("a", "b", 0.5))
OWNS_DOC = '{"type": "OWNS", "source": "%s", "target": "%s", "share": 0.1}'
EXPECTED = [
    "entity 'a': doc: the document is not JSON: Expecting value: line 1 column 1 (char 0)",
    "entity 'n': figures.0.value: Input should be a finite number",
    "entity 'p': type: unknown entity type 'Planet'",
    "entity 'q': type: the row says Company, its document 'Person'",
    "relation 'OWNS|a|b|': share: the row holds inf, its document 0.5",
    "relation 'OWNS|a|b|': share: the stored share is inf, not a number 0..1",
    "relation 'OWNS|b|ghost|': target: 'ghost' is not a stored entity",
    "relation 'OWNS|b|i|': target: 'i' is a Incident; OWNS target must be Company",
]


@pytest.fixture
def damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded store named by CORPGRAPH_DB, with good records and then bad rows written by raw SQL."""
    path = tmp_path / "damaged.db"
    store = SqliteStore(path)
    ingest(store, GOOD)
    store.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE entities SET doc = 'garbage' WHERE id = 'a'")
    db.execute("INSERT INTO entities VALUES ('n', 'Company', 'N', ?)",
               ['{"type": "Company", "id": "n", "name": "N", "figures": [{"label": "x", "value": NaN}]}'])
    db.execute("INSERT INTO search_keys VALUES ('n', 'n')")  # so that `search N` meets it
    db.execute("INSERT INTO entities VALUES ('p', 'Planet', 'P', '{}')")
    db.execute("INSERT INTO entities VALUES ('q', 'Company', 'Q', ?)", ['{"type": "Person", "id": "q", "name": "Q"}'])
    db.execute("UPDATE relations SET share = 9e999 WHERE id = 'OWNS|a|b|'")  # SQLite keeps 9e999 as Infinity
    for target in ("i", "ghost"):
        db.execute("INSERT INTO relations(id, type, source, target, share, doc) VALUES (?, 'OWNS', 'b', ?, 0.1, ?)",
                   [f"OWNS|b|{target}|", target, OWNS_DOC % ("b", target)])
    db.close()
    monkeypatch.setenv("CORPGRAPH_DB", str(path))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    return path


def test_check_lists_every_damaged_record(damaged: Path) -> None:
    store = SqliteStore(damaged)
    found = list(check_store(store))
    store.close()
    assert sorted(str(p) for p in found if isinstance(p, StoredProblem)) == EXPECTED
    # By hand: a, b, i, n, p, q are 6 entity rows; OWNS a->b, b->i, b->ghost are 3 relation rows.
    assert [x for x in found if not isinstance(x, StoredProblem)] == [("entities", 6), ("relations", 3)]


def test_check_command_reports_and_exits_1(damaged: Path) -> None:
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert sorted(line for line in result.stderr.splitlines() if not line.startswith("store: ")) == EXPECTED
    assert "checked 6 entities and 3 relations: 8 problem(s)" in result.stdout


def test_check_of_a_sound_store_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "sound.db"))
    runner = CliRunner()
    assert runner.invoke(app, ["load", "--seed"]).exit_code == 0
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "relations: no problems" in result.stdout


def test_check_reports_a_relation_to_an_entity_of_unknown_type_and_a_negative_share(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spaceship.db"
    store = SqliteStore(path)
    ingest(store, GOOD)
    store.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE entities SET type = 'Spaceship' WHERE id = 'a'")  # a has an OWNS relation to b
    db.execute("UPDATE relations SET share = -5 WHERE id = 'OWNS|a|b|'")
    db.close()
    monkeypatch.setenv("CORPGRAPH_DB", str(path))
    result = CliRunner().invoke(app, ["check"])
    # main: exit 70, "ValueError: 'Spaceship' is not a valid EntityType", and the relation checks never ran
    assert result.exit_code == 1, result.output
    assert sorted(line for line in result.stderr.splitlines() if not line.startswith("store: ")) == [
        "entity 'a': type: unknown entity type 'Spaceship'",
        "relation 'OWNS|a|b|': share: the row holds -5.0, its document 0.5",
        "relation 'OWNS|a|b|': share: the stored share is -5.0, not a number 0..1",
        "relation 'OWNS|a|b|': source: 'a' is stored with an unknown type",
    ]
    reading = SqliteStore(path)
    with pytest.raises(UnreadableRecord, match="the stored entity 'a' has the unknown type 'Spaceship'"):
        reading.entity_types(["a", "b"])
    reading.close()


def test_reading_a_damaged_record_is_a_clear_error(damaged: Path) -> None:
    store = SqliteStore(damaged)
    with pytest.raises(UnreadableRecord, match="the stored entity 'n' .Company. cannot be read: .*corpgraph check"):
        store.get_entities(["n"])
    store.close()
    result = CliRunner().invoke(app, ["search", "N"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "`corpgraph check` lists every such record" in result.stderr


def test_check_on_neo4j_finds_records_written_around_corpgraph(neo4j_server: Neo4jServer) -> None:
    store = open_neo4j_store(neo4j_server.settings())
    try:
        store.delete_all()
        ingest(store, GOOD)
        run = store._driver.execute_query  # raw Cypher, as a hand edit would
        run("MATCH (n:Entity {id: 'a'}) SET n.doc = 'garbage'")
        run("MATCH (b:Entity {id: 'b'}), (i:Entity {id: 'i'}) CREATE (b)-[:OWNS {id: 'OWNS|b|i|', doc: $doc, "
            "share: 0.1}]->(i)", doc=OWNS_DOC % ("b", "i"))
        found = sorted(str(p) for p in check_store(store) if isinstance(p, StoredProblem))
        assert found == [EXPECTED[0], EXPECTED[-1]]
    finally:
        store.delete_all()
        store.close()


def test_an_unreadable_entity_found_by_search_is_named_by_its_row(damaged: Path) -> None:
    store = SqliteStore(damaged)
    try:  # a's document is not JSON: main named it '?'
        with pytest.raises(UnreadableRecord, match="the stored entity 'a' .Company. cannot be read"):
            store.search("a", None, 10)
        with pytest.raises(UnreadableRecord, match="the stored entity 'a' .Company. cannot be read"):
            store.get_entities(["a"])
    finally:
        store.close()
