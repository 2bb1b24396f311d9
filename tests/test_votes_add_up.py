"""Votes held through controlled companies add up, as shares do (issue 20, item 5).

The rule (docs/analytics.md; EU Accounting Directive 2013/34/EU art. 22(3), UK Companies Act 2006 Sch. 1A):
the votes of a company X controls count as X's own. Worked cases below.
"""
from __future__ import annotations

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company, owns, rel


def votes(source: str, target: str, **share: float) -> dict[str, object]:
    """A votingRights interest."""
    return rel("CONTROLS", source, target, kind="votingRights", **share)


def controls(graph: CorpGraph, owner: str, company_id: str) -> tuple[bool, bool]:
    """(controls, may_control) of the owner in the company."""
    holding = {h.owner: h for h in graph.owners(company_id)}[owner]
    return holding.controls, holding.may_control


def test_votes_through_a_controlled_company_add_up(tmp_store: SqliteStore) -> None:
    # x holds 30% of t's votes and 60% of s (so controls s); s holds another 30% of t's votes:
    # x counts 0.30 + 0.30 = 0.60 > 0.5 of t's votes, so x controls t; s alone (0.30) does not.
    ingest(tmp_store, batch(company("x"), company("s"), company("t"), owns("x", "s", 0.6),
                            votes("x", "t", share=0.3), votes("s", "t", share=0.3)))
    graph = CorpGraph(tmp_store)
    assert controls(graph, "x", "t") == (True, True)
    assert controls(graph, "s", "t") == (False, False)
    assert graph.controlling_parent("t") == "x"


def test_votes_of_a_company_not_controlled_do_not_count(tmp_store: SqliteStore) -> None:
    # the same, but x holds only 40% of s: no control of s, so x has 0.30 of t's votes: no control.
    ingest(tmp_store, batch(company("x"), company("s"), company("t"), owns("x", "s", 0.4),
                            votes("x", "t", share=0.3), votes("s", "t", share=0.3)))
    assert controls(CorpGraph(tmp_store), "x", "t") == (False, False)


def test_votes_and_shares_are_two_counts_and_ranges_give_may_control(tmp_store: SqliteStore) -> None:
    # x holds 30% of t's shares, 15% of t's votes, and controls s (60%), which holds 25-40% of t's votes.
    # Votes at the minimum: 0.15 + 0.25 = 0.40; at the maximum 0.15 + 0.40 = 0.55 > 0.5: may control only.
    # Shares and votes are never added (0.30 + 0.40 = 0.70 would be a majority of nothing).
    ingest(tmp_store, batch(company("x"), company("s"), company("t"), owns("x", "s", 0.6), owns("x", "t", 0.3),
                            votes("x", "t", share=0.15), votes("s", "t", share_min=0.25, share_max=0.4)))
    assert controls(CorpGraph(tmp_store), "x", "t") == (False, True)
