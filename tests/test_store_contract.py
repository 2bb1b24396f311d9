"""One contract suite, run on every store: embedded (SQLite) and a real Neo4j over Bolt.

- `embedded`: SqliteStore in tmp_path.
- `neo4j`: the real Neo4jStore through the official neo4j driver, against the session's Neo4j Community
  server (tests/neo4j_server.py, started by conftest's `neo4j_server`); the store is emptied before each test.

Expected values come from the input file (what was written), or from the embedded store as the reference.
Neo4j-only behaviour has its own named tests at the bottom (and in tests/test_neo4j_server_only.py).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.write.ingest import ingest, ingest_stream
from corpgraph.graph.service import Applied, CorpGraph
from corpgraph.graph.projection.build import Projection, build_projection
from corpgraph.graph.settings import Settings
from corpgraph.graph.stores import cypher
from corpgraph.graph.stores import neo4j as neo4j_store
from corpgraph.graph.stores import neo4j_loads, neo4j_steps
from corpgraph.graph.stores import sqlite as sqlite_store
from corpgraph.graph.stores.base import ChangeKind, EdgeRow, GraphStore, Verdict, edge_row
from corpgraph.graph.stores.neo4j import Neo4jStore, open_neo4j_store
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from corpgraph.schema.batch import Batch
from corpgraph.schema.declaration import ANALYTIC_RELATIONS, relation_id
from corpgraph.schema.errors import ConstraintViolation, InvalidInput, StoreError, StoreUnavailable
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Company
from tests.factory import batch, canonical, companies_owning, company, entity, of_type, owns, rel
from tests.test_delta import STEPS as DELTA_STEPS
from tests.test_delta import World, built
from tests.test_delta import _check as check_delta
from tests.neo4j_server import Neo4jServer, free_port

BATCH_SIZE = 5  # small, so that the seed already goes out in several chunks per label
BACKENDS = [pytest.param("embedded", id="embedded"), pytest.param("neo4j", id="neo4j")]


@pytest.fixture(scope="session")
def neo4j_session_store(neo4j_server: Neo4jServer) -> Iterator[Neo4jStore]:
    """One Neo4jStore on the session's server (schema initialised), shared by the tests and emptied by each."""
    opened = open_neo4j_store(neo4j_settings(neo4j_server, batch_size=BATCH_SIZE))
    yield opened
    opened.close()


def neo4j_settings(server: Neo4jServer, **overrides: Any) -> Settings:
    """Settings pointing at the test server, as NEO4J_* in the environment would."""
    return server.settings(**overrides)


@pytest.fixture(scope="session")
def seed() -> Batch:
    """The shipped seed file, validated once (tests must not mutate it)."""
    return load_file(seed_path())


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """An empty store of each backend."""
    yield from _backend(request.param, request, tmp_path)


@pytest.fixture
def driver_store(neo4j_session_store: Neo4jStore) -> Neo4jStore:
    """The empty Neo4jStore (for the driver-specific tests)."""
    neo4j_session_store.delete_all()
    return neo4j_session_store


@pytest.fixture
def seeded(store: GraphStore, seed: Batch) -> GraphStore:
    """A store of each backend holding the seed."""
    ingest(store, seed)
    return store


def _backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """Yield one empty backend; close it afterwards unless it is the session's Neo4j store."""
    if kind == "embedded":
        opened: GraphStore = SqliteStore(tmp_path / "contract.db")  # conftest's seed_store uses corpgraph.db
        yield opened
        opened.close()
        return
    shared: Neo4jStore = request.getfixturevalue("neo4j_session_store")
    shared.delete_all()
    yield shared


# --- writes ---------------------------------------------------------------------------------------------

def test_seed_loads_with_the_counts_of_the_file(store: GraphStore, seed: Batch) -> None:
    """Every record of the file is stored once."""
    ingest(store, seed)
    assert store.counts() == _file_counts(seed)
    assert store.counts()["Company"] == 6  # by hand from loaders/data/seed.jsonl


