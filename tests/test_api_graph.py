"""The graph/ functions behind the API's browsing fields: neighbourhood walks and cursor pagination (seed data)."""
from __future__ import annotations

from datetime import date

import pytest

from corpgraph.graph.browse import companies, incidents
from corpgraph.graph.cursors import decode_cursor, encode_cursor
from corpgraph.graph.analytics.neighborhood import neighborhood
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import CorpgraphError, NotFound
from corpgraph.schema.kinds import IncidentCategory, RelationType

# Seed relations touching kaola: lakala -OWNS-> kaola, kaola -RESPONSIBLE_FOR-> kaola-leak-2019,
# kaola -SUPPLIED_DATA_TO-> heipachong. The leak is AFFECTED->lakala and REPORTED by cctv, cn-police, zol.
DEPTH_1 = {"kaola", "lakala", "kaola-leak-2019", "heipachong"}
REPORTERS = {"cctv", "cn-police", "zol"}


def test_depth_one_is_the_direct_relations(seed_store: SqliteStore) -> None:
    graph = neighborhood(seed_store, "kaola", 1)
    assert {n.id for n in graph.nodes} == DEPTH_1
    assert sorted(e.type for e in graph.edges) == ["OWNS", "RESPONSIBLE_FOR", "SUPPLIED_DATA_TO"]


def test_depth_two_reaches_the_reporters_and_the_affected_edge(seed_store: SqliteStore) -> None:
    graph = neighborhood(seed_store, "kaola", 2)
    assert {n.id for n in graph.nodes} == DEPTH_1 | REPORTERS
    # 3 edges of depth 1, AFFECTED leak->lakala (both ends already in), 3 REPORTED.
    assert len(graph.edges) == 7
    assert {e.source for e in graph.edges if e.type == "REPORTED"} == REPORTERS


def test_relation_types_filter_the_walk(seed_store: SqliteStore) -> None:
    graph = neighborhood(seed_store, "kaola", 3, [RelationType.OWNS])
    assert {n.id for n in graph.nodes} == {"kaola", "lakala"}
    assert [e.id for e in graph.edges] == ["OWNS|lakala|kaola|"]


def test_size_bound_keeps_lowest_ids_and_only_edges_between_kept_nodes(seed_store: SqliteStore) -> None:
    graph = neighborhood(seed_store, "kaola", 2, max_nodes=5)
    # 4 nodes after depth 1; one more admitted of the sorted candidates [cctv, cn-police, zol].
    assert {n.id for n in graph.nodes} == DEPTH_1 | {"cctv"}
    assert len(graph.edges) == 5
    kept = {n.id for n in graph.nodes}
    assert all(e.source in kept and e.target in kept for e in graph.edges)
    # The "N more" marker: cn-police and zol were reached and left out.
    assert graph.more_nodes == 2
    assert neighborhood(seed_store, "kaola", 2).more_nodes == 0  # uncapped: the graph is whole


def test_unknown_id_is_not_found(seed_store: SqliteStore) -> None:
    with pytest.raises(NotFound, match="no entity with id 'nope'"):
        neighborhood(seed_store, "nope")


def test_companies_page_through_in_id_order(seed_store: SqliteStore) -> None:
    first = companies(seed_store, 4)
    assert [c.id for c in first.items] == ["alibaba", "alipay", "ctrip", "heipachong"]
    assert first.has_next_page and first.end_cursor == encode_cursor("heipachong")
    second = companies(seed_store, 4, first.end_cursor)
    assert [c.id for c in second.items] == ["kaola", "lakala"]
    assert not second.has_next_page


def test_incidents_filter_by_category_and_dates(seed_store: SqliteStore) -> None:
    assert [i.id for i in incidents(seed_store, IncidentCategory.OUTAGE).items] == \
        ["alipay-outage-2015", "ctrip-outage-2015"]
    # alipay-outage 2015-05-27, ctrip-outage 2015-05-28, the Kaola leak has no date (left out under a bound).
    assert [i.id for i in incidents(seed_store, from_=date(2015, 5, 28)).items] == ["ctrip-outage-2015"]
    assert [i.id for i in incidents(seed_store, to=date(2015, 5, 27)).items] == ["alipay-outage-2015"]
    assert len(incidents(seed_store).items) == 3


def test_a_page_exactly_full_says_no_next_page(seed_store: SqliteStore) -> None:
    page = incidents(seed_store, IncidentCategory.OUTAGE, first=2)
    assert len(page.items) == 2 and not page.has_next_page


def test_cursor_round_trip_and_garbage(seed_store: SqliteStore) -> None:
    assert decode_cursor(encode_cursor("kaola-leak-2019")) == "kaola-leak-2019"
    with pytest.raises(CorpgraphError, match="invalid cursor"):
        companies(seed_store, 2, "%%%")
