"""CONTROLS in the control rule: interests that give control, passed on; never a share."""
from __future__ import annotations

import pytest

from corpgraph.graph.analytics.results import Holding, Role
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.base import GraphStore
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.kinds import RelationType
from tests.factory import batch, company, entity, owns, rel


def _by(holdings: list[Holding], side: str) -> dict[str, Holding]:
    """Holdings keyed by the owner (side='owner') or the company."""
    return {getattr(h, side): h for h in holdings}


def _controls(source: str, target: str, kind: str, **fields: object) -> dict[str, object]:
    """A raw CONTROLS record."""
    return rel("CONTROLS", source, target, kind=kind, **fields)


@pytest.fixture
def board(tmp_store: SqliteStore) -> CorpGraph:
    """P holds 60% of H; H appoints Y's board; Q holds 40% of Y; Y is responsible for incident i."""
    ingest(tmp_store, batch(
        company("p"), company("h"), company("y"), company("q"), entity("Incident", "i", category="outage"),
        owns("p", "h", 0.6), _controls("h", "y", "appointmentOfBoard"), owns("q", "y", 0.4),
        rel("RESPONSIBLE_FOR", "y", "i"),
    ))
    return CorpGraph(tmp_store)


def test_a_board_appointment_makes_a_controller_and_control_passes_on(board: CorpGraph) -> None:
    got = _by(board.owners("y"), "owner")
    # Q's 40% is the only share: CONTROLS adds nothing to integrated ownership
    assert got["q"].integrated == pytest.approx(0.4) and not got["q"].controls
    # H controls Y by its board interest, with no share; P controls H (60%) so it controls Y too
    assert got["h"] == Holding("h", "y", None, None, True, may_control=True, interests=("appointmentOfBoard",))
    assert got["p"] == Holding("p", "y", None, None, True, may_control=True)
    assert board.controlling_parent("y") == "p"
    held = _by(board.holdings("p"), "company")
    assert held["h"].integrated == pytest.approx(0.6) and held["h"].controls
    assert held["y"].controls and held["y"].integrated is None


def test_a_controller_without_a_share_is_a_party_whose_path_has_no_weight(board: CorpGraph) -> None:
    chain = board.liability_chain("i")
    parties = {(p.entity, p.role): p for p in chain.parties}
    owner = parties[("p", Role.OWNER)]
    assert owner.weight is None and owner.controls and not owner.unknown  # control, not a 100% share
    (path,) = owner.paths
    assert [h.type for h in path.hops] == [RelationType.OWNS, RelationType.CONTROLS, RelationType.RESPONSIBLE_FOR]
    assert path.weight is None  # a CONTROLS hop is not a weight-1 link
    assert parties[("q", Role.OWNER)].weight == pytest.approx(0.4)
    assert parties[("y", Role.RESPONSIBLE)].controlling_parent == "p"


def test_control_through_interests_adds_no_exposure_weight(board: CorpGraph) -> None:
    # P controls Y only through H's board interest: its integrated share in Y is 0, so no OWNERSHIP item
    assert [i for i in board.exposure("p").items if i.channel.value == "OWNERSHIP"] == []


def test_votes_control_above_half_at_the_minimums_and_may_control_at_the_maximums(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(
        *(company(c) for c in ("a", "b", "c", "d", "x", "y", "z")),
        _controls("a", "x", "votingRights", share=0.5),  # exactly half: no control
        _controls("b", "y", "votingRights", share=0.51),  # more than half
        _controls("c", "z", "votingRights", share_min=0.4, share_max=0.6),  # a range across half
        _controls("d", "z", "otherInfluenceOrControl"),  # an interest that gives no control by itself
    ))
    graph = CorpGraph(tmp_store)
    assert not _by(graph.owners("x"), "owner")["a"].controls
    assert _by(graph.owners("y"), "owner")["b"].controls
    z = _by(graph.owners("z"), "owner")
    assert not z["c"].controls and z["c"].may_control and z["c"].interests == ("votingRights",)
    assert not z["d"].controls and not z["d"].may_control and z["d"].interests == ("otherInfluenceOrControl",)


def test_accounting_consolidation_means_control(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("parent"), company("child"), company("grandchild"),
                            _controls("parent", "child", "accounting_consolidation"), owns("child", "grandchild", 0.8)))
    graph = CorpGraph(tmp_store)
    assert graph.controlling_parent("grandchild") == "parent"  # controls child, which holds 80% of grandchild
    # integrated ownership ignores consolidation: parent holds no share of grandchild
    assert _by(graph.owners("grandchild"), "owner")["parent"].integrated is None


def test_kinds_and_ranges_reach_the_projection(tmp_store: GraphStore) -> None:
    ingest(tmp_store, batch(company("a"), company("b"), owns("a", "b", None, share_min=0.25, share_max=0.5),
                            _controls("a", "b", "votingRights", share_min=0.5, share_max=0.75)))
    rows = {row.type: row for page in tmp_store.iter_edges([RelationType.OWNS, RelationType.CONTROLS]) for row in page}
    assert (rows[RelationType.OWNS].share_min, rows[RelationType.OWNS].share_max) == (0.25, 0.5)
    assert rows[RelationType.CONTROLS].kind == "votingRights" and rows[RelationType.CONTROLS].share_max == 0.75
