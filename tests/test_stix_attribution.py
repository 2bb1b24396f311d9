"""Stated attribution is kept (issue 20, item 11): STIX `attributed-to` from a threat actor to an identity, and
from an intrusion set to a threat actor, become ATTRIBUTED_TO; liability chains show it and nobody's liability
changes.

The hand-made objects: incident I is attributed to intrusion set S, S to threat actor T (the chain: S and T
PERPETRATED I); I impacts the organisation V (a company: RESPONSIBLE_FOR I as its operator). T is attributed
to three identities: G, a government organisation (an Organization), with confidence 80; P, an individual (a
Person); and F, an organisation in no public sector (a Company).
"""
from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from corpgraph.api.context import make_context
from corpgraph.api.graphql_schema import make_schema
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.analytics.results import LiabilityChain, Role
from corpgraph.graph.exports import export
from corpgraph.graph.service import Applied, CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.formats.stix import FORMAT
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from tests.factory import batch, company, entity, rel
from tests.test_delta import built
from tests.test_import_stix_forms import FORMS, obj
from tests.test_import_stix_forms import rel as stix_rel

APT1 = Path("/work/shared/realdata/stix/apt1.json")
I, S, T = ("incident--11111111-1111-4111-8111-111111111111", "intrusion-set--22222222-2222-4222-8222-222222222222",
           "threat-actor--33333333-3333-4333-8333-333333333333")
V, G, P, F = (f"identity--{n * 8}-{n * 4}-4{n * 3}-8{n * 3}-{n * 12}" for n in "4567")
CHAIN = [obj(I, name="Breach"), obj(S, name="Set S"), obj(T, name="Actor T"),
         obj(V, name="Victim Ltd", identity_class="organization"),
         obj(G, name="Ministry of State Security", identity_class="organization", sectors=["government-national"]),
         obj(P, name="Pat Hacker", identity_class="individual"),
         obj(F, name="Front Company Ltd", identity_class="organization"),
         stix_rel(1, "attributed-to", I, S), stix_rel(2, "attributed-to", S, T), stix_rel(3, "impacts", I, V)]
STATED = [{**stix_rel(4, "attributed-to", T, G), "confidence": 80}, stix_rel(5, "attributed-to", T, P),
          stix_rel(6, "attributed-to", T, F)]


def stix(x: str) -> str:
    """Our id of a STIX object."""
    return f"stix:{x}"


def load(store: SqliteStore, tmp_path: Path, objects: list[dict[str, Any]], form: str = "bundle") -> CorpGraph:
    """The objects written in one form and loaded into the store."""
    path = tmp_path / "objects.json"
    path.write_text(FORMS[form](objects), encoding="utf-8")
    ingest(store, load_file(path))
    return CorpGraph(store)


def attributions(store: SqliteStore) -> set[tuple[str, str]]:
    """(source, target) of every stored ATTRIBUTED_TO, STIX ids."""
    ids = [stix(x) for x in (S, T)]
    return {(r.record.source.removeprefix("stix:"), r.record.target.removeprefix("stix:"))
            for r in store.relations_touching(ids, [RelationType.ATTRIBUTED_TO])}


def liable(chain: LiabilityChain) -> set[tuple[str, Role, float | None]]:
    """(entity, role, weight) of every party: what attribution must not change."""
    return {(p.entity, p.role, p.weight) for p in chain.parties}


@pytest.mark.parametrize("form", list(FORMS))
def test_stated_attribution_is_stored_in_every_form(form: str, tmp_path: Path, tmp_store: SqliteStore) -> None:
    graph = load(tmp_store, tmp_path, CHAIN + STATED, form)
    # S -> T is both a link of the incident's chain (S and T perpetrated I) and a stated attribution; T's three.
    assert attributions(tmp_store) == {(S, T), (T, G), (T, P), (T, F)}
    assert {type(e).__name__ for e in graph.entities([stix(G), stix(P), stix(F)]).values()} == {
        "Organization", "Person", "Company"}  # by identity_class and sector, as every identity is read
    (to_g,) = [r for r in tmp_store.relations_touching([stix(G)], [RelationType.ATTRIBUTED_TO])]
    assert to_g.record.confidence == 0.8  # STIX 80 of 100
    assert to_g.record.sources[0].record_id == STATED[0]["id"]  # the relationship is the source


