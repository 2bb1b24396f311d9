"""Liability chain and exposure through `corpgraph serve --store neo4j`, beside the embedded store, same world, same run.

    python -m benchmarks.neo4j_latency --companies 200000 --queries 50

Generates a world (benchmarks/generate.py), loads it into an embedded store (benchmarks.run.load_jsonl, the
product's path) and bulk-imports it into a fresh test Neo4j (benchmarks.neo4j_replicas.imported_server), then
serves each over HTTP on loopback and sends the same GraphQL requests to both, one at a time: `liabilityChain`
of `--queries` incidents and `exposure` of as many of the largest holders. The first answer of each server,
from the process's start (its projection build), is timed apart ("first s") and not counted. Prints p50/p99
(nearest rank) per query and store.
The analytics run on the same in-memory projection whichever the store; what differs is what the answer
reads from the store (entities, documents, the revision on every request).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.generate import World, generate
from benchmarks.neo4j_replicas import imported_server, p99
from benchmarks.run import load_jsonl
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.live_server import served
from tests.test_neo4j_replicas import Replica

LIABILITY = "query($id: ID!) { liabilityChain(incidentId: $id) { parties { entity { id } role weight } } }"
EXPOSURE = "query($id: ID!) { exposure(entityId: $id) { items { channel weight } } }"
Ask = Callable[[str, dict[str, Any]], Any]


def main() -> None:
    """Set up both stores, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=23_000)
    parser.add_argument("--queries", type=int, default=50, help="incidents and holders asked about, each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corpgraph-latency-") as folder:
        work = Path(folder)
        world = generate(work / "world.jsonl", args.companies, seed=7)
        store = SqliteStore(work / "embedded.db")
        records, seconds = load_jsonl(store, world.path, 50_000)
        store.close()
        print(f"world: {args.companies:,} companies, {records:,} records; embedded load {seconds:.0f} s")
        rows: dict[str, dict[str, list[float]]] = {}
        started = time.monotonic()
        with served(work / "embedded.db", ready_seconds=600, time_budget="300") as url:
            client = httpx.Client(trust_env=False, timeout=600)
            rows["embedded"] = _measure(lambda q, v: _post(client, f"{url}/graphql", q, v), world, args.queries,
                                        started)
        server = imported_server(world, work)
        replica = Replica(work / "snap")
        try:
            started = time.monotonic()
            replica.start(f'{{ liabilityChain(incidentId: "{world.incidents[0]}") {{ parties {{ weight }} }} }}')
            rows["neo4j"] = _measure(lambda q, v: replica.ask(q, v), world, args.queries, started)
        finally:
            replica.kill()
            server.stop()
        print(f"\n{'query':<16} | {'store':<8} | {'first s':>7} | {'p50 ms':>7} | {'p99 ms':>7} | n")
        for name in ("liabilityChain", "exposure"):
            for kind, measured in rows.items():
                times = measured[name]
                print(f"{name:<16} | {kind:<8} | {measured['first'][0]:>7.1f} | {statistics.median(times) * 1e3:>7.0f} | "
                      f"{p99(times) * 1e3:>7.0f} | {len(times)}")


def _measure(ask: Ask, world: World, queries: int, started: float) -> dict[str, list[float]]:
    """Seconds from the server's start (`started`) to its first liability chain (the projection is built),
    then per request: each liability chain and exposure."""
    ask(LIABILITY, {"id": world.incidents[0]})
    out: dict[str, list[float]] = {"first": [time.monotonic() - started], "liabilityChain": [], "exposure": []}
    for name, query, ids in (("liabilityChain", LIABILITY, world.incidents[:queries]),
                             ("exposure", EXPOSURE, world.largest_holders[:queries])):
        for id in ids:
            started = time.monotonic()
            ask(query, {"id": id})
            out[name].append(time.monotonic() - started)
    return out


def _post(client: httpx.Client, url: str, query: str, variables: dict[str, Any]) -> Any:
    """The data of one GraphQL request (an error stops the benchmark)."""
    answer = client.post(url, json={"query": query, "variables": variables}).json()
    assert "errors" not in answer, answer
    return answer["data"]


if __name__ == "__main__":
    main()