def test_reloading_changes_nothing(seeded: GraphStore, seed: Batch) -> None:
    """Loading the same file again leaves counts, records, edges and the revision as they were, and says every
    record was unchanged."""
    before = (seeded.counts(), _edges(seeded), seeded.get_entities([r.id for r, _ in seed.entities]))
    revision = seeded.revision()
    summary = ingest(seeded, seed)
    assert (seeded.counts(), _edges(seeded), seeded.get_entities([r.id for r, _ in seed.entities])) == before
    assert (seeded.revision(), sum(summary.entities.values()) + sum(summary.relations.values())) == (revision, 0)
    assert summary.unchanged == sum(before[0].values())  # every stored record came again, equal


def test_reloading_one_changed_record_writes_only_it(store: GraphStore) -> None:
    """Of two companies loaded again, the one whose name changed is written (a new revision), the other is not."""
    ingest(store, batch(company("acme", "Acme"), company("widget", "Widget")))
    revision = store.revision()
    summary = ingest(store, batch(company("acme", "Acme Corp"), company("widget", "Widget")))
    assert store.get_entities(["acme"])["acme"].name == "Acme Corp"
    assert store.revision() == revision + 1
    assert (dict(summary.entities), summary.unchanged) == ({"Company": 1}, 1)


def test_upsert_replaces_the_document_and_its_search_keys(store: GraphStore) -> None:
    """A second record for an id replaces the first, search keys included."""
    ingest(store, batch(company("acme", "Acme", aliases=["Roadrunner Supplies"])))
    ingest(store, batch(company("acme", "Acme", aliases=["Coyote Works"], country="US")))
    stored = of_type(Company, store.get_entities(["acme"])["acme"])
    assert (stored.aliases, stored.country) == (["Coyote Works"], "US")
    assert [e.id for e in store.search("coyote", None, 5)] == ["acme"]
    assert store.search("roadrunner", None, 5) == []


def test_a_designation_round_trips_and_its_rule_answers_the_same(store: GraphStore) -> None:
    """A Sanction (its two ends one entity, its regime the edge's kind) is stored, read back and fed as written."""
    sanction = {"type": "Sanction", "entity": "x", "authority": "HM Treasury", "program": "RUS",
                "valid_from": "2022-03-15", "sources": [{"publisher": "OFSI", "title": "Consolidated list"}]}
    ingest(store, batch(entity("Person", "x"), company("a"), sanction, owns("x", "a", 0.6)))
    rel_id = "Sanction|x|x|UK|RUS|2022-03-15"  # by hand: type, the entity twice, regime (from HM Treasury), ...
    stored = store.get_relations([rel_id])[rel_id].record
    assert (stored.source, stored.target, stored.regime, stored.sources[0].title) == (  # type: ignore[attr-defined]
        "x", "x", "UK", "Consolidated list")
    (row,) = [r for page in store.iter_edges([RelationType.SANCTION]) for r in page]
    assert (row.source, row.target, row.kind, row.valid_from) == ("x", "x", "UK", "2022-03-15")
    # The UK rule on either store: X's 60% of A, more than 50% held by one designated person.
    assert CorpGraph(store).sanctions_status("a", "UK").status.value == "BLOCKED_BY_OWNERSHIP"


def test_an_attribution_round_trips_and_the_chain_shows_it_without_liability(store: GraphStore) -> None:
    """ATTRIBUTED_TO (an actor to another actor, a person and a company) is stored, read back and fed to the
    projection; the liability chain lists it on the perpetrator and draws it, and its parties stay R and the
    perpetrator, each with weight 1 (by hand: attribution makes nobody liable)."""
    ingest(store, batch(company("r"), company("front"), entity("Person", "boss"), entity("Actor", "set"),
                        entity("Actor", "crew"), entity("Incident", "i", category="intrusion"),
                        rel("RESPONSIBLE_FOR", "r", "i"), rel("PERPETRATED", "set", "i"),
                        rel("ATTRIBUTED_TO", "set", "crew", confidence=0.6), rel("ATTRIBUTED_TO", "crew", "boss"),
                        rel("ATTRIBUTED_TO", "crew", "front")))
    stated = {("set", "crew"), ("crew", "boss"), ("crew", "front")}
    stored = store.get_relations(["ATTRIBUTED_TO|set|crew"])["ATTRIBUTED_TO|set|crew"].record
    assert (stored.source, stored.target, stored.confidence) == ("set", "crew", 0.6)
    assert {(r.record.source, r.record.target)
            for r in store.relations_touching(["crew"], [RelationType.ATTRIBUTED_TO])} == stated
    assert {(row.source, row.target) for page in store.iter_edges([RelationType.ATTRIBUTED_TO]) for row in page} == stated
    chain = CorpGraph(store).liability_chain("i")
    assert {(p.entity, p.role.value, p.weight) for p in chain.parties} == {("r", "RESPONSIBLE", 1.0),
                                                                          ("set", "PERPETRATOR", 1.0)}
    (perpetrator,) = [p for p in chain.parties if p.entity == "set"]
    assert sorted(perpetrator.attributed_to) == ["boss", "crew", "front"]
    assert {n.id for n in chain.graph.nodes} == {"i", "r", "set", "crew", "boss", "front"}
    assert {(e.source, e.target) for e in chain.graph.edges if e.type == "ATTRIBUTED_TO"} == stated


