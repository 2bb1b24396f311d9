"""Ownership analytics with hand-worked numbers: direct, integrated, control, ultimate owners, as_of, unknowns."""
from __future__ import annotations

from datetime import date

import pytest

from corpgraph.graph.projection import linalg
from corpgraph.graph.projection.ready import ready_view
from corpgraph.graph.analytics.results import Holding
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import NotFound, SingularOwnership
from tests.factory import approx, batch, companies_owning, company, entity, owns


@pytest.fixture(autouse=True, params=["dense", "sparse block", "whole graph"])
def solve_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test through each solve: dense (small blocks), sparse on the block, the whole graph's factors."""
    if request.param != "dense":
        monkeypatch.setattr(linalg, "_SMALL", 0)
        monkeypatch.setattr(linalg, "_WHOLE", 0 if request.param == "sparse block" else 10**9)


def _by(holdings: list[Holding], side: str) -> dict[str, Holding]:
    """Holdings keyed by the owner (side='owner') or the company."""
    return {getattr(h, side): h for h in holdings}


@pytest.fixture
def cross(tmp_store: SqliteStore) -> CorpGraph:
    """The issue's cross-holding: A 50% of B, B 20% of A and 60% of C, P 60% of A."""
    ingest(tmp_store, companies_owning(("a", "b", 0.5), ("b", "a", 0.2), ("b", "c", 0.6), ("p", "a", 0.6)))
    return CorpGraph(tmp_store)


def test_cross_holding_integrated_counts_walks_that_do_not_return_to_the_owner(cross: CorpGraph) -> None:
    got = _by(cross.owners("c"), "owner")
    # A -> C: only A->B->C (0.5 * 0.6 = 0.30); A->B->A->B->C passes through A again. L[A,C] alone is 0.3333.
    assert got["a"].integrated == pytest.approx(0.30)
    assert got["a"].direct == 0.0  # indirect-only owners are listed with direct 0
    # B -> C: B->C 0.6; B->A->B->C passes through B again.
    assert got["b"].integrated == pytest.approx(0.6) and got["b"].direct == pytest.approx(0.6)
    # P -> C: 0.6 * (1 + 0.1 + 0.01 + ...) * 0.5 * 0.6 = 0.6 / 0.9 * 0.3 = 0.2
    assert got["p"].integrated == pytest.approx(0.2)
    assert [h.owner for h in cross.owners("c")] == ["b", "a", "p"]  # largest integrated first


def test_cross_holding_seen_from_the_owner(cross: CorpGraph) -> None:
    got = _by(cross.holdings("p"), "company")
    # P -> A: walks P->A, P->A->B->A, ...: 0.6 * (1 + 0.1 + ...) = 0.6 / 0.9
    assert got["a"].integrated == pytest.approx(0.6 / 0.9)
    assert got["b"].integrated == pytest.approx(0.6 / 0.9 * 0.5)
    assert got["c"].integrated == pytest.approx(0.2)
    assert got["a"].controls and not got["b"].controls  # P's power in B: A's 0.5, not above 0.5
    # B controls C directly (0.6 > 0.5); P controls A, A holds 0.5 of B: nobody above B controls it
    assert cross.controlling_parent("c") == "b"


def test_control_adds_the_shares_of_controlled_companies(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("x", "z", 0.30), ("x", "y", 0.60), ("y", "z", 0.22), ("w", "z", 0.40)))
    graph = CorpGraph(tmp_store)
    got = _by(graph.owners("z"), "owner")
    # X controls Y (0.60 > 0.5), so X's power in Z is 0.30 + 0.22 = 0.52 > 0.5, though integrated is 0.432
    assert got["x"].controls and got["x"].integrated == pytest.approx(0.30 + 0.60 * 0.22)
    assert not got["w"].controls and not got["y"].controls
    assert graph.controlling_parent("z") == "x"
    assert graph.controlling_parent("y") == "x"


def test_control_passes_down_a_chain_and_the_parent_is_its_top(tmp_store: SqliteStore) -> None:
    # F 60% of H, H 60% of M, M 55% of Y: F controls H, then M (through H), then Y (through M)
    ingest(tmp_store, companies_owning(("f", "h", 0.6), ("h", "m", 0.6), ("m", "y", 0.55), ("q", "y", 0.45)))
    graph = CorpGraph(tmp_store)
    assert {h.owner for h in graph.owners("y") if h.controls} == {"f", "h", "m"}
    assert _by(graph.holdings("f"), "company")["y"].integrated == pytest.approx(0.6 * 0.6 * 0.55)
    assert graph.controlling_parent("y") == "f" and graph.controlling_parent("h") == "f"
    assert graph.controlling_parent("f") is None


