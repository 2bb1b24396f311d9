"""Sanctions by ownership (issue 21): OFAC's 50 Percent Rule against its published examples, the EU and UK rules,
ranges, loops, delisting through asOf, and the whole graph at once. Every number is worked by hand here."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from corpgraph.graph.analytics.results import SanctionsStatus
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import UnknownRegime
from corpgraph.schema.kinds import RelationType
from tests.factory import batch, company, entity, owns, rel

S = SanctionsStatus
SDN = [{"publisher": "OFAC", "title": "SDN List", "url": "https://example.org/sdn"}]


def listed(id: str, regime: str = "OFAC", **fields: Any) -> dict[str, Any]:
    """A raw Sanction record designating `id`."""
    return {"type": "Sanction", "entity": id, "regime": regime, "program": "TEST", "sources": SDN, **fields}


def person(id: str) -> dict[str, Any]:
    """A raw Person record."""
    return entity("Person", id)


def world(store: SqliteStore, *records: dict[str, Any]) -> CorpGraph:
    """A facade over the store with the records loaded (companies named by OWNS endpoints are made too)."""
    made = {r["id"] for r in records if "id" in r}
    ends = {r[end] for r in records if r["type"] == "OWNS" for end in ("source", "target")}
    ingest(store, batch(*records, *(company(i) for i in sorted(ends - made))))
    return CorpGraph(store)


def status(graph: CorpGraph, id: str, regime: str = "OFAC", as_of: date | None = None) -> S:
    """The status alone."""
    return graph.sanctions_status(id, regime, as_of).status


# --- OFAC, FAQ 401's worked examples (2014 guidance) ---------------------------------------------------------

def test_ofac_example_1_a_chain_of_fifty_percent_stakes(tmp_store: SqliteStore) -> None:
    # X owns 50% of A, A owns 50% of B: A is blocked (50%), so B is (A's 50%).
    g = world(tmp_store, person("x"), listed("x"), owns("x", "a", 0.5), owns("a", "b", 0.5))
    answer = g.sanctions_status("b", "OFAC")
    assert answer.status == S.BLOCKED_BY_OWNERSHIP and answer.aggregate_share == pytest.approx(0.5)
    (contributor,) = answer.contributors
    assert (contributor.entity, contributor.status, contributor.share) == ("a", S.BLOCKED_BY_OWNERSHIP, 0.5)
    # The path opens with X's designation, then the two stakes, each hop with its sources.
    hops = contributor.paths[0].hops
    assert [(h.type, h.source, h.target) for h in hops] == [
        (RelationType.SANCTION, "x", "x"), (RelationType.OWNS, "x", "a"), (RelationType.OWNS, "a", "b")]
    assert hops[0].sources[0].title == "SDN List"
    assert status(g, "x") == S.LISTED and g.sanctions_status("x", "OFAC").designations[0].program == "TEST"


def test_ofac_example_2_two_blocked_intermediates_add_up(tmp_store: SqliteStore) -> None:
    # X owns 50% of A and of B; A and B each own 25% of C: 25% + 25% = 50% held by blocked persons.
    g = world(tmp_store, person("x"), listed("x"), owns("x", "a", 0.5), owns("x", "b", 0.5),
              owns("a", "c", 0.25), owns("b", "c", 0.25))
    answer = g.sanctions_status("c", "OFAC")
    assert answer.status == S.BLOCKED_BY_OWNERSHIP and answer.aggregate_share == pytest.approx(0.5)
    assert sorted(c.entity for c in answer.contributors) == ["a", "b"]


def test_ofac_example_3_a_direct_and_an_indirect_stake_add_up(tmp_store: SqliteStore) -> None:
    # X owns 50% of A and 10% of B; A owns 40% of B: 10% + 40% = 50%.
    g = world(tmp_store, person("x"), listed("x"), owns("x", "a", 0.5), owns("x", "b", 0.1), owns("a", "b", 0.4))
    answer = g.sanctions_status("b", "OFAC")
    assert answer.status == S.BLOCKED_BY_OWNERSHIP and answer.aggregate_share == pytest.approx(0.5)
    assert {c.entity: c.status for c in answer.contributors} == {"x": S.LISTED, "a": S.BLOCKED_BY_OWNERSHIP}


def test_ofac_aggregates_two_listed_owners_and_their_blocked_company_passes_it_on(tmp_store: SqliteStore) -> None:
    # FAQ 399: X and Y each own 25% of A: blocked in the aggregate; A owns 50% of B: B is blocked too.
    g = world(tmp_store, person("x"), person("y"), listed("x"), listed("y", program="OTHER"),
              owns("x", "a", 0.25), owns("y", "a", 0.25), owns("a", "b", 0.5))
    assert status(g, "a") == status(g, "b") == S.BLOCKED_BY_OWNERSHIP


def test_ofac_a_non_blocked_intermediate_passes_nothing_on(tmp_store: SqliteStore) -> None:
    # X owns 40% of A (not blocked); A owns 100% of B: X's indirect 40% through A does not count (FAQ 401's
    # "indirectly": only through entities 50% or more owned by blocked persons); X's direct 20% in B is all.
    g = world(tmp_store, person("x"), listed("x"), owns("x", "a", 0.4), owns("a", "b", 0.8), owns("x", "b", 0.2))
    assert status(g, "a") == S.NOT_BLOCKED
    answer = g.sanctions_status("b", "OFAC")
    assert answer.status == S.NOT_BLOCKED and answer.aggregate_share == pytest.approx(0.2)


def test_exactly_fifty_percent_blocks_under_ofac_but_not_under_eu_or_uk(tmp_store: SqliteStore) -> None:
    # The same listed owner with exactly 50% under each regime: OFAC's "50 percent or more", EU/UK "more than 50%".
    g = world(tmp_store, person("x"), listed("x", "OFAC"), listed("x", "EU"), listed("x", "UK"), owns("x", "a", 0.5))
    assert status(g, "a", "OFAC") == S.BLOCKED_BY_OWNERSHIP
    assert status(g, "a", "EU") == S.NOT_BLOCKED
    assert status(g, "a", "UK") == S.NOT_BLOCKED


def test_a_loop_blocks_through_the_cycle_and_a_loop_alone_blocks_nothing(tmp_store: SqliteStore) -> None:
    # X owns 30% of A; A owns 60% of B; B owns 30% of A. Least fixed point: A has 30% from X only (B is not
    # blocked yet), so nothing more: A and B are not blocked. With X at 20% more (50% in all) A is blocked,
    # then B (60% from A), and B's 30% back in A adds to A's aggregate: 50% + 30% = 80%.
    g = world(tmp_store, person("x"), listed("x"), owns("x", "a", 0.3), owns("a", "b", 0.6), owns("b", "a", 0.3))
    assert status(g, "a") == status(g, "b") == S.NOT_BLOCKED
    ingest(tmp_store, batch(owns("x", "a", 0.5)))  # the same stake (same valid_from), now 50%
    g.live.fresh_if_built()
    answer = g.sanctions_status("a", "OFAC")
    assert answer.status == S.BLOCKED_BY_OWNERSHIP and answer.aggregate_share == pytest.approx(0.8)
    assert status(g, "b") == S.BLOCKED_BY_OWNERSHIP


def test_ranges_on_both_sides_of_the_threshold_are_undetermined_with_bounds(tmp_store: SqliteStore) -> None:
    # X holds 40-60% of A: the aggregate lies in [0.4, 0.6], midpoint 0.5. With 40-45% it is surely below.
    g = world(tmp_store, person("x"), listed("x"), owns("x", "a", None, share_min="40%", share_max="60%"),
              owns("x", "b", None, share_min="40%", share_max="45%"))
    answer = g.sanctions_status("a", "OFAC")
    assert answer.status == S.UNDETERMINED
    bounds = (answer.aggregate_share_min, answer.aggregate_share, answer.aggregate_share_max)
    assert bounds == pytest.approx((0.4, 0.5, 0.6))
    assert answer.notes and "both sides" in answer.notes[0]
    assert status(g, "b") == S.NOT_BLOCKED


def test_delisting_follows_as_of(tmp_store: SqliteStore) -> None:
    # X listed from 2020-01-01 to 2023-06-30 (valid_to excluded): its 60% blocks A only in between.
    g = world(tmp_store, person("x"), listed("x", valid_from="2020-01-01", valid_to="2023-06-30"),
              owns("x", "a", 0.6))
    assert status(g, "a", as_of=date(2019, 12, 31)) == S.NOT_BLOCKED
    assert status(g, "a", as_of=date(2021, 1, 1)) == S.BLOCKED_BY_OWNERSHIP
    assert status(g, "x", as_of=date(2021, 1, 1)) == S.LISTED
    assert status(g, "a", as_of=date(2023, 6, 30)) == S.NOT_BLOCKED
    assert status(g, "x", as_of=date(2023, 6, 30)) == S.NOT_BLOCKED


# --- EU and UK -------------------------------------------------------------------------------------------------

def test_eu_aggregates_listed_owners_uk_does_not(tmp_store: SqliteStore) -> None:
    # Commission FAQ: 30% + 25% held by two listed persons: owned by listed persons (55% > 50%). OFSI 4.14: not
    # simply aggregated: undetermined (joint arrangement is judgement), with a note saying so.
    g = world(tmp_store, person("x"), person("y"), *(listed(p, r) for p in "xy" for r in ("EU", "UK")),
              owns("x", "a", 0.3), owns("y", "a", 0.25))
    eu = g.sanctions_status("a", "EU")
    assert eu.status == S.BLOCKED_BY_OWNERSHIP and eu.aggregate_share == pytest.approx(0.55)
    uk = g.sanctions_status("a", "UK")
    assert uk.status == S.UNDETERMINED and any("joint arrangement" in n for n in uk.notes)


def test_uk_counts_one_designated_persons_companies_together(tmp_store: SqliteStore) -> None:
    # X holds 30% of A directly and 60% of H, which holds 25% of A: X controls H, so X holds 30% + 25% = 55%
    # of A through itself and H (one designated person): A is owned by X.
    g = world(tmp_store, person("x"), listed("x", "UK"), owns("x", "a", 0.3), owns("x", "h", 0.6),
              owns("h", "a", 0.25))
    assert status(g, "h", "UK") == status(g, "a", "UK") == S.BLOCKED_BY_OWNERSHIP


def test_controls_only_blocks_under_eu_and_uk_not_under_ofac(tmp_store: SqliteStore) -> None:
    # X appoints A's board and holds no share: controlled (EU Best Practices, UK regulations), not owned (FAQ 398).
    g = world(tmp_store, person("x"), company("a"), *(listed("x", r) for r in ("OFAC", "EU", "UK")),
              rel("CONTROLS", "x", "a", kind="appointmentOfBoard"), owns("a", "b", 0.6))
    for regime in ("EU", "UK"):
        answer = g.sanctions_status("a", regime)
        assert answer.status == S.BLOCKED_BY_CONTROL and answer.aggregate_share == 0.0
        assert [(c.entity, c.via) for c in answer.contributors] == [("x", RelationType.CONTROLS)]
        # A's 60% then owns B: blocked by ownership through the controlled company
        assert status(g, "b", regime) == S.BLOCKED_BY_OWNERSHIP
    ofac = g.sanctions_status("a", "OFAC")
    assert ofac.status == S.NOT_BLOCKED and any("FAQ 398" in n for n in ofac.notes)
    assert status(g, "b", "OFAC") == S.NOT_BLOCKED


def test_an_unknown_regime_is_refused_with_the_ruled_ones(tmp_store: SqliteStore) -> None:
    g = world(tmp_store, person("x"), listed("x", "UN"))
    with pytest.raises(UnknownRegime, match="OFAC, EU, UK"):
        g.sanctions_status("x", "UN")


# --- the whole graph at once -------------------------------------------------------------------------------------

def test_sanctioned_by_ownership_lists_the_unlisted_blocked_in_id_order(tmp_store: SqliteStore) -> None:
    # Example 2's world plus an unrelated company: A, B and C are blocked without a listing of their own.
    g = world(tmp_store, person("x"), listed("x"), owns("x", "a", 0.5), owns("x", "b", 0.5),
              owns("a", "c", 0.25), owns("b", "c", 0.25), owns("z", "y", 0.9))
    first = g.sanctioned_by_ownership("OFAC", first=2)
    assert [i.entity for i in first.items] == ["a", "b"] and first.count == 3
    rest = g.sanctioned_by_ownership("OFAC", first=2, after=first.items[-1].cursor)
    assert [(i.entity, i.status, i.aggregate_share) for i in rest.items] == [("c", S.BLOCKED_BY_OWNERSHIP, 0.5)]


def test_a_designation_under_another_id_of_the_same_entity_still_lists_it(tmp_store: SqliteStore) -> None:
    # "x" and "gleif:x" carry the same LEI: one entity (canonical "x", ids without a prefix first). The listing
    # was stated under "gleif:x": merging must keep it (its two ends are one entity by design), so X is listed
    # and its 60% blocks A.
    lei = [{"scheme": "LEI", "id": "529900T8BM49AURSDO55"}]
    g = world(tmp_store, company("x", identifiers=lei), company("gleif:x", identifiers=lei), listed("gleif:x"),
              owns("x", "a", 0.6))
    answer = g.sanctions_status("gleif:x", "OFAC")
    assert (answer.entity, answer.status) == ("x", S.LISTED)
    assert [d.entity for d in answer.designations] == ["x"]
    assert status(g, "a") == S.BLOCKED_BY_OWNERSHIP
