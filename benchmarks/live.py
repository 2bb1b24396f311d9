"""Writes while serving: how soon a 100-record mutation is visible, and query latency while writes come in.

    python benchmarks/live.py --companies 50000          # ~1 min on 2 cores; never run 1M on a shared machine

Rows (in process, `holdings` of sample holders):
- "write visible after" (benchmarks.writes; run.py carries it too);
- "p99 during writes": query p99 while another process writes a 100-record mutation every 0.25 s into the same
  store (picked up through the store's revision and change log), against the idle p99; once as the server
  runs by default (a query waits up to `fresh_wait` = 0.2 s for the state of the newest revision) and once
  answering from the state at hand (fresh_wait=0);
- "p99 during a full rebuild": the fallback (here forced by an identity decision), built in a background thread
  of the process; and built apart, in a child process whose snapshot is then mapped (graph.projection.apart,
  as `corpgraph serve` builds it).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import generate as gen  # noqa: E402
from benchmarks.run import load_jsonl, pick_samples  # noqa: E402
from corpgraph.graph.write.ingest import ingest  # noqa: E402
from corpgraph.graph.service import CorpGraph  # noqa: E402
from corpgraph.graph.projection.snapshot import Snapshots  # noqa: E402
from corpgraph.graph.settings import get_settings  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402
from benchmarks.writes import mutation, write_visible  # noqa: E402

_WRITES, _INTERVAL = 12, 0.25  # the other process's writes while queries run, and the pause between them


def latencies(graph: CorpGraph, roots: list[str], stop: threading.Event | None, count: int) -> list[float]:
    """Seconds per holdings query over the roots, `count` calls (or until `stop` is set, if given)."""
    out: list[float] = []
    k = 0
    while (stop is None and k < count) or (stop is not None and not stop.is_set()):
        started = time.perf_counter()
        graph.holdings(roots[k % len(roots)])
        out.append(time.perf_counter() - started)
        k += 1
    return out


def writer(db: str, tag: str, holders: str) -> None:
    """Another process: write _WRITES mutations into the store at `db`, one every _INTERVAL seconds."""
    store = SqliteStore(db)
    print("ready", flush=True)
    sys.stdin.readline()  # start when told, so that the queries are already running
    for k in range(_WRITES):
        ingest(store, mutation(f"{tag}{k}", holders.split(",")))
        time.sleep(_INTERVAL)
    store.close()


def during_writes(graph: CorpGraph, db: Path, roots: list[str], tag: str) -> tuple[list[float], int]:
    """Query latencies while another process writes; and how many states the graph built meanwhile."""
    code = f"from benchmarks.live import writer; writer({str(db)!r}, {tag!r}, {','.join(roots[:50])!r})"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    child.stdout.readline()
    builds = graph.live.builds
    stop = threading.Event()
    during: list[float] = []
    runner = threading.Thread(target=lambda: during.extend(latencies(graph, roots, stop, 0)))
    runner.start()
    child.stdin.write("go\n")
    child.stdin.flush()
    child.wait()
    graph.live.fresh()
    stop.set()
    runner.join()
    return during, graph.live.builds - builds


def during_full_rebuild(graph: CorpGraph, store: SqliteStore, roots: list[str], pair: int = 0
                        ) -> tuple[list[float], float, str]:
    """Query latencies while the fallback full rebuild runs (an identity decision between roots[pair] and the next
    forces it), its seconds and why."""
    store.add_judgement(roots[pair], roots[pair + 1], "different", "benchmark")
    graph.projection()  # kicks the build off
    stop = threading.Event()
    during: list[float] = []
    runner = threading.Thread(target=lambda: during.extend(latencies(graph, roots, stop, 0)))
    runner.start()
    started = time.perf_counter()
    state = graph.live.fresh()
    seconds = time.perf_counter() - started
    stop.set()
    runner.join()
    return during, seconds, str(state.how)


def p99(values: list[float]) -> float | None:
    """The 99th percentile in ms (None without values)."""
    return round(1000 * float(np.percentile(values, 99)), 2) if values else None


def main(argv: list[str] | None = None) -> int:
    """Generate and load a world, then measure the write-visibility and during-writes rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=50_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-bench-live"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    world = gen.generate(args.workdir / "world.jsonl", args.companies, 7)
    db = args.workdir / "corpgraph.db"
    store = SqliteStore(db)
    try:
        load_jsonl(store, world.path, get_settings().batch_size)
        _, roots = pick_samples(world, 200, 7)
        graph = CorpGraph(store)
        started = time.perf_counter()
        graph.projection()
        build = time.perf_counter() - started
        latencies(graph, roots, None, 200)  # warm the as-of view and caches
        idle = latencies(graph, roots, None, 1000)
        visible, how = write_visible(graph, roots[:50], 5)
        waiting, builds = during_writes(graph, db, roots, "bg")
        graph.live.fresh_wait = 0.0
        at_hand, builds_at_hand = during_writes(graph, db, roots, "bh")
        graph.live.fresh_wait = 0.2
        rebuild_during, rebuild, why = during_full_rebuild(graph, store, roots)
        # the same fallback built apart, as `corpgraph serve` builds it (graph.projection.apart)
        apart = CorpGraph(store, snapshots=Snapshots(args.workdir / "snapshots", "live"), apart=True)
        apart.projection()
        latencies(apart, roots, None, 200)
        apart_during, apart_rebuild, _ = during_full_rebuild(apart, store, roots, pair=2)
        figures = {
            "companies": args.companies, "projection_build_s": round(build, 2),
            "write_visible_ms_median": round(1000 * float(np.median(visible)), 1),
            "write_visible_ms_max": round(1000 * max(visible), 1), "write_applied_as": sorted(how),
            "idle_p99_ms": p99(idle),
            "during_writes_p99_ms": p99(waiting), "queries_during_writes": len(waiting), "states_built": builds,
            "during_writes_no_wait_p99_ms": p99(at_hand), "queries_during_writes_no_wait": len(at_hand),
            "states_built_no_wait": builds_at_hand,
            "during_full_rebuild_p99_ms": p99(rebuild_during), "queries_during_full_rebuild": len(rebuild_during),
            "full_rebuild_s": round(rebuild, 2), "full_rebuild_because": why,
            "during_full_rebuild_apart_p99_ms": p99(apart_during), "queries_during_full_rebuild_apart": len(apart_during),
            "full_rebuild_apart_s": round(apart_rebuild, 2),
        }
    finally:
        store.close()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
