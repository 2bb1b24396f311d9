"""Pagination of owners and holdings: rank order, cursors, count, bounds; the facade's pages."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from corpgraph.graph.analytics import ownership
from corpgraph.graph.analytics.solves import Solves
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import companies_owning
from tests.test_api_safety import client_for, gql, messages

# p holds c6 60%, c1 50%, c2 30%, c3 30%, c4 10%, c5 5% directly, and c7 through c6 (60% x 25% = 15%).
# Holdings of p by integrated share, then id: c6 .6, c1 .5, c2 .3, c3 .3, c7 .15, c4 .1, c5 .05 (7 in all).
WORLD = companies_owning(("p", "c6", 0.6), ("p", "c1", 0.5), ("p", "c2", 0.3), ("p", "c3", 0.3), ("p", "c4", 0.1),
                         ("p", "c5", 0.05), ("c6", "c7", 0.25), ("q", "c2", 0.4), ("r", "c2", 0.3))
ORDER = ["c6", "c1", "c2", "c3", "c7", "c4", "c5"]
PAGE = "query($a: String) { holdings(companyId: \"p\", first: 3, after: $a) { company { id } integrated cursor count } }"


@pytest.fixture
def store(tmp_store: SqliteStore) -> SqliteStore:
    """The world above in an embedded store."""
    ingest(tmp_store, WORLD)
    return tmp_store


@pytest.fixture
def client(store: SqliteStore) -> Iterator[Any]:
    """A client over it."""
    with client_for(store) as c:
        yield c


def test_pages_follow_the_rank_order_through_cursors(client: Any) -> None:
    seen: list[str] = []
    counts: set[int] = set()
    after = None
    for _ in range(4):  # 7 holdings in pages of 3: 3 + 3 + 1, then an empty page
        page = gql(client, PAGE, {"a": after})["data"]["holdings"]
        seen += [h["company"]["id"] for h in page]
        counts |= {h["count"] for h in page}
        if not page:
            break
        after = page[-1]["cursor"]
    assert seen == ORDER  # the tie c2/c3 at 0.3 is split between pages 1 and 2 and nothing repeats or drops
    assert counts == {7}
    first = gql(client, PAGE, {"a": None})["data"]["holdings"]
    assert [h["integrated"] for h in first] == [pytest.approx(0.6), pytest.approx(0.5), pytest.approx(0.3)]


def test_owners_are_paged_the_same_way(client: Any) -> None:
    # Owners of c2: q 0.4 direct, then p and r at 0.3 (tie broken by id); 0.4 + 0.3 + 0.3 = 100%.
    query = '{ owners(companyId: "c2", first: 2) { owner { id } direct cursor count } }'
    page = gql(client, query)["data"]["owners"]
    assert [(h["owner"]["id"], h["count"]) for h in page] == [("q", 3), ("p", 3)]
    rest = gql(client, 'query($a: String) { owners(companyId: "c2", after: $a) { owner { id } } }',
               {"a": page[-1]["cursor"]})["data"]["owners"]
    assert rest == [{"owner": {"id": "r"}}]


def test_default_page_and_bounds(store: SqliteStore) -> None:
    with client_for(store, holdings_first=2) as c:
        assert len(gql(c, '{ holdings(companyId: "p") { cursor } }')["data"]["holdings"]) == 2
    with client_for(store) as c:
        assert messages(gql(c, '{ holdings(companyId: "p", first: 0) { cursor } }')) == [
            "first must be between 1 and 1000, got 0"]
        assert messages(gql(c, '{ owners(companyId: "c2", after: "%%") { cursor } }')) == [
            "invalid cursor '%%': pass the cursor of the last Holding received"]


def test_facade_pages_match_the_full_list(store: SqliteStore) -> None:
    graph = CorpGraph(store)
    full = graph.holdings("p")
    assert [h.company for h in full] == ORDER
    page = graph.holdings_page("p", first=4)
    assert (page.count, [h.company for h in page.items]) == (7, ORDER[:4])
    assert [h.company for h in graph.holdings_page("p", first=4, after=page.items[-1].cursor).items] == ORDER[4:]
    # An entity in no relation has an empty page, not an error.
    ingest(store, companies_owning(("x", "y", 0.1)))
    assert graph.owners_page("x").count == 0


def test_ties_rank_by_id_as_text_not_by_node_order(tmp_store: SqliteStore) -> None:
    # h holds c9, c10 and b 20% each and a 50%: a first, then the three tied at 0.2 as text orders them, b < c10 < c9
    # (node order, by length first, would put b and c9 before c10). Pages cut inside the tie keep that order.
    ingest(tmp_store, companies_owning(("h", "c9", 0.2), ("h", "c10", 0.2), ("h", "b", 0.2), ("h", "a", 0.5)))
    graph = CorpGraph(tmp_store)
    assert [h.company for h in graph.holdings("h")] == ["a", "b", "c10", "c9"]
    first = graph.holdings_page("h", first=2)
    assert [h.company for h in first.items] == ["a", "b"]
    assert [h.company for h in graph.holdings_page("h", first=2, after=first.items[-1].cursor).items] == ["c10", "c9"]


def test_a_holder_is_solved_once_for_its_pages_until_the_graph_changes(store: SqliteStore,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    solved: list[str] = []
    solve = ownership.holding_candidates

    def counted(view: Any, node: int, bounds: bool = True) -> ownership.Candidates:
        solved.append(view.projection.ids[node])
        return solve(view, node, bounds)

    monkeypatch.setattr(ownership, "holding_candidates", counted)
    graph = CorpGraph(store)
    page = graph.holdings_page("p", first=3)
    rest = graph.holdings_page("p", first=3, after=page.items[-1].cursor)
    assert [h.company for h in page.items + rest.items] == ORDER[:6] and len(graph.holdings("p")) == 7
    assert solved == ["p"]  # the later page and the whole answer read the first page's solve
    graph.holdings_page("p", first=3, bounds=False)  # another question: solved apart
    assert solved == ["p", "p"]
    ingest(store, companies_owning(("p", "c8", 0.7)))  # a write: a new analytic state, solved again
    assert [h.company for h in graph.holdings_page("p", first=2).items] == ["c8", "c6"]
    assert solved == ["p", "p", "p"]


def test_the_kept_solves_are_the_most_recent_few(store: SqliteStore) -> None:
    graph = CorpGraph(store)
    view = graph.projection().view(date.today())
    index = graph.projection().index
    solves, made = Solves(entries=2, nodes=100), []

    def solve(id: str) -> ownership.Candidates:
        made.append(id)
        return ownership.owner_candidates(view, index[id])

    for id in ("c1", "c2", "c1", "c3", "c1", "c2"):  # c2 is dropped when c3 comes (c1 was used since)
        solves.get(view, index[id], True, True, lambda: solve(id))
    assert made == ["c1", "c2", "c3", "c2"]
    small = Solves(entries=4, nodes=3)  # c2's block (c2, p, q, r) alone is over 3 nodes: kept only while the last
    for id in ("c2", "c1", "c2"):
        small.get(view, index[id], True, True, lambda: solve(id))
    assert made[4:] == ["c2", "c1", "c2"]
