"""A write as the benchmarks make one: 100 records, and how soon queries see it (live.py, run.py's row).

"write visible after": ms from the start of a 100-record `CorpGraph.write` until it returns, which it does once
queries see the write (graph.projection.delta applies it to the live projection).
"""
from __future__ import annotations

import time

from corpgraph.graph.service import CorpGraph
from corpgraph.schema.batch import Batch
from tests.factory import batch, company, owns


def mutation(tag: str, holders: list[str]) -> Batch:
    """100 records: 50 new companies, each given a 10% stake by an existing holder."""
    news = [f"live-{tag}-{k}" for k in range(50)]
    return batch(*(company(n) for n in news), *(owns(h, n, 0.1) for h, n in zip(holders, news)))


def write_visible(graph: CorpGraph, holders: list[str], count: int, tag: str = "w") -> tuple[list[float], set[str]]:
    """Seconds of `count` mutations each until visible to queries, and how the projection applied them."""
    seconds, how = [], set()
    for k in range(count):
        started = time.perf_counter()
        graph.write(mutation(f"{tag}{k}", holders))
        seconds.append(time.perf_counter() - started)
        state = graph.live.current()
        assert state is not None  # the write above has been answered from a built state
        how.add(str(state.how))
    return seconds, how