def test_search_filters_by_topic_and_an_upsert_replaces_the_topics(store: GraphStore) -> None:
    """A topics filter keeps entities carrying any of the topics, exactly; topics follow the latest record."""
    ingest(store, batch(company("acme", "Acme Trading", topics=["sanction"]),
                        company("acmex", "Acme Exports", topics=["sanction.linked", "Role.PEP "]),
                        company("acmey", "Acme Yards")))
    def found(*topics: str) -> list[str]:
        return sorted(e.id for e in store.search("acme", None, 5, list(topics)))

    assert found() == ["acme", "acmex", "acmey"]  # no filter
    assert found("sanction") == ["acme"]  # not sanction.linked
    assert found("role.pep", "sanction") == ["acme", "acmex"]  # any of them; keys trimmed and lower-case
    ingest(store, batch(company("acme", "Acme Trading")))  # delisted: the new record has no topics
    assert store.search("acme", None, 5, ["sanction"]) == []


def test_a_bad_file_leaves_nothing_behind(seeded: GraphStore) -> None:
    """A relation to an unknown id rejects the whole file; its valid records are not written either."""
    before = seeded.counts()
    bad = batch(company("newco"), owns("newco", "lakala", 0.1), owns("newco", "ghost", 0.5), label="bad.jsonl")
    with pytest.raises(InvalidInput, match="bad.jsonl:3: target: unknown id 'ghost'"):
        ingest(seeded, bad)
    assert seeded.counts() == before
    assert seeded.get_entities(["newco"]) == {}


def test_every_store_declares_its_location_and_streams_a_file(store: GraphStore) -> None:
    """Capabilities are methods of the protocol: each store says where it lives and writes a file's batches."""
    at = store.location()
    assert at.kind == store.name and at.where  # a path or a URI, never empty
    first = batch(company("s1"), company("s2"), label="stream.jsonl")
    second = batch(owns("s1", "s2", 0.4), label="stream.jsonl")
    seen: list[int] = []
    summary = ingest_stream(store, "stream.jsonl", iter([first, second]), on_batch=lambda b: seen.append(len(b.relations)))
    assert seen == [0, 1]  # both batches were taken, in order
    assert sum(summary.entities.values()) == 2 and sum(summary.relations.values()) == 1
    assert {row.source for page in store.iter_edges([RelationType.OWNS]) for row in page} == {"s1"}


def test_reads_without_a_mapping_answer_the_same(store: GraphStore) -> None:
    """unmapped_reads is a method of every store (the embedded one lets its mapping go, Neo4j maps nothing)."""
    ingest(store, batch(company("m1"), company("m2"), owns("m1", "m2", 0.25)))
    rel_id = "OWNS|m1|m2|"  # type|source|target|valid_from (none)
    with store.unmapped_reads():
        inside = store.get_entities(["m1", "m2"]), store.get_relations([rel_id])
    assert inside == (store.get_entities(["m1", "m2"]), store.get_relations([rel_id]))
    assert inside[1][rel_id].record.share == 0.25  # type: ignore[attr-defined]


def test_a_streamed_file_with_a_bad_batch_writes_nothing(store: GraphStore) -> None:
    """A problem in the file's last batch keeps its first batch out too (all-or-nothing per file)."""
    first = batch(company("t1"), label="bad-stream.jsonl")
    second = batch(owns("t1", "ghost", 0.4), label="bad-stream.jsonl")
    with pytest.raises(InvalidInput, match="unknown id 'ghost'"):
        ingest_stream(store, "bad-stream.jsonl", iter([first, second]))
    assert store.get_entities(["t1"]) == {}


