"""A real record replaces a stored placeholder of another type (graph.write.retype), on both stores.

An importer's placeholder type is its guess: STIX leaves an attributed identity open as an Organization of kind
`unknown`, BODS an open interested party as a Person. A later real record of another type retypes the stored
entity (in Neo4j the node's label changes too), its stored relations stay and must still join the new type,
and the live projection answers as a fresh build. A real record still cannot change type.

The stores come from the contract suite's backends (tests/test_store_contract.py): the embedded store, and the
real Neo4j with a batch size of 5, so a file of more records goes through the batched load (published at once)
and a smaller one through one transaction; `PADDING` companies push a file past it.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.service import Applied, CorpGraph
from corpgraph.graph.stores.base import GraphStore
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest, ingest_stream
from corpgraph.loaders.validate import iter_batches, load_file
from corpgraph.schema.declaration import parse_record, relation_id
from corpgraph.schema.errors import InvalidInput, NotFound
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Owns
from tests.factory import company, entity, of_type, owns, rel
from tests.test_bods import v3, v3_owns
from tests.test_bods import write as write_bods
from tests.test_delta import _check as check_delta
from tests.test_delta import built
from tests.test_import_stix_forms import FORMS, obj
from tests.test_import_stix_forms import rel as stix_rel
from tests.test_store_contract import BACKENDS, BATCH_SIZE, _backend, neo4j_session_store  # noqa: F401 (a fixture)

T = "threat-actor--33333333-3333-4333-8333-333333333333"
G = "identity--55555555-5555-4555-8555-555555555555"
ACTOR, IDENTITY = f"stix:{T}", f"stix:{G}"
PARTY, HELD = "bods:p9", "bods:e1"  # BODS: p9 holds 20% of e1, and the file leaves p9 open
PADDING = [company(f"pad{i}") for i in range(BATCH_SIZE)]  # with them a file is a batched load on Neo4j
PATHS = [pytest.param([], id="one-transaction"), pytest.param(PADDING, id="batched")]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """An empty store of each backend."""
    yield from _backend(request.param, request, tmp_path)


def jsonl(path: Path, *records: dict[str, Any]) -> Path:
    """A native JSON Lines file, one record a line (line n holds records[n - 1])."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def ftm(id: str, schema: str, **props: list[str]) -> dict[str, Any]:
    """One FtM entity line."""
    return {"id": id, "schema": schema, "properties": props}


def stix_attribution(store: GraphStore, tmp_path: Path) -> None:
    """Load a STIX bundle where actor T is attributed to identity G, which the bundle leaves open."""
    path = tmp_path / "attribution.json"
    path.write_text(FORMS["bundle"]([obj(T, name="Actor T"), stix_rel(7, "attributed-to", T, G)]), encoding="utf-8")
    assert ingest(store, load_file(path)).placeholders == 1


def bods_stake(store: GraphStore, tmp_path: Path) -> None:
    """Load a BODS excerpt where person statement p9 (never defined) holds 20% of entity e1."""
    path = write_bods(tmp_path / "excerpt.json", [
        v3("e1", "entity", name="Held"), v3_owns("o1", "e1", "p9", {"type": "shareholding", "share": {"exact": 20}})])
    assert ingest(store, load_file(path)).placeholders == 1


def kind_of(store: GraphStore, id: str) -> tuple[EntityType, bool]:
    """The stored type of an id and whether it is a placeholder."""
    return store.entity_types([id])[id], store.get_entities([id])[id].placeholder


def listed(store: GraphStore, kind: EntityType) -> list[str]:
    """Ids listed under a type (Neo4j lists by the node's label, the embedded store by its type column)."""
    return [e.id for e in store.list_entities(kind, None, 100)]


@pytest.mark.parametrize("padding", PATHS)
def test_a_stix_placeholder_organization_is_replaced_by_a_company(store: GraphStore, tmp_path: Path,
                                                                  padding: list[dict[str, Any]]) -> None:
    stix_attribution(store, tmp_path)
    assert kind_of(store, IDENTITY) == (EntityType.ORGANIZATION, True)
    # The same file states a new stake of the company, and the attribution again with a confidence (a stored
    # relation the write changes: on Neo4j a batched load writes it in the publishing transaction).
    real = jsonl(tmp_path / "front.jsonl", company(IDENTITY, "Front Company Ltd"), company("sub"),
                 owns(IDENTITY, "sub", 0.5), rel("ATTRIBUTED_TO", ACTOR, IDENTITY, confidence=0.8), *padding)
    ingest(store, load_file(real))
    assert kind_of(store, IDENTITY) == (EntityType.COMPANY, False)
    assert store.get_entities([IDENTITY])[IDENTITY].name == "Front Company Ltd"
    assert IDENTITY in listed(store, EntityType.COMPANY) and listed(store, EntityType.ORGANIZATION) == []
    (kept,) = store.relations_touching([IDENTITY], [RelationType.ATTRIBUTED_TO])
    assert (kept.record.source, kept.record.target, kept.record.confidence) == (ACTOR, IDENTITY, 0.8)
    assert [(e.source, e.share) for e in store.edges_into(["sub"], [RelationType.OWNS])] == [(IDENTITY, 0.5)]
    assert store.counts() == {"Actor": 1, "Company": 2 + len(padding), "ATTRIBUTED_TO": 1, "OWNS": 1}


