"""Pagination of owners and holdings: rank order, cursors, count, bounds; the facade's pages."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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
