"""Liability paths: the top-k by product without a step cap, `paths_cut_short`, and paths computed only when asked."""
from __future__ import annotations

from typing import Any

import pytest

from corpgraph.graph.analytics import liability
from corpgraph.graph.analytics.results import LiabilityChain, Party, Role
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company, entity, owns, rel
from tests.test_api_safety import client_for, gql


@pytest.fixture
def diamond(tmp_store: SqliteStore) -> CorpGraph:
    """X holds 50% of A, 40% of B and 5% of R; A holds 40% of R and 50% of B; B holds 40% of R; R did incident I.

    Every simple path X -> R, by hand:  X-A-R 0.5*0.4 = 0.20,  X-B-R 0.4*0.4 = 0.16,
    X-A-B-R 0.5*0.5*0.4 = 0.10,  X-R 0.05.  integrated(X, R) = their sum (no loop) = 0.51.
    A -> R: A-R 0.4, A-B-R 0.5*0.4 = 0.20; integrated(A, R) = 0.60.  B -> R: 0.40.
    """
    ingest(tmp_store, batch(
        *(company(c) for c in ("x", "a", "b", "r")), entity("Incident", "i", category="data_leak"),
        owns("x", "a", 0.5), owns("x", "b", 0.4), owns("x", "r", 0.05), owns("a", "r", 0.4), owns("a", "b", 0.5),
        owns("b", "r", 0.4), rel("RESPONSIBLE_FOR", "r", "i", role="operator"),
    ))
    return CorpGraph(tmp_store)


def _owner(chain: LiabilityChain, id: str) -> Party:
    """The OWNER party of an entity."""
    return next(p for p in chain.parties if p.entity == id and p.role is Role.OWNER)


def _routes(party: Party) -> list[str]:
    """Each path as its OWNS node sequence (the RESPONSIBLE_FOR hop left out), e.g. 'x-a-r'."""
    return ["-".join([p.hops[0].source, *(h.target for h in p.hops if h.type.value == "OWNS")]) for p in party.paths]


def test_top_k_paths_are_the_best_products_in_order(diamond: CorpGraph) -> None:
    x = _owner(diamond.liability_chain("i", top_k=3), "x")
    assert x.weight == pytest.approx(0.51)
    assert _routes(x) == ["x-a-r", "x-b-r", "x-a-b-r"]  # 0.20, 0.16, 0.10 (X-R's 0.05 is fourth)
    assert [p.weight for p in x.paths] == [pytest.approx(0.20), pytest.approx(0.16), pytest.approx(0.10)]
    all_four = _owner(diamond.liability_chain("i", top_k=10), "x")
    assert _routes(all_four) == ["x-a-r", "x-b-r", "x-a-b-r", "x-r"]  # every simple path, no more


def test_paths_cut_short_when_max_depth_leaves_weight_unexplained(diamond: CorpGraph) -> None:
    # depth 2, top 4: three paths within 2 hops (0.20 + 0.16 + 0.05 = 0.41) explain less than 0.51
    short = _owner(diamond.liability_chain("i", max_depth=2, top_k=4), "x")
    assert _routes(short) == ["x-a-r", "x-b-r", "x-r"] and short.paths_cut_short
    assert short.weight == pytest.approx(0.51)  # max_depth bounds paths, never the weight
    # depth 3, top 4: all four paths (0.51) explain all of it
    assert not _owner(diamond.liability_chain("i", max_depth=3, top_k=4), "x").paths_cut_short
    # depth 2, top 3: three paths shown, as many as asked: nothing was left out for want of depth
    assert not _owner(diamond.liability_chain("i", max_depth=2, top_k=3), "x").paths_cut_short
    # A at depth 1: A-R (0.4) of 0.60; B at depth 1: B-R is all of B's 0.40
    shallow = diamond.liability_chain("i", max_depth=1)
    assert _owner(shallow, "a").paths_cut_short and not _owner(shallow, "b").paths_cut_short


def test_no_paths_are_searched_unless_asked(diamond: CorpGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    with_paths = diamond.liability_chain("i")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a path search ran for an answer without paths")

    monkeypatch.setattr(liability, "PathFinder", refuse)
    bare = diamond.liability_chain("i", paths=False)
    assert [(p.entity, p.role, p.weight) for p in bare.parties] == [(p.entity, p.role, p.weight)
                                                                    for p in with_paths.parties]
    assert all(p.paths == [] for p in bare.parties) and bare.graph.nodes == [] and bare.graph.edges == []
    assert next(p for p in bare.parties if p.role is Role.RESPONSIBLE).detail == "operator"  # roles still read


def test_graphql_searches_paths_only_for_the_fields_that_show_them(diamond: CorpGraph,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[bool] = []
    original = liability.liability_chain

    def spy(*args: Any, **kwargs: Any) -> Any:
        searched.append(args[-1])  # the `paths` flag, passed positionally by the facade
        return original(*args, **kwargs)

    monkeypatch.setattr(liability, "liability_chain", spy)
    with client_for(diamond.store) as c:
        weights = gql(c, '{ liabilityChain(incidentId: "i") { parties { role weight } } }')
        paths = gql(c, '{ liabilityChain(incidentId: "i") { parties { entity { id } paths { weight } } } }')
        graph = gql(c, '{ liabilityChain(incidentId: "i") { graph { nodes { id } } } }')
        cut = gql(c, '{ liabilityChain(incidentId: "i", maxDepth: 1) { parties { entity { id } pathsCutShort } } }')
    assert searched == [False, True, True, True]
    assert len(weights["data"]["liabilityChain"]["parties"]) == 4  # R, X, A, B
    best = {p["entity"]["id"]: p["paths"][0]["weight"] for p in paths["data"]["liabilityChain"]["parties"]}
    assert best == {"r": 1.0, "x": pytest.approx(0.20), "a": pytest.approx(0.4), "b": pytest.approx(0.4)}
    assert {n["id"] for n in graph["data"]["liabilityChain"]["graph"]["nodes"]} == {"i", "r", "x", "a", "b"}
    flags = {p["entity"]["id"]: p["pathsCutShort"] for p in cut["data"]["liabilityChain"]["parties"]}
    assert flags == {"r": False, "x": True, "a": True, "b": False}  # at depth 1: X 0.05 of 0.51, A 0.4 of 0.60