def test_loading_either_file_again_changes_nothing(store: GraphStore, tmp_path: Path) -> None:
    stix_attribution(store, tmp_path)
    real = jsonl(tmp_path / "front.jsonl", company(IDENTITY, "Front Company Ltd"))
    ingest(store, load_file(real))
    revision, counts = store.revision(), store.counts()
    assert ingest(store, load_file(real)).unchanged == 1
    stix_attribution_again = ingest(store, load_file(tmp_path / "attribution.json"))
    assert (stix_attribution_again.placeholders, stix_attribution_again.unchanged) == (0, 2)  # actor and relation
    assert (store.revision(), store.counts()) == (revision, counts)
    assert kind_of(store, IDENTITY) == (EntityType.COMPANY, False)


@pytest.mark.parametrize("padding", PATHS)
def test_a_bods_person_placeholder_is_defined_as_an_entity(store: GraphStore, tmp_path: Path,
                                                           padding: list[dict[str, Any]]) -> None:
    bods_stake(store, tmp_path)
    assert kind_of(store, PARTY) == (EntityType.PERSON, True)
    statements = [v3("p9", "entity", name="Nine Holdings Ltd"),
                  *(v3(pad["id"], "entity", name=pad["name"]) for pad in padding)]
    ingest(store, load_file(write_bods(tmp_path / "entities.json", statements)))
    assert kind_of(store, PARTY) == (EntityType.COMPANY, False)
    assert listed(store, EntityType.PERSON) == []
    # The stake stays: p9 holds 20% of e1, now as a company (OWNS joins a Company holder too).
    assert [(e.source, e.share) for e in store.edges_into([HELD], [RelationType.OWNS])] == [(PARTY, 0.2)]


def test_an_ftm_owner_left_open_is_defined_as_a_person_in_a_streamed_load(store: GraphStore, tmp_path: Path) -> None:
    # FtM's Ownership owner may be any legal entity: an open one is guessed a Company; the next file says Person.
    # Loaded as `corpgraph load` does (write_stream), in batches of one record.
    stake = jsonl(tmp_path / "stake.ftm.jsonl", ftm("shell", "Company", name=["Shell Ltd"]),
                  ftm("own-1", "Ownership", owner=["anna"], asset=["shell"], percentage=["60"]))
    people = jsonl(tmp_path / "people.ftm.jsonl", ftm("anna", "Person", name=["Anna K"]))
    ingest_stream(store, str(stake), iter_batches(stake, 1)[1])
    assert kind_of(store, "ftm:anna") == (EntityType.COMPANY, True)
    ingest_stream(store, str(people), iter_batches(people, 1)[1])
    assert kind_of(store, "ftm:anna") == (EntityType.PERSON, False)
    revision = store.revision()
    for path in (stake, people):  # either file again changes nothing
        ingest_stream(store, str(path), iter_batches(path, 1)[1])
    assert store.revision() == revision
    assert [(e.source, e.share) for e in store.edges_into(["ftm:shell"], [RelationType.OWNS])] == [("ftm:anna", 0.6)]
    assert store.counts() == {"Company": 1, "Person": 1, "OWNS": 1}


def test_the_live_projection_follows_the_new_type(store: GraphStore, tmp_path: Path) -> None:
    bods_stake(store, tmp_path)
    stix_attribution(store, tmp_path)
    graph = CorpGraph(store, fresh_wait=0.0)
    check_delta(graph, store)
    with pytest.raises(NotFound, match="it is a Person"):
        graph.owners(PARTY)
    for id, name in ((PARTY, "Nine Holdings Ltd"), (IDENTITY, "Front Company Ltd")):
        graph.write(load_file(jsonl(tmp_path / "real.jsonl", company(id, name))))
        assert built(graph).applied is Applied.DELTA
        check_delta(graph, store)  # every step answers as a fresh build, and its views as views built from scratch
    assert graph.owners(PARTY) == graph.owners(IDENTITY) == []  # companies now, with no owners
    assert [(h.company, h.direct) for h in graph.holdings(PARTY)] == [(HELD, 0.2)]


