"""The control relation carried across a write (graph.projection.view_delta, graph.projection.control.updated), on
small worlds worked by hand from the control rule (graph.projection.control's docstring): the pairs the write leaves
are written out, and they must equal the relation built from scratch on the new store. No full build of the relation
runs for the write: it is carried when the write cannot change it, updated in the columns it can change otherwise.

The world: a holds 60% of b and 25% of d; b holds 60% of c; c holds 30% of d; the padding companies p0..p9 hold 10% of
each other in a ring (no control there), so that the columns a write can change stay a small part of the nodes.
- a controls b (60%); a controls c through b (b's 60%); a controls d: its own 25% plus c's 30% = 55%.
- b controls c (60%); b's power in d is c's 30%: no. c (30%) and d control nothing.
"""
from __future__ import annotations

from datetime import date

import pytest

from corpgraph.graph.projection import control as control_module
from corpgraph.graph.projection.build import AsOfView, day_number
from corpgraph.graph.projection.control import Control, control, may_control
from corpgraph.graph.service import Applied, CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from corpgraph.schema.batch import Batch
from tests.factory import batch, company, owns, rel

PADDING = [f"p{k}" for k in range(10)]
BEFORE = {("a", "b"), ("a", "c"), ("a", "d"), ("b", "c")}


def _world() -> Batch:
    """The world of the module's docstring."""
    ring = [owns(PADDING[k], PADDING[(k + 1) % len(PADDING)], 0.1) for k in range(len(PADDING))]
    return batch(*(company(c) for c in ["a", "b", "c", "d", "e", *PADDING]), owns("a", "b", 0.6), owns("a", "d", 0.25),
                 owns("b", "c", 0.6), owns("c", "d", 0.3), *ring)


def _pairs(relation: object, graph: CorpGraph) -> set[tuple[str, str]]:
    """The (controller, controlled) ids of a relation."""
    assert isinstance(relation, Control)
    rows, cols = relation.by_row.nonzero()
    ids = graph.projection().ids
    return {(ids[int(r)], ids[int(c)]) for r, c in zip(rows.tolist(), cols.tolist())}


def _written(store: SqliteStore, monkeypatch: pytest.MonkeyPatch, write: Batch) -> CorpGraph:
    """A graph over the world whose view of today is ready (control and may_control built), after `write` was
    applied as a delta with no full build of a control relation."""
    ingest(store, _world())
    graph = CorpGraph(store, fresh_wait=0.0)
    view = graph.projection().view(date.today())
    assert _pairs(control(view), graph) == BEFORE and _pairs(may_control(view), graph) == BEFORE
    monkeypatch.setattr(control_module, "REACH", 1.0)  # the update in the columns, however small the world
    monkeypatch.setattr(control_module, "_relation", lambda *a: pytest.fail("the whole relation built again"))
    graph.write(write)
    state = graph.live.current()
    assert state is not None and state.how.applied is Applied.DELTA
    return graph


def _as_built(graph: CorpGraph) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """control and may_control of today's view built from scratch over the graph's projection (after the test's
    monkeypatch is undone: the full build is the reference)."""
    fresh = AsOfView.build(graph.projection(), day_number(date.today()))
    return _pairs(control(fresh), graph), _pairs(may_control(fresh), graph)


def _carried(graph: CorpGraph) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """control and may_control of today's view as the delta left them (before any query)."""
    view = graph.projection().view(date.today())
    assert view.control is not None and view.may_control is not None  # built with the write, not by a query
    return _pairs(view.control, graph), _pairs(view.may_control, graph)


def test_a_stake_cut_below_half_ends_control_down_the_chain(tmp_store: SqliteStore,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """b's 60% of c cut to 40%: b no longer controls c; a's power in c is b's 40% (a controls b): not c; a's power
    in d is then its own 25% alone (c is no longer its): not d. Left: a controls b."""
    graph = _written(tmp_store, monkeypatch, batch(owns("b", "c", 0.4)))
    carried = _carried(graph)
    monkeypatch.undo()
    assert carried == ({("a", "b")}, {("a", "b")}) == _as_built(graph)


def test_a_board_interest_gives_its_holder_everything_its_company_controls(
        tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """e appoints a's board: e controls a, and through a what a controls: b (a's 60%), c (b's 60%, b being e's),
    d (a's 25% + c's 30% = 55%)."""
    graph = _written(tmp_store, monkeypatch, batch(rel("CONTROLS", "e", "a", kind="appointmentOfBoard")))
    carried = _carried(graph)
    monkeypatch.undo()
    gained = BEFORE | {("e", "a"), ("e", "b"), ("e", "c"), ("e", "d")}
    assert carried == (gained, gained) == _as_built(graph)


def test_a_stake_that_gives_control_through_two_levels(tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """e takes 55% of p0: e controls p0, and p0's 10% of p1 gives e nothing more (10%)."""
    graph = _written(tmp_store, monkeypatch, batch(owns("e", "p0", 0.55)))
    carried = _carried(graph)
    monkeypatch.undo()
    assert carried == (BEFORE | {("e", "p0")}, BEFORE | {("e", "p0")}) == _as_built(graph)


def test_a_raised_stake_that_changes_no_pair(tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """a's 25% of d raised to 30%: a already controlled d (now 30% + 30% = 60%); nobody else reaches half of d
    (b: c's 30%; c: 30%). The pairs stay, though a controller of d sees its column change (the update runs)."""
    graph = _written(tmp_store, monkeypatch, batch(owns("a", "d", 0.3)))
    carried = _carried(graph)
    monkeypatch.undo()
    assert carried == (BEFORE, BEFORE) == _as_built(graph)


def test_a_small_stake_in_a_new_company_changes_nothing(tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """n, a new company, 10% held by c, which a controls: a's power in n is c's 10%; nothing changes, and the old
    relation is kept as it is (grown by the new node), not updated."""
    monkeypatch.setattr(control_module, "updated", lambda *a: pytest.fail("updated, though nothing can change"))
    graph = _written(tmp_store, monkeypatch, batch(company("n"), owns("c", "n", 0.1)))
    carried = _carried(graph)
    monkeypatch.undo()
    assert carried == (BEFORE, BEFORE) == _as_built(graph)
