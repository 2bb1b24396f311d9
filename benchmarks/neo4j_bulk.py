"""Bulk import (`corpgraph db import`) of a generated world into an empty Neo4j, timed by phase.

    python -m benchmarks.neo4j_bulk --companies 23000

Generates a world (benchmarks/generate.py), then times what `corpgraph db import` does: reading, validating
and checking the file (`corpgraph load`'s checks over a scratch file of ids, types and analytic columns, in
batches of CORPGRAPH_BATCH_SIZE) while writing the CSV files batch by batch, and Neo4j's import tool
(tools/neo4j-server/neo4j-admin, a fresh home); then starts a server on the imported database and times
`db init` (constraints and indexes built over it). Prints records/s end to end (reading to imported, without
the server start and db init) and per phase, and this process's peak RSS while importing (Linux's VmHWM,
reset once the world is generated: the import's memory, flat while the files are read, then the checks' arrays at
the end, about 90 bytes a record at their peak; it includes what generating the world left). The target
(issue 25) is 200,000 records/s end to end for the 1M-company world.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.generate import generate
from corpgraph.graph.gc_policy import paused
from corpgraph.graph.stores.neo4j import open_neo4j_store
from corpgraph.graph.settings import get_settings
from corpgraph.graph.stores.neo4j_bulk import import_files, prepare
from corpgraph.loaders.validate import map_batches
from tests.neo4j_server import LAUNCHER, start_neo4j_server


def main() -> None:
    """Generate, import, report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=23_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corpgraph-bulk-bench-") as folder:
        work = Path(folder)
        world = generate(work / "world.jsonl", args.companies, seed=args.seed)
        generated = _peak_mb()
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM: the import's own peak, not the generator's
        phases: dict[str, float] = {}
        started = time.perf_counter()
        with paused():  # as `corpgraph db import` does: the process decides its collector (graph.gc_policy)
            files = import_files(map_batches(world.path, get_settings().batch_size, prepare)[1], work / "csv")
        phases["read, check, CSV"] = time.perf_counter() - started
        cpu = os.times()  # the workers (loaders.workers) are joined: their CPU is the children's so far
        worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest of them (KiB)
        home = work / "home"
        home.mkdir()
        mark = time.perf_counter()
        done = subprocess.run(files.command(str(LAUNCHER / "neo4j-admin"), "neo4j"), capture_output=True, text=True,
                              env={**os.environ, "NEO4J_HOME": str(home)})
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        phases["neo4j-admin import"] = time.perf_counter() - mark
        total = time.perf_counter() - started
        size = sum(path.stat().st_size for path in (work / "csv").iterdir()) / 1e6
        print(f"world: {args.companies:,} companies, {world.records:,} records; CSV {size:.0f} MB")
        for name, seconds in phases.items():
            print(f"{name:>20}: {seconds:7.1f} s  {world.records / seconds:>10,.0f} records/s")
        print(f"{'end to end':>20}: {total:7.1f} s  {world.records / total:>10,.0f} records/s (target 200,000)")
        print(f"{'CPU':>20}: {cpu.user + cpu.system:7.1f} s this process, {cpu.children_user + cpu.children_system:.1f} s "
              f"its workers, reading to CSV (on a loaded machine the wall clock says more of the load than of the work)")
        print(f"{'peak RSS':>20}: {_peak_mb():7.0f} MB while importing (this process; neo4j-admin is a child; "
              f"generating the world before it peaked at {generated:.0f} MB); the largest worker {worker_mb:.0f} MB "
              f"(forked from this process: the pages they share count in both)")
        server = start_neo4j_server(home, {"server.memory.pagecache.size": "256m"}, heap="1g", jvm_options=())
        try:
            mark = time.perf_counter()
            server.init_schema()
            print(f"{'db init':>20}: {time.perf_counter() - mark:7.1f} s (constraints and indexes over the import)")
            store = open_neo4j_store(server.settings())
            assert store.counts() == world.counts, (store.counts(), world.counts)
            store.close()
        finally:
            server.stop()


def _peak_mb() -> float:
    """This process's peak resident memory since it started or since the last reset, MB (VmHWM, in kB)."""
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


if __name__ == "__main__":
    main()