def test_a_confidence_that_is_no_number_is_no_confidence(tmp_path: Path, tmp_store: SqliteStore) -> None:
    """STIX confidence is an integer 0..100: `true` and "high" give none (as an absent one), not 1 of 100."""
    odd = [{**stix_rel(4, "attributed-to", T, G), "confidence": True},
           {**stix_rel(5, "attributed-to", T, P), "confidence": "high"}, stix_rel(6, "attributed-to", T, F)]
    load(tmp_store, tmp_path, CHAIN + odd)
    found = {r.record.target: r.record.confidence
             for r in tmp_store.relations_touching([stix(T)], [RelationType.ATTRIBUTED_TO]) if r.record.source == stix(T)}
    assert found[stix(G)] == found[stix(P)] == found[stix(F)]  # F's relationship gives none
    assert found[stix(G)] != 0.01


def test_an_identity_the_file_leaves_open_is_a_placeholder_of_unknown_kind(tmp_path: Path,
                                                                          tmp_store: SqliteStore) -> None:
    """Attributed to an identity the file does not hold: no identity_class to read, so an Organization of kind
    `unknown` (as an identity of class unknown is read), marked a placeholder for the real record to replace."""
    load(tmp_store, tmp_path, [obj(T, name="Actor T"), stix_rel(7, "attributed-to", T, G)])
    (open_end,) = tmp_store.get_entities([stix(G)]).values()
    assert (type(open_end).__name__, open_end.kind, open_end.placeholder) == (  # type: ignore[attr-defined]
        "Organization", "unknown", True)
    assert attributions(tmp_store) == {(T, G)}


def test_loading_twice_changes_nothing(tmp_path: Path, tmp_store: SqliteStore) -> None:
    load(tmp_store, tmp_path, CHAIN + STATED)
    before = (tmp_store.counts(), attributions(tmp_store))
    load(tmp_store, tmp_path, CHAIN + STATED)
    assert (tmp_store.counts(), attributions(tmp_store)) == before
    assert before[0]["ATTRIBUTED_TO"] == 4


def test_the_liability_chain_shows_attribution_and_liable_parties_are_unchanged(tmp_path: Path,
                                                                                 tmp_store: SqliteStore) -> None:
    other = SqliteStore(tmp_path / "without.db")
    without = load(other, tmp_path, CHAIN).liability_chain(stix(I))
    other.close()
    chain = load(tmp_store, tmp_path, CHAIN + STATED).liability_chain(stix(I))
    # By hand: V answers for I as its operator (weight 1); S and T perpetrated it (weight 1 each). G, P and F
    # are attributed, never parties: the same three parties with the same weights as without the attribution.
    expected = {(stix(V), Role.RESPONSIBLE, 1.0), (stix(S), Role.PERPETRATOR, 1.0), (stix(T), Role.PERPETRATOR, 1.0)}
    assert liable(chain) == liable(without) == expected
    by_entity = {p.entity: p for p in chain.parties}
    # S is attributed to T, and on through T to T's three; T to its three; V (no actor) to nobody.
    assert set(by_entity[stix(S)].attributed_to) == {stix(T), stix(G), stix(P), stix(F)}
    assert set(by_entity[stix(T)].attributed_to) == {stix(G), stix(P), stix(F)}
    assert by_entity[stix(V)].attributed_to == () and by_entity[stix(S)].weight == 1.0
    assert {n.id for n in chain.graph.nodes} >= {stix(G), stix(P), stix(F)}
    assert {(e.source, e.target) for e in chain.graph.edges if e.type == "ATTRIBUTED_TO"} == {
        (stix(S), stix(T)), (stix(T), stix(G)), (stix(T), stix(P)), (stix(T), stix(F))}
    assert not {(e.source, e.target) for e in without.graph.edges if e.type == "ATTRIBUTED_TO"} - {
        (stix(S), stix(T))}  # without the stated ones, only the chain's own link is drawn
    # The exports of the chain carry them as drawn (GraphML: the relation type is the edge label).
    assert export(chain.graph, "graphml")[0].count(">ATTRIBUTED_TO</data>") == 4
    cytoscape = json.loads(export(chain.graph, "cytoscape")[0])["elements"]["edges"]
    assert [e["data"]["type"] for e in cytoscape].count("ATTRIBUTED_TO") == 4


