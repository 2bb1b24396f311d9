"""Liability chains with hand-worked weights: roles, min_share, min_hop_share, max_depth, paths and sources."""
from __future__ import annotations

from datetime import date

import pytest

from corpgraph.graph.analytics.results import LiabilityChain, Party, Role
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import NotFound
from tests.factory import batch, company, entity, owns, rel

SRC = [{"publisher": "Register", "title": "Filing 1"}]


def _parties(chain: LiabilityChain) -> dict[tuple[str, Role], Party]:
    """Parties keyed by (entity, role)."""
    return {(p.entity, p.role): p for p in chain.parties}


def _route(party: Party) -> list[list[str]]:
    """Each path of a party as its node sequence."""
    return [[p.hops[0].source, *(h.target for h in p.hops)] for p in party.paths]


@pytest.fixture
def group(tmp_store: SqliteStore) -> CorpGraph:
    """P holds 60% of A, A 70% of R, Q 10% of R, X 50% of A and 10% of R; R is responsible for incident I."""
    ingest(tmp_store, batch(
        *(company(c) for c in ("p", "a", "r", "q", "x", "s", "t")), entity("Actor", "gang"),
        entity("Incident", "i", category="data_leak"), entity("Incident", "other", category="outage"),
        owns("p", "a", 0.6, sources=SRC), owns("a", "r", 0.7), owns("q", "r", 0.1), owns("x", "a", 0.3),
        owns("x", "r", 0.1), rel("RESPONSIBLE_FOR", "r", "i", role="operator"), rel("PERPETRATED", "gang", "i"),
        rel("SUPPLIED_DATA_TO", "r", "s", incident="i"), rel("SUPPLIED_DATA_TO", "r", "t", incident="other"),
    ))
    return CorpGraph(tmp_store)


def test_roles_and_weights(group: CorpGraph) -> None:
    got = _parties(group.liability_chain("i"))
    assert got[("r", Role.RESPONSIBLE)].weight == 1.0 and got[("r", Role.RESPONSIBLE)].detail == "operator"
    assert got[("a", Role.OWNER)].weight == pytest.approx(0.7) and got[("a", Role.OWNER)].controls
    # P -> R = 0.6 * 0.7 = 0.42; P controls A (0.6), A holds 0.7 of R: P controls R
    assert got[("p", Role.OWNER)].weight == pytest.approx(0.42) and got[("p", Role.OWNER)].controls
    # X -> R = 0.1 + 0.3 * 0.7 = 0.31; no control (X's power in R is its own 0.1)
    assert got[("x", Role.OWNER)].weight == pytest.approx(0.31) and not got[("x", Role.OWNER)].controls
    assert got[("q", Role.OWNER)].weight == pytest.approx(0.1)
    assert got[("s", Role.DATA_RECIPIENT)].detail == "r"
    assert ("t", Role.DATA_RECIPIENT) not in got  # data supplied for another incident
    assert got[("gang", Role.PERPETRATOR)].weight == 1.0


def test_min_share_filters_owners_on_the_integrated_product(group: CorpGraph) -> None:
    owners = {p.entity for p in group.liability_chain("i", min_share=0.35).parties if p.role is Role.OWNER}
    assert owners == {"a", "p"}  # 0.7 and 0.42 stay; X (0.31) and Q (0.1) go


def test_paths_are_ranked_by_product_and_carry_shares_and_sources(group: CorpGraph) -> None:
    got = _parties(group.liability_chain("i"))
    # X -> R: X->A->R = 0.3 * 0.7 = 0.21 before X->R = 0.1; each ends with the RESPONSIBLE_FOR hop
    assert _route(got[("x", Role.OWNER)]) == [["x", "a", "r", "i"], ["x", "r", "i"]]
    assert [p.weight for p in got[("x", Role.OWNER)].paths] == [pytest.approx(0.21), pytest.approx(0.1)]
    first = got[("p", Role.OWNER)].paths[0].hops[0]
    assert (first.source, first.target, first.share) == ("p", "a", 0.6)
    assert [s.publisher for s in first.sources] == ["Register"]
    assert first.relation_id == "OWNS|p|a|"


