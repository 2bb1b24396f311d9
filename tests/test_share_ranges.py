"""Share ranges as exact bounds: integratedMin/Max, weightMin/Max, estimates, mayControl."""
from __future__ import annotations

from datetime import date

import pytest

from corpgraph.graph.analytics.results import Channel, Holding, Role
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import approx, batch, companies_owning, company, entity, owns, rel
from tests.test_api_safety import client_for, gql


def _by(holdings: list[Holding], side: str) -> dict[str, Holding]:
    """Holdings keyed by the owner (side='owner') or the company."""
    return {getattr(h, side): h for h in holdings}


def test_a_75_to_100_percent_range_gives_its_bounds(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("p"), company("y"), owns("p", "y", None, share_min="75%", share_max="100%")))
    (got,) = CorpGraph(tmp_store).owners("y")
    assert (got.integrated_min, got.integrated_max) == (approx(0.75), approx(1.0))
    assert got.integrated == pytest.approx(0.875) and got.estimate  # the midpoint, said to be an estimate
    assert got.direct == pytest.approx(0.875) and not got.unknown
    assert got.controls and got.may_control  # 0.75 > 0.5 already at the minimum


@pytest.fixture
def chain(tmp_store: SqliteStore) -> CorpGraph:
    """P holds 25-50% of A; A holds 50-75% of C; Q holds exactly 20% of C; R an unknown share of C.

    C is responsible for incident i.
    """
    ingest(tmp_store, batch(
        *(company(c) for c in ("p", "a", "c", "q", "r")), entity("Incident", "i", category="outage"),
        owns("p", "a", None, share_min=0.25, share_max=0.5), owns("a", "c", None, share_min=0.5, share_max=0.75),
        owns("q", "c", 0.2), owns("r", "c", None), rel("RESPONSIBLE_FOR", "c", "i"),
    ))
    return CorpGraph(tmp_store)


def test_a_two_level_chain_of_ranges_worked_by_hand(chain: CorpGraph) -> None:
    got = _by(chain.owners("c"), "owner")
    # P -> C: at the minimums 0.25 * 0.5 = 0.125, at the maximums 0.5 * 0.75 = 0.375,
    # the point value from the midpoints 0.375 * 0.625 = 0.234375
    p = got["p"]
    assert (p.integrated_min, p.integrated, p.integrated_max) == (
        approx(0.125), approx(0.234375), approx(0.375))
    assert p.estimate and not p.unknown and not p.controls and not p.may_control  # 0.5 of A is not > 0.5
    a = got["a"]
    assert (a.integrated_min, a.integrated, a.integrated_max) == (approx(0.5), approx(0.625),
                                                                 approx(0.75))
    assert not a.controls and a.may_control  # 0.5 at the minimum is not control; 0.75 at the maximum is
    q = got["q"]  # exact: its bounds are its value, no estimate
    assert (q.integrated_min, q.integrated, q.integrated_max, q.estimate) == (0.2, 0.2, 0.2, False)
    # R's unknown share: 0 at the minimum; at the maximum what the others' minimums leave free,
    # 1 - 0.5 (A) - 0.2 (Q) = 0.3; never a number as a point value
    r = got["r"]
    assert r.integrated is None and r.unknown and (r.integrated_min, r.integrated_max) == (0.0, approx(0.3))


def test_liability_and_exposure_carry_the_bounds(chain: CorpGraph) -> None:
    parties = {(p.entity, p.role): p for p in chain.liability_chain("i").parties}
    owner = parties[("p", Role.OWNER)]
    assert (owner.weight_min, owner.weight, owner.weight_max) == (approx(0.125), approx(0.234375),
                                                                  approx(0.375))
    assert owner.estimate
    assert (parties[("c", Role.RESPONSIBLE)].weight_min, parties[("c", Role.RESPONSIBLE)].weight_max) == (1.0, 1.0)
    (item,) = [i for i in chain.exposure("p").items if i.channel is Channel.OWNERSHIP]
    assert (item.weight_min, item.weight, item.weight_max) == (approx(0.125), approx(0.234375),
                                                               approx(0.375))
    assert item.estimate


def test_the_bounds_are_skipped_when_every_share_is_exact(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 0.5), ("b", "c", 0.6)))
    graph = CorpGraph(tmp_store)
    view = graph.projection().view(date.today())
    assert view.lower() is view and view.upper() is view  # no second solve when nothing is uncertain
    got = _by(graph.owners("c"), "owner")["a"]
    assert got.integrated_min == got.integrated == got.integrated_max == pytest.approx(0.3)


def test_graphql_answers_the_bounds(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("p"), company("y"), owns("p", "y", None, share_min="75%", share_max="100%")))
    with client_for(tmp_store) as client:
        answer = gql(client, '{ owners(companyId: "y") { integrated integratedMin integratedMax estimate '
                             'controls mayControl } }')
    assert answer["data"]["owners"] == [{"integrated": 0.875, "integratedMin": 0.75, "integratedMax": 1.0,
                                         "estimate": True, "controls": True, "mayControl": True}]
