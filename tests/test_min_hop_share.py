"""`minHopShare` of liabilityChain (issue 20, item 13): the README's argument exists in GraphQL and filters
displayed paths hop by hop, never the weights.

R is responsible for incident i; A holds 50% of R; P holds 10% of A and 5% of R directly.
P's weight = 0.05 + 0.1 x 0.5 = 0.10 either way. With minHopShare 0.08 the direct 5% hop is not shown:
P's only path is P -> A -> R (hops 0.1 and 0.5).
"""
from __future__ import annotations

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company, entity, owns, rel
from tests.test_api_safety import client_for, gql, messages

QUERY = """query($m: Float) { liabilityChain(incidentId: "i", minHopShare: $m) {
  parties { entity { id } role weight paths { hops { from to share } } } } }"""


def p_paths(store: SqliteStore, m: float | None) -> tuple[float, list[list[tuple[str, str, float]]]]:
    """P's weight and its displayed paths as (from, to, share) hops."""
    with client_for(store) as client:
        parties = gql(client, QUERY, {"m": m})["data"]["liabilityChain"]["parties"]
    (p,) = [x for x in parties if x["entity"]["id"] == "p"]
    return p["weight"], sorted([[(h["from"], h["to"], h["share"]) for h in path["hops"]] for path in p["paths"]])


def test_min_hop_share_filters_displayed_paths_not_weights(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("r"), company("a"), company("p"), entity("Incident", "i", category="outage"),
                            rel("RESPONSIBLE_FOR", "r", "i"), owns("a", "r", 0.5), owns("p", "a", 0.1), owns("p", "r", 0.05)))
    weight, paths = p_paths(tmp_store, None)
    assert weight == pytest.approx(0.10)
    end = ("r", "i", None)  # every path ends with the responsible company's hop to the incident
    assert paths == [[("p", "a", 0.1), ("a", "r", 0.5), end], [("p", "r", 0.05), end]]
    weight, paths = p_paths(tmp_store, 0.08)
    assert weight == pytest.approx(0.10)
    assert paths == [[("p", "a", 0.1), ("a", "r", 0.5), end]]
    with client_for(tmp_store) as client:
        assert messages(gql(client, QUERY, {"m": 1.5})) == ["minHopShare must be between 0 and 1, got 1.5"]