def test_min_hop_share_and_max_depth_bound_paths_not_weights(group: CorpGraph) -> None:
    got = _parties(group.liability_chain("i", min_hop_share=0.2))
    assert _route(got[("x", Role.OWNER)]) == [["x", "a", "r", "i"]]  # the 10% hop X->R is hidden
    assert got[("x", Role.OWNER)].weight == pytest.approx(0.31)  # the weight stays exact
    chain = group.liability_chain("i", max_depth=1)
    shallow = _parties(chain)
    assert shallow[("p", Role.OWNER)].paths == [] and shallow[("p", Role.OWNER)].weight == pytest.approx(0.42)
    assert "OWNS|p|a|" not in {e.id for e in chain.graph.edges}  # the subgraph shows only the paths kept


def test_subgraph_holds_the_parties_and_the_hops_shown(group: CorpGraph) -> None:
    chain = group.liability_chain("i", top_k=1)
    assert {n.id for n in chain.graph.nodes} == {"i", "r", "a", "p", "q", "x", "s", "gang"}
    assert {e.id for e in chain.graph.edges} == {
        "RESPONSIBLE_FOR|r|i|operator", "OWNS|a|r|", "OWNS|p|a|", "OWNS|q|r|", "OWNS|x|a|",
        "SUPPLIED_DATA_TO|r|s|i", "PERPETRATED|gang|i",
    }


def test_seed_leak_chain(seed_store: SqliteStore) -> None:
    chain = CorpGraph(seed_store).liability_chain("kaola-leak-2019", as_of=date(2020, 1, 1))
    got = {(p.entity, p.role): p for p in chain.parties}
    assert set(got) == {("kaola", Role.RESPONSIBLE), ("lakala", Role.OWNER), ("heipachong", Role.DATA_RECIPIENT)}
    lakala = got[("lakala", Role.OWNER)]
    assert lakala.weight == pytest.approx(0.324) and not lakala.controls and lakala.detail == "kaola"
    assert lakala.paths[0].hops[0].sources[0].publisher.startswith("상하이방")


def test_seed_unknown_owner_is_a_party_without_a_number(seed_store: SqliteStore) -> None:
    got = _parties(CorpGraph(seed_store).liability_chain("alipay-outage-2015", min_share=0.5))
    alibaba = got[("alibaba", Role.OWNER)]
    assert alibaba.weight is None and alibaba.unknown and alibaba.paths[0].weight is None


def test_responsibility_outside_as_of_does_not_count(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("r"), entity("Incident", "i", category="outage"),
                            rel("RESPONSIBLE_FOR", "r", "i", valid_from="2020-01-01")))
    graph = CorpGraph(tmp_store)
    assert graph.liability_chain("i", as_of=date(2019, 1, 1)).parties == []
    assert [p.entity for p in graph.liability_chain("i", as_of=date(2021, 1, 1)).parties] == ["r"]


def test_unknown_incident(seed_store: SqliteStore) -> None:
    with pytest.raises(NotFound, match="no Incident with id 'x'"):
        CorpGraph(seed_store).liability_chain("x")


def test_max_owners_keeps_the_strongest_and_counts_all(tmp_store: SqliteStore) -> None:
    """Three owners of R with 0.5, 0.3 and 0.1 (hand-worked: their integrated shares are the direct ones,
    no other walks exist): max_owners=2 keeps 0.5 and 0.3, owners_total still says 3."""
    from corpgraph.graph.write.ingest import ingest
    from corpgraph.graph.service import CorpGraph
    from tests.factory import batch, company, entity, owns, rel

    ingest(tmp_store, batch(company("r"), company("a"), company("b"), company("c"),
                            entity("Incident", "i", category="outage"), owns("a", "r", 0.5), owns("b", "r", 0.3),
                            owns("c", "r", 0.1), rel("RESPONSIBLE_FOR", "r", "i")))
    chain = CorpGraph(tmp_store).liability_chain("i", max_owners=2)
    owners = [(p.entity, p.weight) for p in chain.parties if p.role.value == "OWNER"]
    assert owners == [("a", 0.5), ("b", 0.3)]
    assert chain.owners_total == 3
    assert CorpGraph(tmp_store).liability_chain("i").owners_total == 3
