"""Where requests run (worker lanes, never the event loop) and the per-request time budget: a request past it is
answered with a TIMEOUT error, and its work is abandoned."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from corpgraph.api.lanes import Lane, Lanes
from corpgraph.graph import budget
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import TimedOut
from tests.test_api_safety import client_for, gql

SLOW = 3.0  # seconds the patched analytics sleep; the budget below is 0.5 s


def _slow(*args: Any, **kwargs: Any) -> Any:
    """Work that outlasts the budget, then reaches a check point (as a store read does) and stops there."""
    time.sleep(SLOW)
    budget.check()
    raise AssertionError("the deadline had passed: check() must have stopped the work")


def test_graphql_request_past_its_budget_gets_a_timeout(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CorpGraph, "liability_chain", _slow)
    with client_for(seed_store, time_budget=0.5) as c:
        started = time.perf_counter()
        answer = gql(c, '{ liabilityChain(incidentId: "kaola-leak-2019") { asOf } }')
        elapsed = time.perf_counter() - started
        assert answer["data"] is None
        [error] = answer["errors"]
        assert error["message"].startswith("the request ran past its time budget (CORPGRAPH_API_TIME_BUDGET seconds)")
        assert error["extensions"] == {"code": "TIMEOUT"}
        assert elapsed < SLOW  # answered at the budget, not when the work ended
        assert c.get("/healthz").status_code == 200  # the sleeping worker holds up nothing else


def test_export_past_its_budget_is_a_503(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CorpGraph, "liability_chain", _slow)
    with client_for(seed_store, time_budget=0.5) as c:
        response = c.get("/export/d3", params={"query": "liability", "id": "kaola-leak-2019"})
    assert response.status_code == 503 and response.json()["code"] == "TIMEOUT"


def test_a_job_still_queued_at_its_deadline_never_runs() -> None:
    lanes = Lanes(heavy=1, quick=1)
    ran = threading.Event()

    async def scenario() -> None:
        busy = asyncio.ensure_future(lanes.run(Lane.HEAVY, None, time.sleep, 0.6))  # takes the only worker
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut):
            await lanes.run(Lane.HEAVY, time.monotonic() + 0.1, ran.set)  # queued behind it past its deadline
        await busy

    try:
        asyncio.run(scenario())
        time.sleep(0.1)  # the worker is free again: had the queued job survived, it would have run by now
        assert not ran.is_set()
    finally:
        lanes.shutdown()


@pytest.mark.parametrize("query,lane", [
    ('{ entity(id: "kaola") { id } }', "quick"),  # a lookup by id: the quick lane
    ('{ owners(companyId: "kaola") { owner { id } } }', "heavy"),  # analytics, and the nested owner entities
    ('mutation { upsertRecords(records: []) { entities } }', "write"),
])
def test_every_store_read_runs_in_a_worker_lane(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                                                query: str, lane: str) -> None:
    threads: set[str] = set()
    for name in ("entities", "owners_page", "write"):
        real = getattr(CorpGraph, name)
        monkeypatch.setattr(CorpGraph, name, _recording(real, threads))
    with client_for(seed_store, token="t") as c:
        answer = c.post("/graphql", json={"query": query}, headers={"Authorization": "Bearer t"}).json()
    assert "errors" not in answer, answer
    assert threads and all(t.startswith(f"corpgraph-{lane}") for t in threads), threads


def _recording(real: Any, threads: set[str]) -> Any:
    """A facade method that notes the name of the thread it runs in."""
    def method(*args: Any, **kwargs: Any) -> Any:
        threads.add(threading.current_thread().name)
        return real(*args, **kwargs)
    return method
