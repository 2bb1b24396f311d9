"""Share ranges beside exact shares and in loops (issue 20, items 1 and 2), worked by hand.

Item 1: a range's point value is the midpoint of the part some feasible reading can take, and when points
still pass 100% only the ranges' parts above their minimums shrink; exact owners are never scaled down.
"""
from __future__ import annotations

import pytest

from corpgraph.graph.analytics.results import Holding
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import approx, batch, company, owns


def by_owner(holdings: list[Holding]) -> dict[str, Holding]:
    """Holdings keyed by owner."""
    return {h.owner: h for h in holdings}


def test_a_range_beside_an_exact_owner_does_not_scale_it_down(tmp_store: SqliteStore) -> None:
    # a holds 50-90% of c, q exactly 40%. Feasible part of a's range: [0.5, min(0.9, 1 - 0.4)] = [0.5, 0.6],
    # point 0.55; q keeps 0.40 (0.55 + 0.40 = 0.95 <= 1: nothing over-allocated). Old: q 0.364 (0.4 / 1.1).
    ingest(tmp_store, batch(company("a"), company("q"), company("c"),
                            owns("a", "c", None, share_min=0.5, share_max=0.9), owns("q", "c", 0.4)))
    got = by_owner(CorpGraph(tmp_store).owners("c"))
    assert (got["q"].integrated, got["q"].integrated_min) == (approx(0.4), approx(0.4))
    assert not got["q"].over_allocated and not got["a"].over_allocated
    assert got["a"].integrated == approx(0.55) and got["a"].integrated_min == approx(0.5)


def test_two_50_to_75_percent_owners_are_not_over_allocated(tmp_store: SqliteStore) -> None:
    # each range's feasible part is [0.5, min(0.75, 1 - 0.5)] = [0.5, 0.5]: both at 0.5, the company full.
    ingest(tmp_store, batch(company("a"), company("b"), company("c"),
                            owns("a", "c", None, share_min=0.5, share_max=0.75),
                            owns("b", "c", None, share_min=0.5, share_max=0.75)))
    got = by_owner(CorpGraph(tmp_store).owners("c"))
    for owner in ("a", "b"):
        assert got[owner].integrated == approx(0.5) and not got[owner].over_allocated


def test_three_open_ranges_shrink_only_above_their_minimums(tmp_store: SqliteStore) -> None:
    # x 0-100%, y 0-100%, z 10-100%, e exactly 30% of c. Free parts: x, y: 1 - 0.3 - 0.1 = 0.6; z: 0.7.
    # Midpoints 0.3, 0.3, 0.4 + 0.3 = 1.3 > 1: the parts above the minimums (0.3, 0.3, 0.3) shrink by
    # room / spread = (1 - 0.3 - 0.1) / 0.9 = 2/3: x, y = 0.2, z = 0.1 + 0.2 = 0.3; e stays 0.3; sum 1.0.
    ingest(tmp_store, batch(*(company(c) for c in ("x", "y", "z", "e", "c")),
                            owns("x", "c", None, share_min=0.0, share_max=1.0),
                            owns("y", "c", None, share_min=0.0, share_max=1.0),
                            owns("z", "c", None, share_min=0.1, share_max=1.0), owns("e", "c", 0.3)))
    got = by_owner(CorpGraph(tmp_store).owners("c"))
    assert {o: round(h.integrated or 0, 9) for o, h in got.items()} == {"x": 0.2, "y": 0.2, "z": 0.3, "e": 0.3}
    assert not any(h.over_allocated for h in got.values())


# Item 2: integratedMax comes from a computation valid for the unscaled matrix of maximums.

def test_range_maximums_that_close_a_loop_give_a_true_upper_bound(tmp_store: SqliteStore) -> None:
    # a and b hold 0-100% of each other; a holds 20% of c, c 30% of a; p holds 10% of a.
    # Maximums: a->b min(1, 1 - 0) = 1.0; b->a min(1, 1 - 0.3 - 0.1) = 0.6. integrated(p, a) = 0.1 x L[a, a]
    # with the walks a->b->a (1.0 x 0.6) and a->c->a (0.2 x 0.3): 0.1 / (1 - 0.6 - 0.06) = 0.1 / 0.34 = 0.2941,
    # the reading a->b 1.0, b->a 0.6 (old answer: 0.145, the point value, from a divergent inverse).
    # Point: a->b 0.5, b->a 0.3: 0.1 / (1 - 0.15 - 0.06) = 0.12658; minimum: 0.1 / (1 - 0.06) = 0.10638.
    ingest(tmp_store, batch(*(company(c) for c in ("a", "b", "c", "p")),
                            owns("a", "b", None, share_min=0.0, share_max=1.0),
                            owns("b", "a", None, share_min=0.0, share_max=1.0),
                            owns("a", "c", 0.2), owns("c", "a", 0.3), owns("p", "a", 0.1)))
    p = by_owner(CorpGraph(tmp_store).owners("a"))["p"]
    assert (p.integrated_min, p.integrated, p.integrated_max) == (
        approx(0.1 / 0.94), approx(0.1 / 0.79), approx(0.1 / 0.34))
    assert p.integrated_max_exact


def test_maximums_without_a_convergent_sum_give_1_flagged_not_a_number(tmp_store: SqliteStore) -> None:
    # b and c each hold 0-100% of a, a holds 0-100% of each; p holds 10% of b. Maximums: b->a 1, c->a 1
    # (a has no other owner), a->b 0.9 (p holds 0.1), a->c 1: the loops a-b (0.9) and a-c (1.0) give a
    # spectral radius sqrt(1.9) > 1, no convergent sum. integratedMax of p in a is then 1, a true bound
    # (no reading with every company at most 100% held gives more), flagged as not exact.
    ingest(tmp_store, batch(*(company(c) for c in ("a", "b", "c", "p")),
                            owns("b", "a", None, share_min=0.0, share_max=1.0),
                            owns("c", "a", None, share_min=0.0, share_max=1.0),
                            owns("a", "b", None, share_min=0.0, share_max=1.0),
                            owns("a", "c", None, share_min=0.0, share_max=1.0), owns("p", "b", 0.1)))
    p = by_owner(CorpGraph(tmp_store).owners("a"))["p"]
    assert p.integrated_max == 1.0 and not p.integrated_max_exact
    assert p.integrated_min == 0.0  # every range at 0: p reaches a through nothing