def test_mutual_control_in_a_cross_holding_picks_the_larger_share(tmp_store: SqliteStore) -> None:
    # A 60% of B and B 60% of A control each other; A 30% + B 40% of Z: both control Z (0.7 > 0.5).
    # integrated(A, Z), walks from A not returning to A: A->Z 0.3 + A->B->Z 0.6 * 0.4 = 0.54;
    # integrated(B, Z) = 0.4 + 0.6 * 0.3 = 0.58: the tie of mutual control goes to B
    ingest(tmp_store, companies_owning(("a", "b", 0.6), ("b", "a", 0.6), ("a", "z", 0.3), ("b", "z", 0.4)))
    graph = CorpGraph(tmp_store)
    got = _by(graph.owners("z"), "owner")
    assert got["a"].integrated == pytest.approx(0.54) and got["b"].integrated == pytest.approx(0.58)
    assert got["a"].controls and got["b"].controls
    assert graph.controlling_parent("z") == "b"


def test_control_needs_strictly_more_than_half(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("x", "z", 0.25), ("x", "y", 0.75), ("y", "z", 0.25)))
    graph = CorpGraph(tmp_store)
    assert not _by(graph.owners("z"), "owner")["x"].controls  # 0.25 + 0.25 = 0.5 exactly: not control
    assert graph.controlling_parent("z") is None


def test_as_of_before_and_after_a_stake_change(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("a"), company("b"),
                            owns("a", "b", 0.2, valid_from="2018-01-01", valid_to="2020-01-01"),
                            owns("a", "b", 0.6, valid_from="2020-01-01")))
    graph = CorpGraph(tmp_store)
    assert graph.owners("b", as_of=date(2017, 12, 31)) == []
    before = graph.owners("b", as_of=date(2019, 6, 30))
    assert [(h.direct, h.controls) for h in before] == [(0.2, False)]
    # valid_to is exclusive: on 2020-01-01 only the new stake counts
    after = graph.owners("b", as_of=date(2020, 1, 1))
    assert [(h.direct, h.integrated, h.controls) for h in after] == [(0.6, 0.6, True)]
    assert graph.controlling_parent("b", as_of=date(2019, 6, 30)) is None
    assert graph.controlling_parent("b", as_of=date(2021, 1, 1)) == "a"


def test_overlapping_statements_of_one_holding_keep_the_latest(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("a"), company("b"), owns("a", "b", 0.2, valid_from="2018-01-01"),
                            owns("a", "b", 0.3, valid_from="2019-01-01")))
    assert [h.direct for h in CorpGraph(tmp_store).owners("b", as_of=date(2020, 1, 1))] == [0.3]


def test_a_loop_holding_all_of_itself_is_rejected_by_name(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 1.0), ("b", "a", 1.0), ("b", "c", 0.5)))
    with pytest.raises(SingularOwnership, match="a, b") as caught:
        CorpGraph(tmp_store).owners("c")
    assert caught.value.companies == ["a", "b"]


def _imported(*edges: tuple[str, str, float]) -> list[dict[str, object]]:
    """OWNS records citing an imported statement (a source record_id): sums above 100% load, then are scaled."""
    src = [{"publisher": "Register", "title": "Statement", "record_id": "s1"}]
    return [owns(a, b, w, sources=src) for a, b, w in edges]


def test_imported_shares_above_one_are_scaled_to_one(tmp_store: SqliteStore) -> None:
    # A and C each report 60% of B (120% in all): scaled to 50% each. B holds 90% of A and of C.
    # Unscaled the loops A->B->A and C->B->C have radius^2 = 0.6*0.9 * 2 = 1.08 > 1 (no finite answer).
    # Scaled, A -> B: A->B (0.5), then loops back through C only: 0.5 / (1 - 0.5 * 0.9) = 0.90909
    ingest(tmp_store, batch(*(company(c) for c in "abc"),
                            *_imported(("a", "b", 0.6), ("c", "b", 0.6), ("b", "a", 0.9), ("b", "c", 0.9))))
    got = _by(CorpGraph(tmp_store).holdings("a"), "company")["b"]
    assert got.integrated == pytest.approx(0.5 / 0.55) and got.direct == pytest.approx(0.6) and got.over_allocated


def test_imported_shares_above_one_in_a_convergent_loop_are_scaled_too(tmp_store: SqliteStore) -> None:
    # A, C 60% of B -> 50% each; B 50% of A, 30% of C. A -> B: 0.5 / (1 - 0.5 * 0.3) = 0.5 / 0.85
    ingest(tmp_store, batch(*(company(c) for c in "abc"),
                            *_imported(("a", "b", 0.6), ("c", "b", 0.6), ("b", "a", 0.5), ("b", "c", 0.3))))
    assert _by(CorpGraph(tmp_store).holdings("a"), "company")["b"].integrated == pytest.approx(0.5 / 0.85)


