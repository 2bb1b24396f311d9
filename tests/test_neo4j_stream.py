"""A file streamed into an empty Neo4j database (graph/stores/neo4j_stream.py), on the real test server: the same
problems, rows and summary as the file joined into one batch (graph.write.ingest), batches written before the file
is read to its end, a database with entities loaded the joined way.

Batches of 3 records and store.batch_size 3, so a file of a few lines is a streamed load of several transactions.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.settings import Settings
from corpgraph.graph.stores import neo4j_stream
from corpgraph.graph.stores.neo4j import Neo4jStore, open_neo4j_store
from corpgraph.graph.write.ingest import ingest, ingest_stream, join_batches
from corpgraph.loaders.validate import iter_batches
from corpgraph.schema.batch import Batch
from corpgraph.schema.errors import InvalidInput
from tests.factory import company, entity, owns
from tests.neo4j_server import Neo4jServer
from tests.test_neo4j_server_only import _admin_driver

SIZE = 3


@pytest.fixture
def neo(neo4j_env: Neo4jServer) -> Iterator[Neo4jStore]:
    """An emptied store writing SIZE records per transaction."""
    store = open_neo4j_store(Settings())
    store.delete_all()
    store.batch_size = SIZE
    yield store
    store.delete_all()
    store.close()


def write(path: Path, *records: dict[str, Any]) -> Path:
    """A native JSON Lines file, one record a line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def batches(path: Path) -> Iterator[Batch]:
    """The file's validated batches of SIZE records, as `corpgraph load` reads them."""
    return iter_batches(path, SIZE)[1]


def outcome(store: Neo4jStore, path: Path, streamed: bool) -> Any:
    """What a load of the file shows: its summary and every stored row, or its problems; the store emptied after."""
    try:
        if streamed:
            summary = ingest_stream(store, str(path), batches(path))
        else:
            summary = ingest(store, join_batches(str(path), batches(path)))
        shown: Any = (dict(summary.entities), dict(summary.relations), summary.placeholders, summary.unchanged,
                      store.raw_entities("", 1000), store.raw_relations("", 1000))
    except InvalidInput as exc:
        shown = [str(problem) for problem in exc.problems]
    store.delete_all()
    return shown


