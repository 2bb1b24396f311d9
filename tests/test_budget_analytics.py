"""Abandoned work stops: every analytic checks the request's time budget (graph.budget) in its loops, so a
request answered with TIMEOUT stops using the CPU within 100 ms of its deadline instead of running to the end."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import generate as gen
from benchmarks import run as bench
from corpgraph.graph import budget
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.identity.resolve.candidates import find_candidates
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import TimedOut
from corpgraph.schema.kinds import EntityType

N = 6_000  # the 10 largest holders' whole exposures (every item explained) take ~2 s here: well past the budget below
BUDGET = 0.2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[gen.World, CorpGraph]]:
    """A generated world in an embedded store, its projection built (so reads of the store are not what stops)."""
    work = tmp_path_factory.mktemp("budget")
    world = gen.generate(work / "world.jsonl", N, seed=5)
    store = SqliteStore(work / "corpgraph.db")
    bench.load_jsonl(store, Path(world.path), 5_000)
    graph = CorpGraph(store)
    graph.projection()
    yield world, graph
    store.close()


def _run_within(seconds: float, work: Callable[[], Any]) -> tuple[BaseException | None, float, float]:
    """Run work in a fresh thread under a deadline `seconds` away: its error, CPU seconds and wall seconds."""
    out: list[Any] = []

    def run() -> None:
        started, cpu = time.monotonic(), time.thread_time()
        try:
            with budget.within(started + seconds):
                work()
            out.append(None)
        except BaseException as exc:  # the outcome is what the test inspects
            out.append(exc)
        out.extend([time.thread_time() - cpu, time.monotonic() - started])

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    return out[0], out[1], out[2]


def test_exposure_stops_within_100_ms_of_its_deadline_and_releases_the_cpu(world: tuple[gen.World, CorpGraph]) -> None:
    w, graph = world
    whole = _run_within(60, lambda: _exposures(graph, w))
    # A budget well inside the whole question, whatever this machine's speed: a quarter of its wall time.
    limit = min(BUDGET, whole[2] / 4)
    assert whole[0] is None and whole[1] > limit + 0.1  # its CPU alone would overrun the budget by more than 0.1 s
    error, cpu, wall = _run_within(limit, lambda: _exposures(graph, w))
    assert isinstance(error, TimedOut)
    assert cpu < limit + 0.1  # main: the whole computation's CPU, answered or not
    assert wall < limit + 0.5  # wall time may include waiting for the other core's load on a shared machine


def _exposures(graph: CorpGraph, w: gen.World) -> None:
    """The whole exposure of each of the 10 largest holders (one large holder's page takes milliseconds)."""
    for holder in w.largest_holders[:10]:
        graph.exposure(holder)


@pytest.mark.parametrize("question", ["exposure", "liability", "holdings", "owners", "neighborhood", "candidates"])
def test_every_analytic_stops_when_its_deadline_has_passed(world: tuple[gen.World, CorpGraph], question: str) -> None:
    w, graph = world
    entities = graph.store.list_entities(EntityType.COMPANY, None, 2_000) if question == "candidates" else []
    held = graph.holdings(w.largest_holder)[-1].company  # a company with owners (the holder among them)
    work: dict[str, Callable[[], Any]] = {
        "exposure": lambda: graph.exposure(w.largest_holder),
        "liability": lambda: graph.liability_chain(w.incidents[0]),
        "holdings": lambda: graph.holdings(w.largest_holder),
        "owners": lambda: graph.owners(held),
        "neighborhood": lambda: graph.neighborhood(w.largest_holder, 6),
        "candidates": lambda: find_candidates(entities),
    }
    assert _run_within(60, work[question])[0] is None  # with time to spare each completes
    error, _, _ = _run_within(-1, work[question])  # the deadline passed before the work began
    assert isinstance(error, TimedOut), error