@pytest.mark.parametrize("padding", PATHS)
def test_a_placeholder_whose_stored_relation_would_break_is_not_retyped(store: GraphStore, tmp_path: Path,
                                                                        padding: list[dict[str, Any]]) -> None:
    bods_stake(store, tmp_path)
    revision, counts = store.revision(), store.counts()
    (stake,) = store.relations_touching([PARTY], [RelationType.OWNS])
    path = jsonl(tmp_path / "incident.jsonl", *padding, entity("Incident", PARTY, "Nine", category="outage"))
    with pytest.raises(InvalidInput) as refused:
        ingest(store, load_file(path))
    assert [str(p) for p in refused.value.problems] == [
        f"{path}:{len(padding) + 1}: type: id {PARTY!r} replaces a placeholder Person, but the stored relation "
        f"{stake.id} would not hold: {PARTY!r} is a Incident; OWNS source must be Company or Organization or "
        "Person; load a record of a type that relation joins"]
    assert (store.revision(), store.counts(), kind_of(store, PARTY)) == (revision, counts, (EntityType.PERSON, True))


def test_a_real_record_still_cannot_change_type(store: GraphStore, tmp_path: Path) -> None:
    ingest(store, load_file(jsonl(tmp_path / "a.jsonl", company("a"))))
    for records in ([entity("Person", "a")], [*PADDING, entity("Person", "a")]):
        path = jsonl(tmp_path / "b.jsonl", *records)
        with pytest.raises(InvalidInput) as refused:
            ingest(store, load_file(path))
        assert [str(p) for p in refused.value.problems] == [
            f"{path}:{len(records)}: type: id 'a' is stored as a Company; an entity cannot change type"]
    assert (kind_of(store, "a"), store.counts()) == ((EntityType.COMPANY, False), {"Company": 1})


# --- the embedded store's streamed load (graph.stores.sqlite_stream): batches in one transaction -----------

def stream(store: SqliteStore, path: Path, size: int = 1) -> None:
    """Load the file in batches of `size` records."""
    _, batches = iter_batches(path, size)
    ingest_stream(store, str(path), batches)


def stream_problems(store: SqliteStore, path: Path) -> list[str]:
    """The problems of a refused streamed load, as `line: field: reason`."""
    with pytest.raises(InvalidInput) as refused:
        stream(store, path)
    return [f"{p.line}: {p.field}: {p.reason}" for p in refused.value.problems]


def test_a_streamed_file_retypes_a_stored_placeholder(tmp_store: SqliteStore, tmp_path: Path) -> None:
    bods_stake(tmp_store, tmp_path)
    stream(tmp_store, jsonl(tmp_path / "real.jsonl", company("c"), owns(PARTY, "c", 0.5), company(PARTY, "Nine")))
    assert kind_of(tmp_store, PARTY) == (EntityType.COMPANY, False)
    assert tmp_store.counts() == {"Company": 3, "OWNS": 2}


def test_a_stake_of_an_earlier_batch_is_checked_against_the_new_type(tmp_store: SqliteStore, tmp_path: Path) -> None:
    # Batch 2's stake of p9 in c is checked when written (p9 is a stored Person then: fine); batch 3 retypes p9
    # as an Incident, which that stake, like the stored one in e1, would no longer join.
    bods_stake(tmp_store, tmp_path)
    (stored,) = tmp_store.relations_touching([PARTY], [RelationType.OWNS])
    late = owns(PARTY, "c", 0.5)
    path = jsonl(tmp_path / "late.jsonl", company("c"), late, entity("Incident", PARTY, category="outage"))
    assert stream_problems(tmp_store, path) == [
        f"3: type: id {PARTY!r} replaces a placeholder Person, but the stored relation {rel_id} would not hold: "
        f"{PARTY!r} is a Incident; OWNS source must be Company or Organization or Person; load a record of a type "
        "that relation joins" for rel_id in sorted((stored.id, relation_id(of_type(Owns, parse_record(late)))))]
    assert kind_of(tmp_store, PARTY) == (EntityType.PERSON, True) and tmp_store.entity_types(["c"]) == {}


def test_a_stake_waiting_for_the_end_of_the_file_is_reported_once(tmp_store: SqliteStore, tmp_path: Path) -> None:
    # Line 1's stake waits (c comes at line 3); line 2 retypes p9. The stake is reported at its own line at the
    # end of the file, and not again as a stored relation of the retyped placeholder; e1's stored stake is.
    bods_stake(tmp_store, tmp_path)
    path = jsonl(tmp_path / "wait.jsonl", owns(PARTY, "c", 0.5), entity("Incident", PARTY, category="outage"),
                 company("c"))
    assert [line.split(":")[0] + ":" + line.split(":")[1] for line in stream_problems(tmp_store, path)] == [
        "1: source", "2: type"]
