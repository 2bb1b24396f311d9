"""Numbers by definition: each defect found by the hardening review, worked by hand."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date
from typing import cast

import pytest

from corpgraph.graph.analytics.paths import PathFinder
from corpgraph.graph.analytics.results import Role
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection.build import build_projection
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.base import EdgeRow, GraphStore
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from tests.factory import approx, batch, companies_owning, company, entity, owns, rel

IMPORTED = [{"publisher": "Register", "title": "Statement", "record_id": "stmt-1"}]


def test_a_company_responsible_in_two_roles_is_one_party_with_one_set_of_owners(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(
        company("r"), company("p"), company("s"), entity("Incident", "i", category="data_leak"),
        owns("p", "r", 0.6), rel("RESPONSIBLE_FOR", "r", "i", role="operator"),
        rel("RESPONSIBLE_FOR", "r", "i", role="data_controller"), rel("SUPPLIED_DATA_TO", "r", "s", incident="i"),
    ))
    chain = CorpGraph(tmp_store).liability_chain("i")
    counts = Counter((p.entity, p.role) for p in chain.parties)
    assert counts == {("r", Role.RESPONSIBLE): 1, ("p", Role.OWNER): 1, ("s", Role.DATA_RECIPIENT): 1}
    responsible = next(p for p in chain.parties if p.role is Role.RESPONSIBLE)
    assert responsible.detail == "data_controller, operator"  # both roles, one party
    assert len(responsible.paths) == 2  # each RESPONSIBLE_FOR relation explains it
    assert chain.owners_total == 1


def test_control_compares_with_a_tolerance(tmp_store: SqliteStore) -> None:
    # X holds 17% of Y, controls C1 (60%) which holds 28% of Y and controls C2 (60%) which holds 5% of Y.
    # X's power in Y is 0.17 + 0.28 + 0.05 = 0.5 exactly (0.5000000000000001 in floating point): not > 0.5.
    ingest(tmp_store, companies_owning(("x", "y", 0.17), ("x", "c1", 0.6), ("c1", "y", 0.28), ("c1", "c2", 0.6),
                                       ("c2", "y", 0.05)))
    graph = CorpGraph(tmp_store)
    assert 0.17 + 0.28 + 0.05 > 0.5  # the floating-point sum the rule must not trust
    assert not {h.owner: h for h in graph.owners("y")}["x"].controls
    assert graph.controlling_parent("y") is None
    assert {h.owner: h for h in graph.owners("c2")}["x"].controls  # X controls C1, C1 controls C2


def test_native_shares_above_100_percent_are_an_error(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "c", 0.6)))
    revision = tmp_store.revision()
    with pytest.raises(InvalidInput) as caught:
        ingest(tmp_store, batch(company("b"), owns("b", "c", "60%", valid_from="2020-01-01"), label="more.jsonl"))
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.field) == ("more.jsonl", 2, "share")
    # stored 60% (a, open-ended) + 60% (b from 2020-01-01) = 120% on 2020-01-01
    assert "120%" in problem.reason and "2020-01-01" in problem.reason and "'c'" in problem.reason
    assert tmp_store.revision() == revision  # nothing written


def test_native_shares_at_different_dates_or_of_one_holder_are_not_summed(tmp_store: SqliteStore) -> None:
    # a's 60% ends when b's 60% starts; a's own history rows (60% then 70%) are one holding, the latest wins
    ingest(tmp_store, batch(
        company("a"), company("b"), company("c"), company("d"),
        owns("a", "c", 0.6, valid_to="2020-01-01"), owns("b", "c", 0.6, valid_from="2020-01-01"),
        owns("a", "d", 0.6, valid_from="2019-01-01"), owns("a", "d", 0.7, valid_from="2020-01-01"),
        owns("b", "d", 0.3, valid_from="2020-01-01"),
    ))
    assert len(CorpGraph(tmp_store).owners("c", as_of=date(2021, 1, 1))) == 1


def test_imported_over_allocation_is_scaled_and_flagged(tmp_store: SqliteStore) -> None:
    # Imported: A 90% of B, B 90% of A, P 60% of A. A's owners sum to 150%: scaled by 1/1.5 to
    # B 60%, P 40%. integrated(P, A) = 0.4 / (1 - 0.9 * 0.6) = 0.4 / 0.46 = 0.869565 (unscaled: 0.6 / 0.19 = 3.16)
    ingest(tmp_store, batch(
        company("a"), company("b"), company("p"),
        owns("a", "b", 0.9, sources=IMPORTED), owns("b", "a", 0.9, sources=IMPORTED), owns("p", "a", 0.6, sources=IMPORTED),
    ))
    graph = CorpGraph(tmp_store)
    got = {h.owner: h for h in graph.owners("a")}
    assert got["p"].integrated == pytest.approx(0.4 / 0.46)
    assert got["p"].direct == pytest.approx(0.6)  # the direct share as stated
    assert got["p"].over_allocated and got["b"].over_allocated
    # integrated(P, B) = 0.869565 * 0.9 = 0.782609; the walk passes the scaled company A
    b_owners = {h.owner: h for h in graph.owners("b")}
    assert b_owners["p"].integrated == pytest.approx(0.4 / 0.46 * 0.9) and b_owners["p"].over_allocated
    # A's stake in B is not scaled (B's owners hold 90%) and no walk from A to B enters A again
    assert b_owners["a"].integrated == pytest.approx(0.9) and not b_owners["a"].over_allocated


def test_ultimate_owners_are_measured_in_the_target_company(tmp_store: SqliteStore) -> None:
    # A person holds 60% of A, A holds 30% of C: A has 0.30 in C (>= 0.25), the person 0.18 (< 0.25).
    ingest(tmp_store, batch(company("a"), company("c"), entity("Person", "person"),
                            owns("person", "a", 0.6), owns("a", "c", 0.3)))
    ultimate = CorpGraph(tmp_store).ultimate_owners("c")
    assert [(h.owner, h.integrated) for h in ultimate] == [("a", approx(0.3))]


def test_ultimate_owners_skip_owners_whose_owner_is_above_the_threshold_in_the_target(tmp_store: SqliteStore) -> None:
    # P 100% of A, A 40% of C: P has 0.40 in C too, so A is not ultimate; P is.
    ingest(tmp_store, companies_owning(("p", "a", 1.0), ("a", "c", 0.4)))
    assert [h.owner for h in CorpGraph(tmp_store).ultimate_owners("c")] == ["p"]


def test_zero_stakes_are_neither_owners_nor_holdings_nor_parties(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("z"), company("p"), company("c"), entity("Incident", "i", category="outage"),
                            owns("z", "c", 0.0), owns("p", "c", 0.5), rel("RESPONSIBLE_FOR", "c", "i")))
    graph = CorpGraph(tmp_store)
    assert [h.owner for h in graph.owners("c")] == ["p"]
    assert graph.holdings("z") == []
    assert {p.entity for p in graph.liability_chain("i").parties} == {"c", "p"}


class _Edges:
    """The two store calls build_projection makes, over an in-memory edge list."""

    def __init__(self, rows: list[EdgeRow]) -> None:
        self.rows = rows

    def iter_edges(self, types: Sequence[RelationType], page_size: int = 50_000) -> Iterator[list[EdgeRow]]:
        """One page holding every edge."""
        yield self.rows

    def revision(self) -> int:
        """Never changes."""
        return 0


def _owns(source: str, target: str, share: float) -> EdgeRow:
    """An OWNS edge row."""
    return EdgeRow(f"OWNS|{source}|{target}|", RelationType.OWNS, source, target, share, None, None, None)


def test_the_path_search_finds_the_path_behind_a_large_share_in_a_wide_block() -> None:
    # X holds 53% of T directly and 100% of a tree of 8 + 64 + ... + 8^5 = 37,448 companies whose 32,768
    # leaves each hold 0.00001% of T: 37,448 partial paths of product 1.0 rank above the 0.53 path, which is
    # the best complete one. integrated(X, T) = 0.53 + 32768 * 1e-7 = 0.5332768.
    rows, level = [_owns("x", "t", 0.53)], ["x"]
    for depth in range(5):
        nxt = [f"{parent}.{k}" for parent in level for k in range(8)]
        rows += [_owns(child.rsplit(".", 1)[0], child, 1.0) for child in nxt]
        level = nxt
    rows += [_owns(leaf, "t", 1e-7) for leaf in level]
    view = build_projection(cast(GraphStore, _Edges(rows))).view(date(2024, 1, 1))  # only the two calls a build makes
    proj = view.projection
    finder = PathFinder(view, proj.index["t"], max_depth=6)
    found = finder.paths(proj.index["x"], k=1)
    assert [[proj.relation_ids[e] for e in p] for p in found] == [["OWNS|x|t|"]]
    assert finder.explained == pytest.approx(0.53)  # the search has no step cap: nothing is cut short
