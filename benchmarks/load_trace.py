"""Trace one `corpgraph load` of a file: memory and time per batch, to see what grows and where the time goes.

    python benchmarks/load_trace.py FILE [--format bods] [--db /tmp/trace.db] [--every 10]

Loads FILE into a fresh embedded store the way `corpgraph load` does (iter_batches + ingest_stream, batches of
CORPGRAPH_BATCH_SIZE, the collector paused) and prints, every `--every` batches: records so far, this
process's RSS (VmRSS), SQLite's own heap (sqlite3_memory_used: page caches, TEMP tables' pages, statements)
and the rest (Python). At the end: peak RSS (VmHWM), records/s, and the CPU split between reading and
validating (time spent getting the next batch) and writing (the rest: checks, rows, SQLite, COMMIT).
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.importers import peak_rss_mb, status_mb  # noqa: E402 (after the path insert, as a script too)


def _sqlite_memory() -> Callable[[], int | None]:
    """sqlite3_memory_used() of the library the sqlite3 module uses (the system's libsqlite3), if reachable."""
    name = ctypes.util.find_library("sqlite3")
    try:
        used = ctypes.CDLL(name or "libsqlite3.so.0").sqlite3_memory_used
    except (OSError, AttributeError):
        return lambda: None
    used.restype = ctypes.c_int64
    return lambda: int(used())


def trace(path: Path, format: str | None, db: Path, every: int) -> dict[str, Any]:
    """Load the file, printing a line every `every` batches; the totals."""
    from corpgraph.graph.gc_policy import paused
    from corpgraph.graph.write.ingest import ingest_stream
    from corpgraph.graph.settings import get_settings
    from corpgraph.graph.stores.sqlite import SqliteStore
    from corpgraph.loaders.validate import iter_batches

    for old in db.parent.glob(db.name + "*"):
        old.unlink()
    store, sqlite_used = SqliteStore(db), _sqlite_memory()
    seen = {"records": 0, "batches": 0, "read_cpu": 0.0}
    started, cpu = time.perf_counter(), time.process_time()

    def timed(batches: Iterator[Any]) -> Iterator[Any]:
        while True:
            before = time.process_time()
            batch = next(batches, None)
            seen["read_cpu"] += time.process_time() - before
            if batch is None:
                return
            yield batch

    def shown(batch: Any) -> None:
        seen["records"] += len(batch)
        seen["batches"] += 1
        if seen["batches"] % every == 0:
            rss, heap = status_mb("VmRSS"), sqlite_used()
            sqlite_mb = None if heap is None else heap / 2**20
            rest = f"  other {rss - sqlite_mb:.0f} MB" if rss is not None and sqlite_mb is not None else ""
            print(f"{time.perf_counter() - started:7.1f} s {seen['records']:>10,} records  RSS {rss or 0:.0f} MB  "
                  f"SQLite {sqlite_mb or 0:.0f} MB{rest}", flush=True)

    with paused():
        _, batches = iter_batches(path, get_settings().batch_size, format=format)
        ingest_stream(store, str(path), timed(batches), on_batch=shown)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    return {"records": seen["records"], "seconds": round(seconds, 1),
            "records_per_s": round(seen["records"] / seconds), "peak_rss_mb": round(peak_rss_mb()),
            "cpu_read_validate_s": round(seen["read_cpu"], 1), "cpu_write_s": round(cpu - seen["read_cpu"], 1)}


def main(argv: list[str] | None = None) -> int:
    """Command line: trace one load and print the totals as JSON."""
    parser = argparse.ArgumentParser(description="trace memory and time of one corpgraph load")
    parser.add_argument("file", type=Path)
    parser.add_argument("--format", default=None)
    parser.add_argument("--db", type=Path, default=Path("/tmp/corpgraph-load-trace.db"))
    parser.add_argument("--every", type=int, default=10, help="print a line every N batches")
    args = parser.parse_args(argv)
    print(json.dumps(trace(args.file, args.format, args.db, args.every)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
