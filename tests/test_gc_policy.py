"""The garbage collector is tuned only by the process that owns it (the server's start-up, the CLI's load), never
as a side effect of a library call."""
from __future__ import annotations

import gc
import platform
from datetime import date
import threading
import weakref
from typing import Any

import pytest

from corpgraph.graph import gc_policy
from corpgraph.graph.gc_policy import FrozenProjections
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from corpgraph.loaders.workers import fan_out
from tests.factory import batch, company, owns


def test_library_calls_leave_the_collector_alone(tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any) -> None:
        raise AssertionError("a library call tuned the garbage collector")

    for name in ("disable", "freeze", "unfreeze", "set_threshold"):
        monkeypatch.setattr(gc, name, forbidden)
    ingest(tmp_store, load_file(seed_path()))  # loading
    graph = CorpGraph(tmp_store)
    assert graph.liability_chain("kaola-leak-2019").parties  # a projection build and a query
    ingest(tmp_store, load_file(seed_path()))
    assert graph.owners("kaola")  # a rebuild after a write


def test_the_server_hooks_freeze_each_new_projection(seed_store: SqliteStore) -> None:
    graph = CorpGraph(seed_store, FrozenProjections())
    before = gc.get_freeze_count()
    try:
        graph.projection()
        assert gc.get_freeze_count() > before  # the projection (and everything alive) left the collector's walk
    finally:
        gc.unfreeze()  # give this test process its collector back


def test_the_server_hooks_pause_the_collector_while_building(seed_store: SqliteStore,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import corpgraph.graph.service as service
    from corpgraph.graph.projection.build import build_projection as real_build  # what service calls by that name

    during: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        during.append(gc.isenabled())
        return real_build(*args, **kwargs)

    monkeypatch.setattr(service, "build_projection", watched)
    assert gc.isenabled()
    try:
        CorpGraph(seed_store, FrozenProjections()).projection()
        assert during == [False]  # paused for the build
        assert gc.isenabled()  # and running again after it
    finally:
        gc.unfreeze()


def test_the_server_hooks_pause_the_collector_while_a_whole_answer_is_made(seed_store: SqliteStore,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from corpgraph.graph.analytics.ownership import Candidates

    real_answer = Candidates.answer
    during: list[bool] = []

    def watched(self: Candidates) -> Any:
        during.append(gc.isenabled())
        return real_answer(self)

    monkeypatch.setattr(Candidates, "answer", watched)
    graph = CorpGraph(seed_store, FrozenProjections())
    try:
        assert graph.owners("kaola") and graph.holdings("lakala")
        assert during == [False, False]  # paused while each whole answer was made
        assert gc.isenabled()  # and running again after them
    finally:
        gc.unfreeze()


def test_overlapping_pauses_leave_the_collector_running() -> None:
    first, second = FrozenProjections().large_answer(), FrozenProjections().large_answer()
    first.__enter__()
    second.__enter__()  # a second thread's answer, begun while the first is made
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_failed_build_leaves_the_collector_running(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import corpgraph.graph.service as service

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("store gone")

    monkeypatch.setattr(service, "build_projection", broken)
    try:
        with pytest.raises(RuntimeError, match="store gone"):
            CorpGraph(seed_store, FrozenProjections()).projection()
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_a_server_makes_glibc_return_large_blocks() -> None:
    """On glibc (this project's Linux), mallopt takes the fixed mapping threshold and says so (1); the soak test
    (tests/test_soak.py) holds what it is for: a server's memory stays flat under a stream of writes."""
    assert platform.libc_ver()[0] != "glibc" or gc_policy.return_large_blocks() is True


def test_the_served_app_freezes_its_projections_and_builds_them_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """`corpgraph serve`'s app, also the benchmark's `uvicorn --factory corpgraph.api.cli:serving_app`: the server's
    own tuning (frozen projections, builds in a child), not create_app's library defaults (none of either)."""
    from corpgraph.api import app as app_module
    from corpgraph.api.cli import serving_app

    made: list[dict[str, Any]] = []
    sentinel = object()

    def create_app(**kwargs: Any) -> object:
        made.append(kwargs)
        return sentinel

    monkeypatch.setattr(app_module, "create_app", create_app)
    assert serving_app() is sentinel
    assert len(made) == 1 and made[0]["store"] is None and made[0]["build_apart"] is True
    assert isinstance(made[0]["rebuild_hooks"], FrozenProjections)


@pytest.mark.parametrize("enabled", [False, True])
def test_validating_workers_keep_the_collector_as_their_process_set_it(enabled: bool) -> None:
    # A forked worker (loaders.workers) runs with the collector its process forked it with: paused under
    # `corpgraph load`'s gc_policy.paused, running for a library caller that keeps it running.
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        seen = list(fan_out(lambda: [[n] for n in range(4)], lambda _: gc.isenabled(), 2))
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [enabled] * 4


def test_the_states_writes_replaced_are_freed_under_the_server_hooks(tmp_store: SqliteStore) -> None:
    """Each write's delta makes a new state whose views refer back to its projection (a cycle); with the collector
    as the server sets it, the replaced ones are freed once nothing holds them, not when the collector's thresholds,
    which count objects, next reach a full collection (a server's heap of a million objects: after many writes)."""
    ingest(tmp_store, batch(company("a"), company("b"), owns("a", "b", 0.6)))
    graph = CorpGraph(tmp_store, FrozenProjections())
    try:
        assert [(h.owner, h.direct) for h in graph.owners("b")] == [("a", 0.6)]
        heap = [(i,) for i in range(400_000)]  # long-lived objects the collector keeps, as a server's are
        replaced = []
        for k in range(6):
            replaced.append(weakref.ref(graph.live.fresh().projection))
            graph.write(batch(company(f"n{k}"), owns("a", f"n{k}", 0.25)))
            # answered from the new state, whose view of today refers back to its projection
            assert [(h.owner, h.direct) for h in graph.owners(f"n{k}")] == [("a", 0.25)]
        _builder_done()
        alive = [k for k, ref in enumerate(replaced) if ref() is not None]
        assert alive == [], f"replaced states still alive: {alive}"
        assert [(h.owner, h.direct) for h in graph.owners("b")] == [("a", 0.6)]
        del heap
    finally:
        gc.unfreeze()


def _builder_done() -> None:
    """Wait until the projection's builder thread (which runs the hooks after its swap) has finished."""
    for thread in threading.enumerate():
        if thread.name == "corpgraph-projection-builder":
            thread.join()


def test_a_query_holding_a_replaced_state_keeps_its_views(tmp_store: SqliteStore) -> None:
    """A query holds the state it reads (graph.service.Analytic) while it runs: a write that replaces it meanwhile
    leaves its views in place (no view built again), and they go once the query lets go of it."""
    ingest(tmp_store, batch(company("a"), company("b"), owns("a", "b", 0.6)))
    graph = CorpGraph(tmp_store)
    held = graph.live.fresh()
    view = held.projection.view(date.today())
    graph.write(batch(company("n"), owns("a", "n", 0.25)))
    _builder_done()
    assert graph.live.current() is not held
    assert held.projection.view(date.today()) is view  # the same view, not built again
    projection = weakref.ref(held.projection)
    del held, view
    assert projection() is None  # freed at once, without a collection