def test_attribution_without_paths_is_listed_but_not_drawn(tmp_path: Path, tmp_store: SqliteStore) -> None:
    chain = load(tmp_store, tmp_path, CHAIN + STATED).liability_chain(stix(I), paths=False)
    (t,) = [p for p in chain.parties if p.entity == stix(T)]
    assert set(t.attributed_to) == {stix(G), stix(P), stix(F)} and chain.graph.nodes == []


def test_an_attributed_owner_keeps_only_its_owner_weight(tmp_store: SqliteStore) -> None:
    """A party that is both attributed and an owner of the responsible company is liable as an owner, with its
    share, and no more: attribution adds nothing to it."""
    ingest(tmp_store, batch(
        company("r"), company("f"), entity("Actor", "gang"), entity("Incident", "i", category="intrusion"),
        rel("OWNS", "f", "r", share=0.3), rel("RESPONSIBLE_FOR", "r", "i"), rel("PERPETRATED", "gang", "i"),
        rel("ATTRIBUTED_TO", "gang", "f")))
    chain = CorpGraph(tmp_store).liability_chain("i", as_of=date(2024, 1, 1))
    assert liable(chain) == {("r", Role.RESPONSIBLE, 1.0), ("f", Role.OWNER, 0.3), ("gang", Role.PERPETRATOR, 1.0)}
    assert [p.attributed_to for p in chain.parties if p.role is Role.PERPETRATOR] == [("f",)]
    # Nor is it exposed through the attribution: its one exposure is its 30% of the responsible company.
    exposure = CorpGraph(tmp_store).exposure("f", as_of=date(2024, 1, 1))
    assert [(e.incident, e.channel.value, e.weight) for e in exposure.items] == [("i", "OWNERSHIP", 0.3)]


def test_a_loop_of_attributions_ends_and_names_others_only(tmp_store: SqliteStore) -> None:
    """gang -> crew -> gang (two sources that disagree on who is behind whom) and crew -> boss: gang's attribution
    is crew and boss, never gang itself; both loop edges are drawn."""
    ingest(tmp_store, batch(entity("Actor", "gang"), entity("Actor", "crew"), entity("Person", "boss"),
                            entity("Incident", "i", category="intrusion"), rel("PERPETRATED", "gang", "i"),
                            rel("ATTRIBUTED_TO", "gang", "crew"), rel("ATTRIBUTED_TO", "crew", "gang"),
                            rel("ATTRIBUTED_TO", "crew", "boss")))
    chain = CorpGraph(tmp_store).liability_chain("i")
    (gang,) = chain.parties
    assert (gang.entity, sorted(gang.attributed_to)) == ("gang", ["boss", "crew"])
    assert {e.id for e in chain.graph.edges if e.type == "ATTRIBUTED_TO"} == {
        "ATTRIBUTED_TO|gang|crew", "ATTRIBUTED_TO|crew|gang", "ATTRIBUTED_TO|crew|boss"}


def test_an_attribution_loaded_later_reaches_a_built_projection(tmp_store: SqliteStore) -> None:
    """The projection takes a new ATTRIBUTED_TO like any analytic relation (its delta path, not only a rebuild)."""
    ingest(tmp_store, batch(company("r"), entity("Person", "boss"), entity("Actor", "gang"),
                            entity("Incident", "i", category="intrusion"), rel("RESPONSIBLE_FOR", "r", "i"),
                            rel("PERPETRATED", "gang", "i")))
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    assert [p.attributed_to for p in graph.liability_chain("i").parties if p.role is Role.PERPETRATOR] == [()]
    graph.write(batch(rel("ATTRIBUTED_TO", "gang", "boss")))
    assert [p.attributed_to for p in graph.liability_chain("i").parties if p.role is Role.PERPETRATOR] == [("boss",)]
    assert built(graph).applied is Applied.DELTA


