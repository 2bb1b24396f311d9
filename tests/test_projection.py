"""The projection: arrays built from a store, as_of views, adjacency, and the service's revision cache."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection import build as build_module
from corpgraph.graph.projection.build import Adjacency, build_projection, day_number
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.kinds import RelationType
from tests.factory import batch, companies_owning, company, entity, owns, rel


def _store(tmp_store: SqliteStore) -> SqliteStore:
    """A -> B (0.2 until 2020, then 0.6), A -> C unknown, B -> C 0.1, B responsible for I."""
    ingest(tmp_store, batch(
        company("a"), company("b"), company("c"), entity("Incident", "i", category="outage"),
        owns("a", "b", 0.2, valid_from="2018-01-01", valid_to="2020-01-01"), owns("a", "b", 0.6, valid_from="2020-01-01"),
        owns("a", "c", None), rel("RESPONSIBLE_FOR", "b", "i"), owns("b", "c", 0.1),
    ))
    return tmp_store


def test_columns_read_from_the_store(tmp_store: SqliteStore) -> None:
    proj = build_projection(_store(tmp_store))
    assert sorted(proj.ids) == ["a", "b", "c", "i"] and all(proj.ids[proj.index[i]] == i for i in proj.ids)
    rows = {rid: k for k, rid in enumerate(proj.relation_ids)}
    old, unknown = rows["OWNS|a|b|2018-01-01"], rows["OWNS|a|c|"]
    assert proj.share[old] == 0.2 and np.isnan(proj.share[unknown])
    assert proj.valid_from[old] == day_number(date(2018, 1, 1)) and proj.valid_to[old] == day_number(date(2020, 1, 1))
    assert proj.valid_from[unknown] < day_number(date(1900, 1, 1))  # open start: always begun
    assert proj.revision == tmp_store.revision()


def test_adjacency_per_relation_type(tmp_store: SqliteStore) -> None:
    proj = build_projection(_store(tmp_store))
    nbr, _ = proj.out[RelationType.RESPONSIBLE_FOR].of(proj.index["b"])
    assert proj.nodes(nbr) == ["i"]
    owners, _ = proj.into[RelationType.OWNS].of(proj.index["b"])
    assert proj.nodes(owners) == ["a", "a"]  # both statements of the stake, before any as_of filtering


def test_as_of_views_mask_dates_and_are_cached(tmp_store: SqliteStore) -> None:
    proj = build_projection(_store(tmp_store))
    a, b, c = (proj.index[x] for x in "abc")
    early, late = proj.view(date(2019, 1, 1)), proj.view(date(2020, 1, 1))
    assert early.W[a, b] == 0.2 and late.W[a, b] == 0.6  # valid_to is exclusive
    assert early.W[a, c] == 0.0 and sorted(proj.nodes(late.down.of(a)[0])) == ["b", "c"]  # unknown: in adjacency only
    assert proj.view(date(2019, 1, 1)) is early


def test_gather_and_reach_without_python_loops_over_edges() -> None:
    frm, to = np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3])
    adj = Adjacency.build(4, frm, to, np.arange(4))
    nbr, edges = adj.gather(np.array([0, 2]))
    assert nbr.tolist() == [1, 2, 3] and edges.tolist() == [0, 1, 3]
    nodes, dist = adj.reach([0])
    assert dict(zip(nodes.tolist(), dist.tolist())) == {0: 0, 1: 1, 2: 1, 3: 2}
    near, _ = adj.reach([0], limit=1)
    assert sorted(near.tolist()) == [0, 1, 2]


def test_reach_gives_the_same_levels_for_small_and_large_closures() -> None:
    # a binary tree: node k holds 2k+1 and 2k+2, so level d is nodes 2^d - 1 .. 2^(d+1) - 2
    n = 255
    frm = np.array([k for k in range(n) for _ in (1, 2) if 2 * k + 2 < n])
    to = np.array([2 * k + j for k in range(n) for j in (1, 2) if 2 * k + 2 < n])
    adj = Adjacency.build(n, frm, to, np.arange(frm.size))
    small, small_dist = adj.reach([31, 31])  # 31, its children 63 and 64, theirs 127-130: walked in Python ints
    assert small.tolist() == [31, 63, 64, 127, 128, 129, 130]
    assert small_dist.tolist() == [0, 1, 1, 2, 2, 2, 2] and small.dtype == np.int64
    large, dist = adj.reach([0])  # all 255 nodes: past 64 seen, walked again with the mask
    assert large.tolist() == list(range(n)) and dist.tolist() == [d for d in range(8) for _ in range(2**d)]
    within, _ = adj.reach([0], limit=2)
    assert within.tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_reach_from_a_hub_gives_its_levels_and_the_closure_sorted() -> None:
    # node 0 holds 300 nodes (more than the small walk takes from one node), each held node i holds 300 + i
    hub = 300
    frm = np.array([0] * hub + list(range(1, hub + 1)))
    to = np.array(list(range(hub, 0, -1)) + list(range(hub + 1, 2 * hub + 1)))
    adj = Adjacency.build(2 * hub + 1, frm, to, np.arange(frm.size))
    nodes, dist = adj.reach([0])
    assert sorted(nodes.tolist()) == list(range(2 * hub + 1))
    assert dict(zip(nodes.tolist(), dist.tolist())) == {0: 0, **{i: 1 for i in range(1, hub + 1)},
                                                        **{i: 2 for i in range(hub + 1, 2 * hub + 1)}}
    assert adj.closure([0]).tolist() == list(range(2 * hub + 1))


def test_service_rebuilds_only_when_the_revision_changes(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 0.5)))
    graph = CorpGraph(tmp_store)
    first = graph.projection()
    assert graph.projection() is first
    ingest(tmp_store, companies_owning(("b", "c", 0.7)))
    assert graph.projection() is not first
    assert [h.owner for h in graph.owners("c")] == ["b", "a"]


def test_a_store_without_companies_answers_with_nothing_rather_than_failing(tmp_store: SqliteStore) -> None:
    """A view over no company (only people, or nothing at all) has empty share matrices: its control relation and
    components are empty, and questions about a person's holdings or owners answer with nothing."""
    graph = CorpGraph(tmp_store)
    ingest(tmp_store, batch(entity("Person", "p")))
    day = date(2024, 1, 1)
    assert graph.holdings("p", day) == []


