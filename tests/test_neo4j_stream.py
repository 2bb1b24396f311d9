"""A file streamed into an empty Neo4j database (graph/stores/neo4j_stream.py), on the real test server: the same
problems, rows and summary as the file joined into one batch (graph.write.ingest), batches written before the file
is read to its end; the same into a database that already holds entities (its stored ids, types and stakes read in
pages).

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
from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.neo4j import Neo4jStore, open_neo4j_store
from corpgraph.graph.write.ingest import ingest, ingest_stream, join_batches
from corpgraph.loaders.validate import iter_batches
from corpgraph.schema.batch import Batch, WriteSummary
from corpgraph.schema.errors import InvalidInput
from tests.factory import company, entity, owns
from tests.neo4j_server import Neo4jServer
from tests.test_neo4j_loads import chunk_statements, probed
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


def load(store: Neo4jStore, path: Path, streamed: bool) -> WriteSummary:
    """Load the file streamed (as `corpgraph load` does past batch_size records) or joined into one batch."""
    if streamed:
        return ingest_stream(store, str(path), batches(path))
    return ingest(store, join_batches(str(path), batches(path)))


def outcome(store: Neo4jStore, path: Path, streamed: bool) -> Any:
    """What a load of the file shows: its summary and every stored row, or its problems; the store emptied after."""
    try:
        summary = load(store, path, streamed)
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
    neo.writers = 1  # the first chunk committed before the second is sent (with two, it may still be in flight)

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


LEI = [{"scheme": "LEI", "id": "529900T8BM49AURSDO55"}]
BASE = [company("a"), company("b"), company("c"), entity("Person", "p"), owns("a", "c", 0.6),
        entity("Person", "t", placeholder=True), owns("t", "b", 0.5), company("m", identifiers=LEI),
        owns("p", "m", 0.6)]
# A second file into the database BASE loaded: each a streamed load of several batches (more than SIZE records).
WARM = {
    "references to stored entities": [company("d"), owns("d", "a", 0.5), owns("p", "b", 0.25), company("e"),
                                      owns("e", "d", 1.0)],
    "an unknown reference beside stored ones": [company("d"), owns("d", "a", 0.5), owns("ghost", "b", 0.1),
                                                owns("p", "d", 0.2)],
    "share sum over 100% only with the stored stake": [company("d"), company("e"), company("f"),
                                                       owns("b", "c", 0.6)],
    "a stored stake re-stated lower": [company("d"), company("e"), owns("a", "c", 0.3), owns("b", "c", 0.6)],
    "a company merged with a stored one by its identifier": [company("d"), company("e"),
                                                             company("n", identifiers=LEI), owns("d", "n", 0.6)],
    "a stored company changing type": [company("d"), company("e"), entity("Person", "a"), owns("d", "e", 0.1)],
    "a stored placeholder given its real record": [company("d"), company("t", "Real T"), owns("t", "d", 0.5),
                                                   company("e")],
    "placeholders for stored ids": [entity("Person", "a", placeholder=True), entity("Person", "q", placeholder=True),
                                    company("d"), owns("q", "d", 0.3), owns("a", "d", 0.3)],
    "the same file again": BASE,
    "some stored records changed": [company("a", "Alpha"), company("b"), company("c"), entity("Person", "p"),
                                    owns("a", "c", 0.55), company("d"), owns("d", "c", 0.4), company("a", "Alpha")],
}


def warm(store: Neo4jStore, tmp_path: Path, records: list[dict[str, Any]], streamed: bool) -> Any:
    """What a load of the records into the database BASE loaded shows: its summary, how far it moved the revision
    and every stored row, or its problems; the store emptied after."""
    base = write(tmp_path / "base.jsonl", *BASE)
    ingest(store, join_batches(str(base), batches(base)))
    revision = store.revision()
    path = write(tmp_path / "in.jsonl", *records)
    try:
        summary = load(store, path, streamed)
        shown: Any = (dict(summary.entities), dict(summary.relations), summary.placeholders, summary.unchanged,
                      store.revision() - revision, store.raw_entities("", 1000), store.raw_relations("", 1000))
    except InvalidInput as exc:
        shown = [str(problem) for problem in exc.problems]
    store.delete_all()
    return shown


@pytest.mark.parametrize("name", sorted(WARM))
def test_a_file_streamed_into_a_database_in_use_shows_what_the_joined_file_shows(
        neo: Neo4jStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Into a database that holds entities: word for word the same problems, or the same summary, revision and
    stored rows, streamed (the stored ids, types and stakes read in pages) and joined (the whole file checked in
    memory against the store)."""
    pages: list[int] = []
    read = Neo4jStore._read

    def counted(self: Neo4jStore, statement: str, **params: Any) -> list[dict[str, Any]]:
        if statement in (cypher.STORED_ENTITIES, cypher.IDENTIFIER_HOLDERS):
            pages.append(len(params.get("ids", params.get("needles", []))))
        return read(self, statement, **params)
    monkeypatch.setattr(Neo4jStore, "_read", counted)
    streamed = warm(neo, tmp_path, WARM[name], streamed=True)
    assert pages and max(pages) <= SIZE  # read batch by batch, a page at most batch_size ids
    assert streamed == warm(neo, tmp_path, WARM[name], streamed=False)
    problems = {
        "an unknown reference beside stored ones": ["in.jsonl:3: source: unknown id 'ghost': load the entity first "
                                                    "or in the same file"],
        # a's stored 60% of c and b's 60% in the file
        "share sum over 100% only with the stored stake": [
            "in.jsonl:4: share: owners' shares of 'c' valid with no start date sum to 120% (a 60%, b 60%), above "
            "100%; correct a share or end the earlier stake with valid_to"],
        # m (stored, p 60%) and n carry one LEI: one company, 120%
        "a company merged with a stored one by its identifier": [
            "in.jsonl:4: share: owners' shares of 'n' valid with no start date sum to 120% (d 60%, p 60%), above "
            "100%; correct a share or end the earlier stake with valid_to"],
        "a stored company changing type": [
            "in.jsonl:3: type: id 'a' is stored as a Company; an entity cannot change type"],
    }
    if name in problems:
        assert [line.split("/")[-1] for line in streamed] == problems[name]
        return
    assert isinstance(streamed, tuple), streamed
    entities, relations, placeholders, unchanged, moved, rows, _ = streamed
    expected = {
        "references to stored entities": ({"Company": 2}, {"OWNS": 3}, 0, 0, 1),
        "a stored stake re-stated lower": ({"Company": 2}, {"OWNS": 2}, 0, 0, 1),  # a->c 30% + b 60%: 90%
        "a stored placeholder given its real record": ({"Company": 3}, {"OWNS": 1}, 0, 0, 1),
        "placeholders for stored ids": ({"Company": 1, "Person": 1}, {"OWNS": 2}, 1, 0, 1),  # q only is new
        # nothing written, no revision: 8 of the 9 records unchanged, t's placeholder dropped (t is stored)
        "the same file again": ({}, {}, 0, 8, 0),
        # a renamed (twice, the same), a->c 55%, d and d->c new; b, c, p unchanged
        "some stored records changed": ({"Company": 2}, {"OWNS": 2}, 0, 3, 1),
    }
    assert (entities, relations, placeholders, unchanged, moved) == expected[name]
    if name == "a stored placeholder given its real record":
        assert [(row.id, row.type) for row in rows if row.id == "t"] == [("t", "Company")]


