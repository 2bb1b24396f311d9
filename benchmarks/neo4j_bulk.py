"""Bulk import (`corpgraph db import`) of a generated world into an empty Neo4j, timed by phase.

    python -m benchmarks.neo4j_bulk --companies 23000

Generates a world (benchmarks/generate.py), then times what `corpgraph db import` does: reading and
validating the file, the checks (graph.ingest.batch_problems against an empty database), writing the CSV
files, and Neo4j's import tool (tools/neo4j-server/neo4j-admin, a fresh home); then starts a server on the
imported database and times `db init` (constraints and indexes built over it). Prints records/s end to end
(reading to imported, without the server start and db init) and per phase. The target (issue 25) is
200,000 records/s end to end for the 1M-company world.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.generate import generate
from corpgraph.graph.stores.neo4j import open_neo4j_store
from corpgraph.graph.stores.neo4j_bulk import import_problems, write_import_files
from corpgraph.loaders.validate import load_file
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
        phases: dict[str, float] = {}
        started = time.perf_counter()
        batch = load_file(world.path, strict=False)
        phases["read and validate"] = time.perf_counter() - started
        mark = time.perf_counter()
        _, problems = import_problems(batch)
        assert not problems, problems[:5]
        phases["checks"] = time.perf_counter() - mark
        mark = time.perf_counter()
        files = write_import_files(batch, work / "csv")
        phases["CSV files"] = time.perf_counter() - mark
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


if __name__ == "__main__":
    main()