CASES = {
    "problems in batches 1 and 3": [company("a"), owns("a", "b", 7), company("b"), company("c"), company("d"),
                                    owns("ghost", "c", 0.5), company("e")],
    "shares over 100% across batches": [company("a"), company("b"), company("c"), owns("a", "c", 0.6),
                                        company("d"), owns("b", "c", 0.6), company("e")],
    "type changed in a later batch": [company("a"), company("b"), company("c"), entity("Person", "a")],
    "placeholders, a reference forward, an id twice": [
        owns("a", "t", 0.5), entity("Person", "p", placeholder=True), entity("Person", "t", placeholder=True),
        company("a", aliases=["Alpha"]), company("t", "Real T", identifiers=[{"scheme": "LEI", "id": "X1"}]),
        company("a", "Zeta"), owns("a", "t", 0.5), owns("t", "a", 0.25), owns("a", "t", 0.4)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_streamed_load_shows_what_the_joined_file_shows(neo: Neo4jStore, tmp_path: Path, name: str) -> None:
    """Word for word the same problems, or the same summary and stored rows (documents included), streamed and
    joined (the file as one batch, the path a database with entities takes)."""
    path = write(tmp_path / "in.jsonl", *CASES[name])
    streamed = outcome(neo, path, streamed=True)
    assert streamed == outcome(neo, path, streamed=False)
    if name == "placeholders, a reference forward, an id twice":
        # p stays a placeholder Person; t's placeholder gave way to its real Company; a's last record ("Zeta") and
        # a->t's last (40%) are stored; one placeholder made
        assert streamed[:4] == ({"Company": 2, "Person": 1}, {"OWNS": 2}, 1, 0)
        assert [row.id for row in streamed[4]] == ["a", "p", "t"] and '"Zeta"' in streamed[4][0].doc
        assert [json.loads(row.doc)["share"] for row in streamed[5] if row.source == "a"] == [0.4]
    if name == "problems in batches 1 and 3":
        assert [line.split(".jsonl:")[1].split(":")[:2] for line in streamed] == [["2", " share"], ["6", " source"]]


def test_batches_are_written_before_the_file_is_read_to_its_end_and_a_refused_load_leaves_nothing(
        neo: Neo4jStore, neo4j_server: Neo4jServer, tmp_path: Path) -> None:
    """When the last batch is read, the companies of the first one at least are in the database, hidden (the load
    holds them, not the loader); the last batch's unknown owner refuses the file, and every record of it is removed."""
    path = write(tmp_path / "in.jsonl", *(company(f"c{n}") for n in range(7)), owns("ghost", "c0", 0.5))
    seen: list[int] = []

    def watched() -> Iterator[Batch]:
        for batch in batches(path):
            if batch.relations:  # the last batch
                seen.append(_all_entities(neo4j_server))
            yield batch
    with pytest.raises(InvalidInput) as refused:
        ingest_stream(neo, str(path), watched())
    assert [(p.line, p.field) for p in refused.value.problems] == [(8, "source")]
    # the first batch's chunk committed (the second's may still be in flight), hidden
    assert len(seen) == 1 and seen[0] in (3, 6) and neo.counts() == {}
    assert _all_entities(neo4j_server) == 0  # then removed


def test_a_database_with_entities_loads_the_file_joined(neo: Neo4jStore, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not empty: the streamed path is left before it reads a record (its batches are joined as before), so a
    reload reports every record unchanged."""
    path = write(tmp_path / "in.jsonl", *(company(f"c{n}") for n in range(5)), owns("c0", "c1", 0.5))
    first = ingest_stream(neo, str(path), batches(path))
    assert (dict(first.entities), dict(first.relations)) == ({"Company": 5}, {"OWNS": 1})

    def refused(*args: Any) -> None:
        raise AssertionError("streamed into a database with entities")
    monkeypatch.setattr(neo4j_stream.Streamed, "entity_steps", refused)
    again = ingest_stream(neo, str(path), batches(path))
    assert (dict(again.entities), dict(again.relations), again.unchanged) == ({}, {}, 6)


def _all_entities(server: Neo4jServer) -> int:
    """Entity nodes in the database, hidden ones included (an admin's view)."""
    with _admin_driver(server) as driver:
        records, _, _ = driver.execute_query("MATCH (n:Entity) RETURN count(n) AS n")
    return int(records[0]["n"])


def test_two_concurrent_loads_into_an_empty_database_take_turns(neo: Neo4jStore, tmp_path: Path) -> None:
    """Two files started at once into an empty database: one is streamed, the other waits for its publication and,
    the database no longer empty, is loaded joined; both are written whole, each in one revision."""
    paths = [write(tmp_path / f"{name}.jsonl", *(company(f"{name}{n}") for n in range(5)),
                   owns(f"{name}0", f"{name}1", 0.5)) for name in ("a", "b")]
    other = open_neo4j_store(Settings())
    other.batch_size = SIZE
    revision = neo.revision()
    results: dict[str, Any] = {}

    def load(store: Neo4jStore, path: Path) -> None:
        summary = ingest_stream(store, str(path), batches(path))
        results[path.stem] = (dict(summary.entities), dict(summary.relations))
    threads = [threading.Thread(target=load, args=pair) for pair in zip((neo, other), paths)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    other.close()
    assert results == {"a": ({"Company": 5}, {"OWNS": 1}), "b": ({"Company": 5}, {"OWNS": 1})}
    assert neo.counts() == {"Company": 10, "OWNS": 2} and neo.revision() == revision + 2
    assert [len(change.entities) for change in neo.changes_since(revision)] == [5, 5]
