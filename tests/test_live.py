"""Writes become visible without a stop-the-world rebuild (graph.projection.live): swap, coalescing, other processes."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import Analytic, Applied, CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import companies_owning


def _owners(graph: CorpGraph, company: str) -> dict[str, float]:
    """Owner -> integrated share of the company, as the graph answers now."""
    out = {}
    for h in graph.owners(company):
        assert h.integrated is not None, h  # these worlds know every share
        out[h.owner] = round(h.integrated, 9)
    return out


def _gated(graph: CorpGraph) -> tuple[threading.Event, threading.Event]:
    """Make the graph's background builds wait for `release` (a slow build); `started` is set when one begins."""
    started, release = threading.Event(), threading.Event()
    build = graph._build

    def slow() -> Analytic:
        """The real build, held until the test releases it."""
        started.set()
        release.wait(30)
        return build()

    graph.live._build = slow
    return started, release


def test_queries_during_a_background_build_answer_from_the_previous_projection(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 0.5)))
    graph = CorpGraph(tmp_store, fresh_wait=0.05)
    assert _owners(graph, "b") == {"a": 0.5}
    started, release = _gated(graph)
    ingest(tmp_store, companies_owning(("c", "b", 0.3)))  # another writer: the revision moves
    begin = time.monotonic()
    assert _owners(graph, "b") == {"a": 0.5}  # the previous projection, while the new one is held back
    assert started.wait(5) and time.monotonic() - begin < 5  # not blocked on the held build (30 s)
    for _ in range(3):
        assert _owners(graph, "b") == {"a": 0.5}
    release.set()
    graph.live.fresh()
    assert _owners(graph, "b") == {"a": 0.5, "c": 0.3}


def test_revisions_arriving_during_a_build_are_coalesced(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 0.5)))
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    graph.projection()
    assert graph.live.builds == 1
    started, release = _gated(graph)
    ingest(tmp_store, companies_owning(("c", "b", 0.1)))
    graph.projection()  # starts the build, which waits for release
    assert started.wait(5)
    for owner in ("d", "e", "f"):  # three writes while the build is held
        ingest(tmp_store, companies_owning((owner, "b", 0.1)))
        graph.projection()
    release.set()
    latest = graph.live.fresh()
    assert latest.revision == tmp_store.revision()
    # the held build reads the store once released, with all four writes in: the first build + 1, not + 4
    assert graph.live.builds == 2
    assert set(_owners(graph, "b")) == {"a", "c", "d", "e", "f"}


def test_a_write_through_the_facade_is_seen_by_the_next_query(tmp_store: SqliteStore) -> None:
    graph = CorpGraph(tmp_store, fresh_wait=0.0)  # never wait in queries: only the write's own wait counts
    graph.write(companies_owning(("a", "b", 0.5)))
    assert _owners(graph, "b") == {"a": 0.5}
    graph.write(companies_owning(("c", "a", 0.4)))
    # b's owners: a directly 0.5; c through a 0.4 * 0.5 = 0.2
    assert _owners(graph, "b") == {"a": 0.5, "c": 0.2}


def test_writes_by_another_process_are_picked_up_through_the_revision(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 0.5)))
    graph = CorpGraph(tmp_store)
    assert _owners(graph, "b") == {"a": 0.5}
    code = ("import sys; from corpgraph.graph.write.ingest import ingest; from corpgraph.graph.stores.sqlite import SqliteStore; "
            "from tests.factory import companies_owning; s = SqliteStore(sys.argv[1]); "
            "ingest(s, companies_owning(('z', 'b', 0.25))); s.close()")
    subprocess.run([sys.executable, "-c", code, str(tmp_store.path)], check=True, cwd=Path(__file__).parents[1])
    graph.live.fresh()
    assert _owners(graph, "b") == {"a": 0.5, "z": 0.25}


def test_a_full_rebuild_warms_the_dates_served_with_their_control_relation(tmp_store: SqliteStore) -> None:
    graph = CorpGraph(tmp_store)
    graph.write(companies_owning(("a", "b", 0.6)))
    assert graph.controlling_parent("b") == "a"  # today's view and its control relation, built by the query
    graph.decide("a", "b", "different", "alice")  # a decision: the next state is a full build, not a delta
    graph.live.fresh()
    state = graph.live.current()
    assert state is not None and state.how.applied is Applied.FULL
    [day] = state.projection.cached_days()
    assert state.projection.view(day).control is not None  # built by the builder, before any query asked
