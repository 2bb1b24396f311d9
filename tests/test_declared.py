"""Declared versus computed: declarations beside corpgraph's figures, and where they disagree."""
from __future__ import annotations

import pytest

from corpgraph.graph.analytics.results import Declared, Role
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import approx, batch, company, entity, owns, rel
from tests.test_api_safety import client_for, gql

STATEMENT = [{"publisher": "Open Ownership", "title": "BODS 0.4 indirect example", "record_id": "d8d75ccf40e4"}]


def _declared(source: str, target: str, kind: str, **fields: object) -> dict[str, object]:
    """A raw DECLARED_INTEREST record."""
    return rel("DECLARED_INTEREST", source, target, kind=kind, sources=STATEMENT, **fields)


@pytest.fixture
def declared(tmp_store: SqliteStore) -> CorpGraph:
    """BODS 0.4's indirect-ownership example as native records, and a GLEIF-like group.

    Company A is owned 60% directly by Company B; Person 1 has an interest of unknown size in B and
    declares 30% of A indirectly (not an edge). Person 2 declares 80% of A with no stake anywhere.
    P holds 60% of M, M 60% of C; a source declares Q the ultimate parent of C and P that of M.
    A is responsible for incident i, C for incident j.
    """
    ingest(tmp_store, batch(
        company("a", "Company A"), company("b", "Company B"), entity("Person", "person1", "Person 1"),
        entity("Person", "person2", "Person 2"), *(company(c) for c in ("p", "m", "c", "q")),
        entity("Incident", "i", category="data_leak"), entity("Incident", "j", category="outage"),
        owns("b", "a", 0.6), owns("person1", "b", None),
        _declared("person1", "a", "indirect_ownership", share=0.3),
        _declared("person2", "a", "indirect_ownership", share=0.8),
        owns("p", "m", 0.6), owns("m", "c", 0.6),
        _declared("q", "c", "ultimate_parent"), _declared("p", "m", "ultimate_parent"),
        rel("RESPONSIBLE_FOR", "a", "i"), rel("RESPONSIBLE_FOR", "c", "j"),
    ))
    return CorpGraph(tmp_store)


def test_owners_show_a_declared_indirect_share_beside_the_computed_one(declared: CorpGraph) -> None:
    got = {h.owner: h for h in declared.owners("a")}
    person = got["person1"]
    assert person.declared == (Declared("indirect_ownership", 0.3, relation_id="DECLARED_INTEREST|person1|a|indirect_ownership|"),)
    # computed: Person 1's share of B is unknown, so integrated is no number; its bounds are
    # 0 * 0.6 = 0 and (all of B, nobody else holding it) 1.0 * 0.6 = 0.6
    assert person.integrated is None and person.unknown
    assert (person.integrated_min, person.integrated_max) == (0.0, approx(0.6))
    assert got["b"].integrated == pytest.approx(0.6) and got["b"].declared == ()
    # Person 2 declares 80% but holds nothing corpgraph knows of: listed, with no share, beside its declaration
    assert got["person2"].integrated is None and got["person2"].declared[0].share == 0.8


def test_the_disagreements_list_what_the_computation_contradicts(declared: CorpGraph) -> None:
    found, more = declared.declared_disagreements()
    assert not more
    # 30% lies within Person 1's computed [0, 0.6]: no disagreement. 80% is outside Person 2's [0, 0].
    # The controlling parent of C is P (P controls M, M holds 60% of C), not the declared Q; of M it is P.
    assert [(d.company, d.holder, d.declared.kind) for d in found] == [("a", "person2", "indirect_ownership"),
                                                                        ("c", "q", "ultimate_parent")]
    assert (found[0].integrated_min, found[0].integrated_max) == (0.0, 0.0)
    assert found[1].controlling_parent == "p"
    page, more = declared.declared_disagreements(limit=1)
    assert [d.company for d in page] == ["a"] and more
    assert [d.company for d in declared.declared_disagreements(after="a")[0]] == ["c"]


def test_the_liability_chain_shows_declarations_beside_its_figures(declared: CorpGraph) -> None:
    parties = {(p.entity, p.role): p for p in declared.liability_chain("i").parties}
    assert parties[("person1", Role.OWNER)].declared[0].share == 0.3
    assert parties[("person1", Role.OWNER)].weight_max == pytest.approx(0.6)
    assert ("person2", Role.OWNER) not in parties  # a declaration alone carries no weight
    responsible = next(p for p in declared.liability_chain("j").parties if p.role is Role.RESPONSIBLE)
    assert responsible.controlling_parent == "p" and responsible.declared[0].kind == "ultimate_parent"


def test_graphql_lists_the_disagreements(declared: CorpGraph, tmp_store: SqliteStore) -> None:
    query = ('{ declaredDisagreements { nodes { company { id } holder { id } declared { kind share } integratedMax '
             'controllingParent { id } } pageInfo { hasNextPage } } }')
    with client_for(tmp_store) as client:
        answer = gql(client, query)["data"]["declaredDisagreements"]
    assert answer["pageInfo"] == {"hasNextPage": False}
    assert answer["nodes"] == [
        {"company": {"id": "a"}, "holder": {"id": "person2"}, "declared": {"kind": "indirect_ownership", "share": 0.8},
         "integratedMax": 0.0, "controllingParent": None},
        {"company": {"id": "c"}, "holder": {"id": "q"}, "declared": {"kind": "ultimate_parent", "share": None},
         "integratedMax": None, "controllingParent": {"id": "p"}},
    ]