def test_attribution_joins_an_actor_to_a_party_only(tmp_path: Path, tmp_store: SqliteStore) -> None:
    path = tmp_path / "wrong.jsonl"
    records = [company("c"), entity("Actor", "gang"), entity("Incident", "i", category="intrusion"),
               rel("ATTRIBUTED_TO", "c", "gang"), rel("ATTRIBUTED_TO", "gang", "i")]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        ingest(tmp_store, load_file(path))
    assert tmp_store.counts() == {}  # all or nothing
    assert [str(p) for p in info.value.problems] == [
        f"{path}:4: source: 'c' is a Company; ATTRIBUTED_TO source must be Actor",
        f"{path}:5: target: 'i' is a Incident; ATTRIBUTED_TO target must be Actor or Company or Organization or Person"]


def test_graphql_gives_attributed_to_beside_the_perpetrators(tmp_path: Path, tmp_store: SqliteStore) -> None:
    graph = load(tmp_store, tmp_path, CHAIN + STATED)
    query = ('query($id: ID!) { liabilityChain(incidentId: $id) { parties { role entity { id } attributedTo { id name } } '
             'graph { edges { type source target } } } }')
    result = asyncio.run(make_schema(ApiSettings()).execute(
        query, variable_values={"id": stix(I)}, context_value=make_context(graph, ApiSettings())))
    assert result.errors is None and result.data is not None
    parties = {p["entity"]["id"]: p for p in result.data["liabilityChain"]["parties"]}
    assert sorted(a["name"] for a in parties[stix(T)]["attributedTo"]) == [
        "Front Company Ltd", "Ministry of State Security", "Pat Hacker"]
    assert [p["role"] for p in parties.values() if p["attributedTo"]] == ["PERPETRATOR", "PERPETRATOR"]
    assert stix(G) not in parties  # attributed, not liable
    assert {"source": stix(T), "target": stix(G), "type": "ATTRIBUTED_TO"} in result.data["liabilityChain"]["graph"]["edges"]


def test_the_real_apt1_report_keeps_its_attributions(tmp_store: SqliteStore) -> None:
    """apt1.json (SOURCES.md): four threat actors attributed to the four individuals behind them (identities of
    class individual: Persons), the intrusion set to three threat actors; no incident, so nothing is perpetrated.
    Of its 30 relationships those 7 are kept; `uses` and `indicates` are not."""
    if not APT1.is_file():
        pytest.fail(f"the shared sample {APT1} is missing")
    coverage = Coverage(str(APT1), "stix")
    made = [item[1] for item in FORMAT.read(APT1, coverage) if isinstance(item, tuple)]
    relationships = coverage.as_dict()["kinds"]["relationship"]
    assert (relationships["read"], relationships["became"]) == (30, {"ATTRIBUTED_TO": 7})
    ingest(tmp_store, load_file(APT1))
    counts = tmp_store.counts()
    assert (counts["ATTRIBUTED_TO"], counts["Actor"], counts["Person"], counts.get("PERPETRATED", 0)) == (7, 6, 4, 0)
    actors = [r["id"] for r in made if r["type"] == "Actor"]
    ends = [(type_of(tmp_store, r.record.source), type_of(tmp_store, r.record.target))
            for r in tmp_store.relations_touching(actors, [RelationType.ATTRIBUTED_TO])]
    assert sorted(ends) == [("Actor", "Actor")] * 3 + [("Actor", "Person")] * 4


def type_of(store: SqliteStore, id: str) -> str:
    """The stored entity type of an id."""
    return str(store.get_entities([id])[id].type)  # type: ignore[attr-defined]
