"""Writes while serving: how soon a 100-record mutation is visible, and query latency while a rebuild runs.

    python benchmarks/live.py --companies 50000          # ~1 min on 2 cores; never run 1M on a shared machine

Rows: "write visible after" (ms from the start of a 100-record `CorpGraph.write` until queries see it; the
write returns only then) and the owners-query p99 while the projection is rebuilt in the background against
the idle p99 (graph.live: queries answer from the previous projection during the rebuild).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import generate as gen  # noqa: E402
from benchmarks.run import load_jsonl, pick_samples  # noqa: E402
from graph.ingest import ingest  # noqa: E402
from graph.service import CorpGraph  # noqa: E402
from graph.settings import get_settings  # noqa: E402
from graph.stores.sqlite import SqliteStore  # noqa: E402
from tests.factory import batch, company, owns  # noqa: E402


def mutation(tag: str, holders: list[str]) -> object:
    """100 records: 50 new companies, each given a 10% stake by an existing holder."""
    news = [f"live-{tag}-{k}" for k in range(50)]
    return batch(*(company(n) for n in news), *(owns(h, n, 0.1) for h, n in zip(holders, news)))


def latencies(graph: CorpGraph, roots: list[str], stop: threading.Event | None, count: int) -> list[float]:
    """Seconds per owners query over the roots, `count` calls (or until `stop` is set, if given)."""
    out: list[float] = []
    k = 0
    while (stop is None and k < count) or (stop is not None and not stop.is_set()):
        started = time.perf_counter()
        graph.holdings(roots[k % len(roots)])
        out.append(time.perf_counter() - started)
        k += 1
    return out


def main(argv: list[str] | None = None) -> int:
    """Generate and load a world, then measure the write-visibility and during-rebuild rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=50_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-bench-live"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    world = gen.generate(args.workdir / "world.jsonl", args.companies, 7)
    store = SqliteStore(args.workdir / "corpgraph.db")
    try:
        load_jsonl(store, world.path, get_settings().batch_size)
        _, roots = pick_samples(world, 200, 7)
        graph = CorpGraph(store)
        started = time.perf_counter()
        graph.projection()
        build = time.perf_counter() - started
        latencies(graph, roots, None, 200)  # warm the as-of view and caches
        idle = latencies(graph, roots, None, 1000)
        visible = []
        for k in range(5):
            started = time.perf_counter()
            graph.write(mutation(f"w{k}", roots[:50]))  # type: ignore[arg-type]
            visible.append(time.perf_counter() - started)
        # a write by "another process": the revision moves, the next query starts a background rebuild
        stop = threading.Event()
        ingest(store, mutation("bg", roots[:50]))  # type: ignore[arg-type]
        graph.projection()  # kicks the build off
        during: list[float] = []
        runner = threading.Thread(target=lambda: during.extend(latencies(graph, roots, stop, 0)))
        runner.start()
        rebuild_started = time.perf_counter()
        graph.live.fresh()
        rebuild = time.perf_counter() - rebuild_started
        stop.set()
        runner.join()
        figures = {
            "companies": args.companies, "projection_build_s": round(build, 2),
            "write_visible_ms_median": round(1000 * float(np.median(visible)), 1),
            "write_visible_ms_max": round(1000 * max(visible), 1),
            "idle_p99_ms": round(1000 * float(np.percentile(idle, 99)), 2),
            "during_rebuild_p99_ms": round(1000 * float(np.percentile(during, 99)), 2) if during else None,
            "queries_during_rebuild": len(during), "rebuild_s": round(rebuild, 2),
        }
    finally:
        store.close()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
