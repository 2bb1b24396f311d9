"""Over-allocation from imported statements of different dates (issue 20, item 7): the later one wins.

Imported (a source with a record_id): B holds 80% of C from 2019-01-01, A holds 60% of C from 2023-01-01.
On 2024-01-01 they sum to 140%. The later statement wins: B's stake ends at 2023-01-01, so A holds 60% and
controls C (proportional scaling would give A 60/140 = 0.4286 and no control). Before 2023 only B's 80% is
valid. Same-day statements (both from 2019-01-01) are still scaled and flagged: A 0.4286, B 0.5714.
"""
from __future__ import annotations

from datetime import date

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import Applied, CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import approx, batch, company, entity, owns, rel

SRC = [{"publisher": "Register", "title": "Statement", "record_id": "s"}]


def world(store: SqliteStore, a_from: str) -> CorpGraph:
    """C held 80% by B from 2019 and 60% by A from `a_from` (imported); C responsible for incident i; P holds 50% of A."""
    ingest(store, batch(*(company(c) for c in ("a", "b", "c", "p")), entity("Incident", "i", category="outage"),
                        owns("b", "c", 0.8, valid_from="2019-01-01", sources=SRC),
                        owns("a", "c", 0.6, valid_from=a_from, sources=SRC),
                        owns("p", "a", 0.5, sources=SRC), rel("RESPONSIBLE_FOR", "c", "i")))
    return CorpGraph(store)


def test_the_later_statement_ends_the_earlier_one(tmp_store: SqliteStore) -> None:
    graph = world(tmp_store, "2023-01-01")
    got = {h.owner: h for h in graph.owners("c", date(2024, 1, 1))}
    assert set(got) == {"a", "p"}  # B's stake ended at 2023-01-01
    assert (got["a"].integrated, got["a"].controls, got["a"].over_allocated) == (approx(0.6), True, False)
    assert got["p"].integrated == pytest.approx(0.3)  # 0.5 x 0.6
    assert {h.owner: h.integrated for h in graph.owners("c", date(2022, 1, 1))} == {"b": pytest.approx(0.8)}
    # liability weights and path weights use the same effective shares
    chain = graph.liability_chain("i", date(2024, 1, 1))
    p = next(x for x in chain.parties if x.entity == "p")
    assert p.weight == pytest.approx(0.3) and [path.weight for path in p.paths] == [pytest.approx(0.3)]
    assert "b" not in {x.entity for x in chain.parties}


def test_same_day_statements_are_still_scaled_and_flagged(tmp_store: SqliteStore) -> None:
    graph = world(tmp_store, "2019-01-01")
    got = {h.owner: h for h in graph.owners("c", date(2024, 1, 1))}
    assert got["a"].integrated == pytest.approx(0.6 / 1.4) and got["a"].over_allocated and not got["a"].controls
    assert got["b"].integrated == pytest.approx(0.8 / 1.4) and got["b"].controls


def test_path_weights_use_the_effective_shares_of_the_party_weights(tmp_store: SqliteStore) -> None:
    # same day: A's 60% counts 0.6 / 1.4 in W; P (50% of A) has weight 0.5 x 0.4286 = 0.2143, and so has its path
    # (its hops still show what the sources state: 0.5 and 0.6).
    graph = world(tmp_store, "2019-01-01")
    chain = graph.liability_chain("i", date(2024, 1, 1))
    p = next(x for x in chain.parties if x.entity == "p")
    assert p.weight == pytest.approx(0.5 * 0.6 / 1.4)
    (path,) = p.paths
    assert path.weight == pytest.approx(0.5 * 0.6 / 1.4)
    assert [h.share for h in path.hops[:2]] == [0.5, 0.6]


def test_a_patched_view_ends_and_restores_stakes_as_a_rebuild_does(tmp_store: SqliteStore) -> None:
    # B 80% from 2019 is loaded and today's view cached; then A 60% from 2023 arrives (B ends), then A's stake
    # is restated from 2019 (a same-day conflict: B returns, both scaled). Each patched view equals a rebuilt one.
    from tests.test_delta import _check
    ingest(tmp_store, batch(company("a"), company("b"), company("c"),
                            owns("b", "c", 0.8, valid_from="2019-01-01", sources=SRC)))
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    _check(graph, tmp_store)
    graph.write(batch(owns("a", "c", 0.6, valid_from="2023-01-01", sources=SRC)))
    _check(graph, tmp_store)
    assert {h.owner for h in graph.owners("c")} == {"a"}
    graph.write(batch(owns("a", "c", 0.6, valid_from="2019-01-01", sources=SRC)))
    _check(graph, tmp_store)
    assert graph.live.current().how.applied is Applied.DELTA  # type: ignore[union-attr]