def test_unknown_shares_are_marked_never_numbers(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("p"), company("a"), company("b"), owns("p", "a", None),
                            owns("a", "b", 0.5), owns("p", "b", 0.1)))
    graph = CorpGraph(tmp_store)
    got = _by(graph.owners("b"), "owner")
    # A's walk to B carries no unknown share: its bounds are its value
    assert got["a"] == Holding("a", "b", 0.5, 0.5, False, unknown=False, integrated_min=0.5, integrated_max=0.5)
    # P: 0.1 known directly, plus an unknown share of A's 0.5: 0.1 is a lower bound, marked unknown.
    # At the maximum the unknown share is what A's other owners leave free: all of A (1.0), so
    # integrated(P, B) <= 0.1 + 1.0 * 0.5 = 0.6, and P may control B (it may control A, A's 0.5 + 0.1 > 0.5)
    assert got["p"] == Holding("p", "b", 0.1, approx(0.1), False, unknown=True, integrated_min=approx(0.1),
                               integrated_max=approx(0.6), may_control=True)
    held = _by(graph.holdings("p"), "company")
    assert held["a"] == Holding("p", "a", None, None, False, unknown=True, integrated_min=0.0, integrated_max=1.0,
                                may_control=True)


def test_ultimate_owners_stop_at_owners_without_a_qualifying_owner(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(entity("Person", "f"), company("h"), company("y"), company("m"),
                            owns("f", "h", 0.4), owns("h", "y", 0.8), owns("m", "y", 0.2)))
    graph = CorpGraph(tmp_store)
    # F -> Y = 0.4 * 0.8 = 0.32 >= 0.25 and F has no owner; H -> Y = 0.8 but H's owner F holds 0.32 of Y
    assert [(h.owner, h.integrated) for h in graph.ultimate_owners("y")] == [("f", approx(0.32))]
    # at 0.35, F no longer qualifies, so H (0.8; its owner F has 0.32 < 0.35 of Y) is the ultimate owner
    assert [h.owner for h in graph.ultimate_owners("y", threshold=0.35)] == ["h"]
    assert graph.controlling_parent("y") == "h"  # F's 40% of H is no control
    assert _by(graph.holdings("f"), "company")["y"].integrated == pytest.approx(0.32)


def test_seed_lakala_holds_a_third_of_kaola_without_control(seed_store: SqliteStore) -> None:
    graph = CorpGraph(seed_store)
    assert graph.owners("kaola") == [Holding("lakala", "kaola", 0.324, approx(0.324), False,
                                             integrated_min=approx(0.324), integrated_max=approx(0.324))]
    assert graph.controlling_parent("kaola") is None  # the article's "subsidiary" is not control at 32.4%
    assert [h.owner for h in graph.ultimate_owners("kaola")] == ["lakala"]
    # Alibaba's share of Alipay is unknown: 0 at the minimum, all of Alipay at the maximum (no other owner)
    assert graph.owners("alipay") == [Holding("alibaba", "alipay", None, None, False, unknown=True, integrated_min=0.0,
                                              integrated_max=1.0, may_control=True)]


def test_unknown_ids_and_isolated_entities(seed_store: SqliteStore) -> None:
    graph = CorpGraph(seed_store)
    with pytest.raises(NotFound, match="no Company with id 'nope'"):
        graph.owners("nope")
    with pytest.raises(NotFound, match="it is a Incident"):
        graph.owners("kaola-leak-2019")
    assert graph.holdings("heipachong") == []  # a company in no OWNS relation owns nothing


def test_a_ready_view_holds_every_cyclic_inverse_and_leaves_a_singular_loop_to_the_solve(
        tmp_store: SqliteStore) -> None:
    # A 50% of B, B 20% of A (a loop); X and Y hold all of each other (singular); B 60% of C outside any loop.
    ingest(tmp_store, companies_owning(("a", "b", 0.5), ("b", "a", 0.2), ("b", "c", 0.6), ("x", "y", 1.0),
                                       ("y", "x", 1.0)))
    graph = CorpGraph(tmp_store)
    view = ready_view(graph.projection(), date.today())
    loop = int(view.components.labels[view.projection.index["a"]])
    assert view.inverses_built and list(view.inverses) == [loop]
    # (I - W_S)^-1 = [[1, -0.5], [-0.2, 1]]^-1 = [[1, 0.5], [0.2, 1]] / 0.9, whichever member comes first
    assert sorted(view.inverses[loop].ravel().tolist()) == pytest.approx([0.2 / 0.9, 0.5 / 0.9, 1 / 0.9, 1 / 0.9])
    with pytest.raises(SingularOwnership, match="x, y"):
        graph.owners("y")
