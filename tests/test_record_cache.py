"""The record cache of one store revision (graph.stores.record_cache): reads once, forgets when the revision moves."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.record_cache import RecordCache
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from corpgraph.schema.kinds import EntityType
from corpgraph.schema.records import Entity
from corpgraph.graph.stores.base import StoredRelation
from tests.factory import batch, company, entity, owns, rel


class Counting(SqliteStore):
    """An embedded store that counts the ids its record reads were asked for, by kind."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked: list[tuple[str, str]] = []

    def entity_types(self, ids: Iterable[str]) -> dict[str, EntityType]:
        ids = list(ids)
        self.asked.extend(("type", i) for i in ids)
        return super().entity_types(ids)

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        self.asked.extend(("entity", i) for i in ids)
        return super().get_entities(ids)

    def get_relations(self, ids: Sequence[str]) -> dict[str, StoredRelation]:
        self.asked.extend(("relation", i) for i in ids)
        return super().get_relations(ids)


def _store(tmp_path: object) -> Counting:
    """A store with three companies a, b, c."""
    store = Counting(f"{tmp_path}/c.db")
    ingest(store, batch(company("a"), company("b"), company("c")))
    store.asked.clear()
    return store


def test_a_record_is_read_once_per_revision(tmp_path: object) -> None:
    store, cache = _store(tmp_path), RecordCache(limit=10)
    assert cache.at(1, store).get_entities(["a", "b"])["a"].name == "A"
    assert cache.at(1, store).get_entities(["b", "a"])["b"].name == "B"
    assert store.asked == [("entity", "a"), ("entity", "b")]
    assert cache.at(1, store).entity_types(["a"]) == {"a": EntityType.COMPANY}  # known from the record read
    assert len(store.asked) == 2
    assert cache.at(2, store).get_entities(["a"])["a"].name == "A"  # a newer revision: read again
    assert store.asked[2:] == [("entity", "a")]


def test_missing_ids_are_asked_again_and_never_kept(tmp_path: object) -> None:
    store, cache = _store(tmp_path), RecordCache(limit=10)
    assert cache.at(1, store).get_entities(["nobody"]) == {}
    assert cache.at(1, store).get_entities(["nobody"]) == {}
    assert store.asked == [("entity", "nobody"), ("entity", "nobody")]


def test_the_least_recently_used_goes_first(tmp_path: object) -> None:
    store, cache = _store(tmp_path), RecordCache(limit=2)
    reads = cache.at(1, store)
    reads.get_entities(["a"])
    reads.get_entities(["b"])
    reads.get_entities(["a"])  # a used again: b is now the oldest
    reads.get_entities(["c"])  # over the limit of 2: b goes
    assert list(cache.entities) == ["a", "c"]
    store.asked.clear()
    reads.get_entities(["a", "b"])
    assert store.asked == [("entity", "b")]


def test_types_are_kept_25_times_the_limit(tmp_path: object) -> None:
    store, cache = _store(tmp_path), RecordCache(limit=1)
    reads = cache.at(1, store)
    reads.get_entities(["a"])
    reads.get_entities(["b"])  # records: a limit of 1, so a goes
    assert list(cache.entities) == ["b"]
    ids = [f"t{i}" for i in range(26)]
    cache.keep(cache.types, 1, {id: EntityType.COMPANY for id in ids})  # 26 types against 1 x 25: t0 goes
    assert list(cache.types) == ids[1:]


def test_a_request_on_an_older_revision_reads_the_store_and_keeps_nothing(tmp_path: object) -> None:
    store, cache = _store(tmp_path), RecordCache(limit=10)
    old = cache.at(1, store)
    cache.at(2, store).get_entities(["a"])
    store.asked.clear()
    assert old.get_entities(["a", "b"])["b"].name == "B"  # the revision-2 record of a is not handed to it
    assert store.asked == [("entity", "a"), ("entity", "b")]
    assert list(cache.entities) == ["a"]  # b, read for revision 1, was not kept under revision 2


def test_limit_zero_keeps_nothing(tmp_path: object) -> None:
    store, cache = _store(tmp_path), RecordCache(limit=0)
    cache.at(1, store).get_entities(["a"])
    cache.at(1, store).get_entities(["a"])
    assert store.asked == [("entity", "a"), ("entity", "a")]


def _holder(tmp_path: object) -> tuple[Counting, CorpGraph]:
    """P holds 50% of A, responsible for outage O: P's exposure reads P, A, O and two relations."""
    store = Counting(f"{tmp_path}/h.db")
    ingest(store, batch(company("p"), company("a"), entity("Incident", "o", category="outage", duration_hours=4),
                        owns("p", "a", 0.5), rel("RESPONSIBLE_FOR", "a", "o")))
    return store, CorpGraph(store, record_cache=100)


def test_a_warm_exposure_reads_no_record_from_the_store(tmp_path: object) -> None:
    store, graph = _holder(tmp_path)
    first = graph.exposure("p", as_of=date(2024, 1, 1))
    assert store.asked  # the first answer read its records
    store.asked.clear()
    again = graph.exposure("p", as_of=date(2024, 1, 1))
    assert store.asked == []
    assert again == first
    assert [(i.incident, i.weight) for i in again.items] == [("o", 0.5)]
    assert sorted(n.label for n in again.graph.nodes) == ["A", "O", "P"]


def test_a_first_exposure_reads_the_entity_once_with_its_type(tmp_path: object) -> None:
    store, graph = _holder(tmp_path)
    store.asked.clear()
    graph.exposure("p", as_of=date(2024, 1, 1))
    # P's whole record answers the type check and is kept for the subgraph, which shows it: P is read once
    assert [asked for asked in store.asked if asked[1] == "p"] == [("entity", "p")]


def test_an_exposure_without_paths_reads_the_type_alone(tmp_path: object) -> None:
    store, graph = _holder(tmp_path)
    store.asked.clear()
    graph.exposure("p", as_of=date(2024, 1, 1), paths=False)  # no subgraph: P's record is not needed
    assert [asked for asked in store.asked if asked[1] == "p"] == [("type", "p")]


def test_a_write_by_another_connection_is_seen_by_the_next_request(tmp_path: object) -> None:
    store, graph = _holder(tmp_path)
    graph.exposure("p", as_of=date(2024, 1, 1))
    assert graph.entities(["a"])["a"].name == "A"
    other = SqliteStore(store.path)  # another process's connection: the facade hears of it only by the revision
    ingest(other, batch(company("a", name="Renamed A")))
    assert graph.entities(["a"])["a"].name == "Renamed A"
    answer = graph.exposure("p", as_of=date(2024, 1, 1))
    assert sorted(n.label for n in answer.graph.nodes) == ["O", "P", "Renamed A"]
    other.close()