def test_a_write_failing_midway_leaves_nothing_behind(
    seeded: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after some chunks were sent rolls the whole file back (one transaction per file)."""
    before = seeded.counts()
    big = companies_owning(*((f"c{i}", f"c{i + 1}", 0.5) for i in range(12)))  # 13 companies, 12 OWNS: >2 chunks
    _fail_after_first_chunks(seeded, monkeypatch)
    with pytest.raises(RuntimeError, match="injected failure"):
        ingest(seeded, big)
    assert seeded.counts() == before
    assert seeded.get_entities(["c0", "c12"]) == {}


def test_awkward_text_round_trips(store: GraphStore) -> None:
    """Quotes, backslashes, newlines and any script come back exactly as written."""
    name = "O'Brien \\ \"Sons\"\n株式会社 라카라 ☃"
    injection = "'; MATCH (n) DETACH DELETE n //"
    ingest(store, batch(company("odd", name, aliases=["it's", "C:\\path"], description=injection)))
    stored = store.get_entities(["odd"])["odd"]
    assert (stored.name, stored.aliases) == (name, ["it's", "C:\\path"])
    assert stored.description == injection
    assert [e.id for e in store.search("O'Brien", None, 5)] == ["odd"]


def test_many_large_records_load_in_chunks(store: GraphStore) -> None:
    """More records (and bytes) than one chunk holds: all stored, none twice."""
    records = [company(f"big{i:03}", f"Big {i}", description="x" * 900) for i in range(40)]
    ingest(store, batch(*records, *(owns(f"big{i:03}", f"big{i + 1:03}", 0.3) for i in range(39))))
    assert store.counts() == {"Company": 40, "OWNS": 39}
    assert len(store.get_entities([f"big{i:03}" for i in range(40)])) == 40


# --- reads ----------------------------------------------------------------------------------------------

def test_get_entities_and_their_types(seeded: GraphStore) -> None:
    """Lookup by id needs no type; missing ids are absent."""
    found = seeded.get_entities(["lakala", "nope"])
    assert list(found) == ["lakala"]
    assert found["lakala"].name == "Lakala" and "拉卡拉" in found["lakala"].aliases
    assert seeded.entity_types(["lakala", "kaola-leak-2019", "nope"]) == {
        "lakala": EntityType.COMPANY, "kaola-leak-2019": EntityType.INCIDENT}


@pytest.mark.parametrize("text", ["拉卡拉", "라카라", "lakala", "LAKALA", "Lakala Payment Co., Ltd."])
def test_search_finds_lakala_in_any_script(seeded: GraphStore, text: str) -> None:
    """Names and aliases in Chinese, Korean and Latin script, any case, with a legal suffix."""
    assert seeded.search(text, None, 5)[0].id == "lakala"


def test_search_ranks_exact_then_prefix_then_contained(store: GraphStore) -> None:
    """Exact key first, then prefix matches (shorter name first), then contained; type filter and limit."""
    ingest(store, batch(company("kola", "Kola"), company("labrador", "Labrador"), company("lakala", "Lakala"),
                        company("la", "La"), entity("Person", "lalo", "Lalo")))
    ranked = [e.id for e in store.search("la", [EntityType.COMPANY], 10)]
    assert ranked == ["la", "lakala", "labrador", "kola"]
    assert [e.id for e in store.search("la", None, 3)] == ["la", "lalo", "lakala"]
    assert store.search("  ", None, 3) == []


def test_list_entities_pages_by_id(seeded: GraphStore, seed: Batch) -> None:
    """Cursor pagination walks every company once, in id order."""
    pages, after = [], None
    while page := seeded.list_entities(EntityType.COMPANY, after, 2):
        pages.append([e.id for e in page])
        after = page[-1].id
    assert all(len(p) <= 2 for p in pages)
    assert [i for p in pages for i in p] == sorted(r.id for r, _ in seed.entities if _type_of(r) == "Company")


def test_relations_touching(seeded: GraphStore, seed: Batch) -> None:
    """Relations of the asked types with either endpoint among the ids."""
    types = [RelationType.OWNS, RelationType.AFFECTED]
    expected = sorted(relation_id(r) for r, _ in seed.relations
                      if _type_of(r) in types and "lakala" in (r.source, r.target))
    assert expected == ["AFFECTED|kaola-leak-2019|lakala", "OWNS|lakala|kaola|"]  # by hand from the seed
    assert [s.id for s in seeded.relations_touching(["lakala"], types)] == expected
    assert seeded.relations_touching(["lakala"], []) == []


def test_get_relations_by_id(seeded: GraphStore) -> None:
    """Relations come back with their full record; unknown and malformed ids are absent."""
    found = seeded.get_relations(["OWNS|lakala|kaola|", "OWNS|x|y|", "garbage"])
    assert list(found) == ["OWNS|lakala|kaola|"]
    record = found["OWNS|lakala|kaola|"].record
    assert (record.source, getattr(record, "share", None)) == ("lakala", 0.324)


def test_iter_edges_equal_the_file_and_the_embedded_store(
    seeded: GraphStore, seed: Batch, seed_store: SqliteStore
) -> None:
    """The projection feed, in pages, holds exactly the analytic relations of the file."""
    pages = list(seeded.iter_edges(ANALYTIC_RELATIONS, page_size=3))
    assert all(0 < len(page) <= 3 for page in pages)
    expected = {_edge(relation_id(r), r) for r, _ in seed.relations if _type_of(r) in ANALYTIC_RELATIONS}
    assert _edges(seeded) == expected == _edges(seed_store)


def test_edges_into_reads_the_incoming_relations_of_a_type(seeded: GraphStore, seed: Batch) -> None:
    """The narrow read the native share check uses: relations into the ids, as EdgeRows, nothing else."""
    expected = {_edge(relation_id(r), r) for r, _ in seed.relations
                if _type_of(r) == "OWNS" and r.target in ("kaola", "alipay")}
    assert set(seeded.edges_into(["kaola", "alipay", "nobody"], [RelationType.OWNS])) == expected
    assert {row.source for row in expected} == {"lakala", "alibaba"}
    assert seeded.edges_into(["kaola"], []) == []


def test_projection_equals_the_embedded_stores(seeded: GraphStore, seed_store: SqliteStore) -> None:
    """Same input, same projection (up to node numbering), with cross-holdings and dated stakes added."""
    extra = batch(*(company(i) for i in "abcp"), owns("a", "b", 0.6), owns("b", "c", 0.5), owns("c", "b", 0.2),
                  owns("p", "a", 0.3, valid_from="2020-01-01", valid_to="2024-01-01"), owns("p", "a", None))
    for target in (seeded, seed_store):
        ingest(target, extra)
    assert _canonical_projection(build_projection(seeded)) == _canonical_projection(build_projection(seed_store))


def test_liability_and_exposure_answers_equal_the_embedded_stores(
    seeded: GraphStore, seed_store: SqliteStore, seed: Batch
) -> None:
    """The service answers every incident's liability chain and every company's exposure the same."""
    import corpgraph.graph.service as service
    ours, reference = service.CorpGraph(seeded), service.CorpGraph(seed_store)
    incidents = [r.id for r, _ in seed.entities if _type_of(r) == "Incident"]
    companies = [r.id for r, _ in seed.entities if _type_of(r) == "Company"]
    assert len(incidents) == 3 and len(companies) == 6
    # Not vacuous: by hand, Lakala owns 32.4% of Kaola, which answers for the 2019 leak.
    parties = {p.entity: p.weight for p in ours.liability_chain("kaola-leak-2019").parties}
    assert parties["lakala"] == pytest.approx(0.324) and parties["kaola"] == 1.0
    for incident in incidents:
        assert canonical(ours.liability_chain(incident)) == canonical(reference.liability_chain(incident))
    for entity_id in companies:
        assert canonical(ours.exposure(entity_id)) == canonical(reference.exposure(entity_id))


# --- identity: the identifier index and users' decisions ------------------------------------------------

LEI = "549300O897ZC5H7CY412"


def test_identifier_index_follows_every_write(store: GraphStore) -> None:
    """Normalised keys are indexed on write and replaced with the record; only shared keys are listed as shared."""
    ingest(store, batch(company("lei:a", identifiers=[{"scheme": "LEI", "id": LEI}]),
                        company("bods:a", identifiers=[{"scheme": "lei", "id": f" {LEI[:4]} {LEI[4:].lower()} "},
                                                       {"scheme": "GB-COH", "id": " 03209885 "}]),
                        company("plain")))
    # by hand: "lei" -> "LEI", the LEI upper-cased without spaces; the company number only trimmed
    assert store.ids_with_identifier(f"LEI:{LEI}") == ["bods:a", "lei:a"]
    assert store.ids_with_identifier("GB-COH:03209885") == ["bods:a"]
    assert store.ids_with_identifier("GB-COH:0320988") == []  # a prefix of a key is not the key
    assert list(store.shared_identifiers()) == [(f"LEI:{LEI}", ["bods:a", "lei:a"])]
    ingest(store, batch(company("bods:a", identifiers=[{"scheme": "GB-COH", "id": "03209885"}])))
    assert store.ids_with_identifier(f"LEI:{LEI}") == ["lei:a"]
    assert list(store.shared_identifiers()) == []


def test_judgements_are_one_per_pair_and_survive_reloads(seeded: GraphStore, seed: Batch) -> None:
    """A decision is stored in pair order, replaces the pair's earlier one, bumps the revision, outlives reloads."""
    revision = seeded.revision()
    made = seeded.add_judgement("lakala", "kaola", "same", "alice")
    assert (made.a, made.b, made.verdict, made.by) == ("kaola", "lakala", Verdict.SAME, "alice")
    assert seeded.revision() == revision + 1
    seeded.add_judgement("kaola", "lakala", Verdict.DIFFERENT, "bob")
    seeded.add_judgement("alipay", "ctrip", "different", "it's me")
    ingest(seeded, seed)
    assert [(j.a, j.b, j.verdict.value, j.by) for j in seeded.judgements()] == [
        ("alipay", "ctrip", "different", "it's me"), ("kaola", "lakala", "different", "bob")]
    assert all(j.at.endswith("+00:00") for j in seeded.judgements())  # UTC timestamps
    with pytest.raises(ValueError, match="two different ids"):
        seeded.add_judgement("kaola", "kaola", "same", "alice")


def test_identity_merges_the_same_on_every_store(store: GraphStore) -> None:
    """A GLEIF-shaped and a BODS-shaped record of one company (same LEI): one entity, the same answers."""
    import corpgraph.graph.service as service
    src_old = {"publisher": "GLEIF", "title": "golden copy", "published_on": "2024-01-01"}
    src_new = {"publisher": "Register", "title": "PSC", "recorded_on": "2024-06-01"}
    ingest(store, batch(company("lei:f", identifiers={"LEI": LEI}), company("lei:p", identifiers={"LEI": "P1"}),
                        company("bods:f", identifiers=[{"scheme": "lei", "id": LEI.lower()}]),
                        company("bods:p", identifiers={"LEI": "P1"}),
                        owns("lei:p", "lei:f", 0.6, valid_from="2020-01-01", sources=[src_old]),
                        owns("bods:p", "bods:f", 0.55, valid_from="2020-01-01", sources=[src_new])))
    graph = service.CorpGraph(store)
    [stake] = graph.owners(f"LEI:{LEI}")
    # by hand: one stake bods:p -> bods:f ("bods:" sorts first); 55% recorded 2024-06-01 beats 60% of 2024-01-01
    assert (stake.owner, stake.company, stake.direct, stake.conflicting) == ("bods:p", "bods:f", 0.55, True)
    assert stake.statements == ("OWNS|bods:p|bods:f|2020-01-01", "OWNS|lei:p|lei:f|2020-01-01")
    assert graph.entities(["lei:f"])["lei:f"].id == "bods:f" and graph.referents("bods:f") == ["lei:f"]


# --- backend quirks (named) -----------------------------------------------------------------------------

def test_neo4j_schema_ddl_runs_twice(driver_store: Neo4jStore) -> None:
    """init_schema on Community: every constraint/index statement runs, and again (IF NOT EXISTS) without
    error; the Enterprise-only existence constraints are reported as skipped, not sent."""
    expected = len(cypher.schema_statements())
    for _ in range(2):
        report = driver_store.init_schema()
        assert (report.applied, report.needs_enterprise) == (expected, cypher.enterprise_schema_statements())


def test_neo4j_constraint_rejects_an_id_reused_by_another_type(driver_store: Neo4jStore, seed: Batch) -> None:
    """Bypassing ingest's checks, the uniqueness constraint on :Entity(id) still refuses a second 'lakala'."""
    ingest(driver_store, seed)
    before = driver_store.counts()
    with pytest.raises(ConstraintViolation, match="already"):
        driver_store.write(batch(company("fresh"), entity("Person", "lakala")))
    assert driver_store.counts() == before


@pytest.mark.parametrize("readers", [1, 2, 3])
def test_neo4j_feed_readers_share_a_type_and_keep_one_readers_order(driver_store: Neo4jStore, readers: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Several feed readers split each type's id range and read the shares at once; the pages still come as one
    reader gives them: type after type (ANALYTIC_RELATIONS' order), each in relation id order, each page full
    but a share's last."""
    companies = "abcdefg"
    ingest(driver_store, batch(*(company(c) for c in companies),
                               *(owns(c, companies[k + 1], 0.5) for k, c in enumerate(companies[:-1])),
                               rel("CONTROLS", "b", "a", kind="board"), rel("DEPENDS_ON", "a", "b")))
    monkeypatch.setattr(driver_store, "readers", readers)
    pages = list(driver_store.iter_edges([RelationType.CONTROLS, RelationType.OWNS, RelationType.DEPENDS_ON],
                                         page_size=2))
    # by hand: six OWNS |a|b| ... |f|g|, then the types in the order asked
    owned = [f"OWNS|{c}|{companies[k + 1]}|" for k, c in enumerate(companies[:-1])]
    assert [i for page in pages for i in page.columns["id"]] == ["CONTROLS|b|a|board|", *owned,
                                                                  "DEPENDS_ON|a|b|unspecified"]
    # OWNS' six in shares of 6 // readers (the ids at ranks 2, 4 for three readers): pages of 2 in each share
    splits = {1: [], 2: [owned[2]], 3: [owned[1], owned[3]]}[readers]
    assert driver_store._feed_splits(RelationType.OWNS, 2) == splits
    assert driver_store._feed_splits(RelationType.CONTROLS, 2) == []  # one page: not split
    owns_pages = [len(page) for page in pages if page.columns["type"][0] == RelationType.OWNS]
    assert owns_pages == {1: [2, 2, 2], 2: [2, 1, 2, 1], 3: [2, 2, 2]}[readers]
    assert [page.columns["source"] for page in pages][0] == ["b"]


def test_driver_store_refuses_relations_to_unknown_ids_when_written_directly(driver_store: Neo4jStore) -> None:
    """Written around graph.write.ingest, a relation whose endpoint is nowhere is refused before anything is sent."""
    with pytest.raises(StoreError, match=r"unknown ids \['ghost'\]"):
        driver_store.write(batch(company("real"), owns("real", "ghost", 0.5)))
    assert driver_store.counts() == {}


def test_unreachable_server_raises_store_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on the port: StoreUnavailable saying to check NEO4J_URI."""
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    with pytest.raises(StoreUnavailable, match="check NEO4J_URI"):
        open_neo4j_store(Settings())


def test_missing_uri_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NEO4J_URI: a StoreError naming the variable, before any connection attempt."""
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.delenv("CORPGRAPH_NEO4J_URI", raising=False)
    with pytest.raises(StoreError, match="NEO4J_URI"):
        open_neo4j_store(Settings())


def test_db_init_command_says_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """`corpgraph db init` against a closed port exits 2 with the StoreUnavailable advice."""
    from typer.testing import CliRunner

    from corpgraph.api.cli import app

    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")
    result = CliRunner().invoke(app, ["db", "init"])
    assert result.exit_code == 2
    assert "check NEO4J_URI" in " ".join(result.output.split())


# --- helpers --------------------------------------------------------------------------------------------

def _type_of(record: Any) -> str:
    """The `type` field of any record (entity or relation)."""
    return str(record.type)


def _file_counts(source: Batch) -> dict[str, int]:
    """Records per type in a batch, once per id (entities) or relation identity (relations)."""
    counts = Counter(_type_of(r) for r in {r.id: r for r, _ in source.entities}.values())
    counts.update(_type_of(r) for r in {relation_id(r): r for r, _ in source.relations}.values())
    return dict(counts)


def _edge(rel_id: str, record: Any) -> EdgeRow:
    """The EdgeRow a relation record should come back as."""
    row = edge_row(rel_id, record)
    return EdgeRow(**{**row, "type": RelationType(row["type"])})


def _edges(store: GraphStore) -> set[EdgeRow]:
    """Every analytic edge of a store, from its projection feed."""
    return {row for page in store.iter_edges(ANALYTIC_RELATIONS) for row in page}


def _fail_after_first_chunks(store: GraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the store's write raise part-way, after it has already sent some rows in its transaction."""
    if isinstance(store, SqliteStore):
        def broken_write_relations(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("injected failure while writing relations (entities already written)")
        monkeypatch.setattr(sqlite_store.SqliteStore, "_write_relations", broken_write_relations)
        return
    real, calls = neo4j_steps.run_step, []

    def run_step(tx: Any, step: Any) -> None:
        calls.append(step)
        if len(calls) == 3:
            raise RuntimeError("injected failure after two chunks were sent")
        real(tx, step)
    for module in (neo4j_store, neo4j_steps, neo4j_loads):  # one-transaction writes, their plans, batched loads
        monkeypatch.setattr(module, "run_step", run_step)


def _canonical_projection(proj: Projection) -> list[tuple[Any, ...]]:
    """A projection as sorted edge tuples with ids, so that node numbering does not matter."""
    edges = []
    for k, rel_id in enumerate(proj.relation_ids):
        share = None if math.isnan(proj.share[k]) else float(proj.share[k])
        incident = proj.ids[proj.incident[k]] if proj.incident[k] >= 0 else None
        edges.append((rel_id, int(proj.type[k]), proj.ids[proj.src[k]], proj.ids[proj.dst[k]], share,
                      int(proj.valid_from[k]), int(proj.valid_to[k]), incident))
    return sorted(edges)


def test_every_write_makes_the_revision_grow(store: GraphStore) -> None:
    """Projection caches key on the revision: each committed write that changes a record makes it strictly larger."""
    seen = [store.revision()]
    for name, title in (("a", "A"), ("b", "B"), ("a", "A renamed")):  # the third changes "a": a write all the same
        ingest(store, batch(company(name, title)))
        seen.append(store.revision())
    assert all(later > earlier for earlier, later in zip(seen, seen[1:])), seen


def test_changes_since_lists_what_each_write_changed(store: GraphStore) -> None:
    """The change log: one entry per revision, with the relation and entity ids the write upserted."""
    start = store.revision()
    ingest(store, companies_owning(("a", "b", 0.5)))
    ingest(store, batch(owns("a", "b", 0.4)))  # a changed share: the same relation id
    store.add_judgement("a", "b", Verdict.DIFFERENT, "alice")
    log = [(c.revision - start, c.kind, c.relations, c.entities) for c in store.changes_since(start)]
    assert log == [(1, ChangeKind.WRITE, ("OWNS|a|b|",), ("a", "b")), (2, ChangeKind.WRITE, ("OWNS|a|b|",), ()),
                   (3, ChangeKind.DECISION, (), ())]
    assert store.changes_since(start + 3) == []


def test_writes_apply_as_deltas_answering_as_a_fresh_build(store: GraphStore) -> None:
    """corpgraph.graph.projection.delta on each store: every step is applied from the change log and answers as a rebuild would."""
    world = World(7)
    ingest(store, world.first())
    graph = CorpGraph(store, fresh_wait=0.0)
    check_delta(graph, store)
    for name, step in DELTA_STEPS:
        graph.write(step(world))
        assert built(graph).applied is Applied.DELTA, name
        check_delta(graph, store)


def test_neo4j_revision_grows_when_everything_is_deleted(driver_store: Neo4jStore) -> None:
    """Deleting everything bumps the revision instead of resetting it, so a running server rebuilds."""
    ingest(driver_store, batch(company("a")))
    before = driver_store.revision()
    driver_store.delete_all()
    assert driver_store.counts() == {}
    assert driver_store.revision() == before + 1  # one bump, in the deleting transaction
    graph = CorpGraph(driver_store)
    assert graph.projection().size == 0
    ingest(driver_store, companies_owning(("a", "b", 0.5)))
    assert graph.live.fresh().projection.size == 2  # a and b
    driver_store.delete_all()  # a server that had seen "a owns b" must see it gone
    assert graph.live.fresh().projection.size == 0