def test_closure_is_the_sorted_reach_whether_read_off_the_levels_or_the_mask() -> None:
    # 1,000 nodes. From 0: 0 -> 150 -> 3 -> 999, four nodes (under 1/64 of the graph: sorted from the levels, which
    # come in the order 0, 150, 3, 999). From 500: every other node (read off the mask).
    frm = np.array([0, 150, 3, *([500] * 999)])
    to = np.array([150, 3, 999, *(k for k in range(1000) if k != 500)])
    adj = Adjacency.build(1000, frm, to, np.arange(frm.size))
    assert adj.closure([0]).tolist() == [0, 3, 150, 999]
    assert adj.closure([500]).tolist() == list(range(1000))
    assert adj.closure([3, 150]).tolist() == [3, 150, 999]


def test_submatrix_of_a_few_nodes_reads_the_same_entries_in_the_same_order(
        tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # A holds 50% of B and 20% of C, B 30% of C and 10% of A (a loop)
    ingest(tmp_store, companies_owning(("a", "b", 0.5), ("a", "c", 0.2), ("b", "c", 0.3), ("b", "a", 0.1)))
    proj = CorpGraph(tmp_store).projection()
    view = proj.view(date(2024, 1, 1))
    nodes = np.array([proj.index[x] for x in "cab"])  # positions: c 0, a 1, b 2
    few = {upstream: view.submatrix(nodes, upstream) for upstream in (False, True)}  # read in Python ints
    for rows, cols, shares in few.values():
        assert sorted(zip(rows.tolist(), cols.tolist(), shares.tolist())) == [
            (1, 0, 0.2), (1, 2, 0.5), (2, 0, 0.3), (2, 1, 0.1)]
    monkeypatch.setattr(build_module, "_FEW_ROWS", 0)  # the numpy reading of larger blocks
    for upstream, found in few.items():
        for mine, theirs in zip(found, view.submatrix(nodes, upstream)):
            assert mine.dtype == theirs.dtype and mine.tolist() == theirs.tolist()  # the same order too
