"""The projection feed from Neo4j at register scale, without the transactional loads before it.

    python -m benchmarks.neo4j_feed --companies 200000

benchmarks/on_neo4j.py times the feed after loading its world through the store several times over (hours
at 200,000 companies on a loaded machine); this bulk-imports the world instead (benchmarks.neo4j_replicas's
imported_server) and prints the same feed table: `iter_edges` alone and `build_projection`, relations/s,
best of 5, with the client's and the server's CPU seconds (on_neo4j._print_feed). Target (issue 25): 200,000
relations/s end to end.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.generate import generate
from benchmarks.neo4j_replicas import imported_server
from benchmarks.on_neo4j import _print_feed
from corpgraph.graph.stores.neo4j import open_neo4j_store


def main() -> None:
    """Set up, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corpgraph-feed-") as folder:
        world = generate(Path(folder) / "world.jsonl", args.companies, seed=7)
        server = imported_server(world, Path(folder))
        try:
            store = open_neo4j_store(server.settings())
            print(f"world: {args.companies:,} companies, {world.records:,} records (bulk-imported)")
            _print_feed(store, server.process.pid)
            store.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