def test_a_stored_record_changed_then_restated_as_stored_is_left_as_stored(neo: Neo4jStore, tmp_path: Path) -> None:
    """A file that changes a stored company in its first batch and states it as stored in a later one: the last
    record wins (streamed, the first is kept aside for publication, the second goes aside after it)."""
    base = write(tmp_path / "base.jsonl", *BASE)
    ingest(neo, join_batches(str(base), batches(base)))
    before = {row.id: row.doc for row in neo.raw_entities("", 1000)}
    path = write(tmp_path / "in.jsonl", company("a", "Alpha"), company("d"), company("e"), company("f"), company("a"))
    summary = ingest_stream(neo, str(path), batches(path))
    after = {row.id: row.doc for row in neo.raw_entities("", 1000)}
    assert after["a"] == before["a"] and (dict(summary.entities), summary.unchanged) == ({"Company": 3}, 1)


def test_a_streamed_load_probes_only_the_ids_it_may_have_stored(
        neo: Neo4jStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Into an empty database, the chunks' transactions probe only ids an earlier chunk of the load wrote: company a
    re-stated in the file's third batch (its first chunk was a, b, c) and the stake a->b re-stated at 40% after the
    chunk a->b, c->d, e->f; the last records win. Into the database BASE loaded, only the ids stored before: a
    company (a) and a stake between two stored companies (a->c); d, e and the stakes from d are known new."""
    attempts = chunk_statements(monkeypatch)
    path = write(tmp_path / "in.jsonl", *(company(i) for i in "abcdef"), company("a", "Alpha"), owns("a", "b", 0.5),
                 owns("c", "d", 0.5), owns("e", "f", 0.5), owns("a", "b", 0.4))
    summary = ingest_stream(neo, str(path), batches(path))
    assert probed(attempts) == ["a", "OWNS|a|b|"]
    assert (dict(summary.entities), dict(summary.relations)) == ({"Company": 6}, {"OWNS": 3})
    assert neo.get_entities(["a"])["a"].name == "Alpha"
    assert [json.loads(row.doc or "")["share"] for row in neo.raw_relations("", 10) if row.source == "a"] == [0.4]
    neo.delete_all()
    base = write(tmp_path / "base.jsonl", *BASE)
    ingest(neo, join_batches(str(base), batches(base)))
    attempts.clear()
    path = write(tmp_path / "in.jsonl", company("a"), company("d"), company("e"), owns("d", "a", 0.5),
                 owns("a", "c", 0.6), owns("d", "e", 0.1))
    summary = ingest_stream(neo, str(path), batches(path))
    assert probed(attempts) == ["a", "OWNS|a|c|"]
    assert (dict(summary.entities), dict(summary.relations), summary.unchanged) == ({"Company": 2}, {"OWNS": 2}, 2)


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
