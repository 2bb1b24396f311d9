"""Sanctions by ownership over the whole graph (issue 21 item 3): how long each regime's rule takes at scale.

    python benchmarks/sanctions.py --companies 20000             # a quick look
    nice python benchmarks/sanctions.py --companies 1000000      # the issue's scale (~5 min load, ~3 GB)

The world is generate.py's, plus designations: every 50th family (the Persons at the group apexes, so whole
pyramids hang below them) and every 1,000th company, under OFAC, the EU and the UK alike. It is loaded as
`corpgraph load` does, the projection built, the view at the query date warmed; then, per regime, the rule
over the whole graph (graph.analytics.sanctions.outcome: the fixed point at the point values, the minimums and
the maximums) cold, the first page of sanctionedByOwnership after it, and sanctionsStatus of ten blocked
entities with their contributors and paths (p50). Target: the whole graph in <= 5 s per regime at 1M companies.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate import generate  # noqa: E402
from graph.analytics import sanctions  # noqa: E402
from graph.analytics.results import SanctionsStatus  # noqa: E402
from graph.ingest import ingest_stream  # noqa: E402
from graph.service import CorpGraph  # noqa: E402
from graph.stores.sqlite import SqliteStore  # noqa: E402
from loaders.validate import iter_batches  # noqa: E402
from schema.regimes import RULED  # noqa: E402

TARGET_SECONDS = 5.0  # the whole graph, one regime, at 1M companies


def designate(world: Path, persons: int, companies: int) -> int:
    """Append the designations (every 50th family, every 1,000th company, each under every ruled regime)."""
    ids = [f"p{g}" for g in range(0, persons, 50)] + [f"c{i}" for i in range(0, companies, 1000)]
    with world.open("a", encoding="utf-8") as out:
        for id in ids:
            for regime in RULED:
                out.write(f'{{"type": "Sanction", "entity": "{id}", "regime": "{regime}", "program": "BENCH", '
                          '"valid_from": "2020-01-01"}\n')
    return len(ids) * len(RULED)


def main() -> None:
    """Generate, load, and time each regime's rule over the whole graph."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-sanctions-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    world = generate(args.workdir / "world.jsonl", args.companies, args.seed)
    listings = designate(world.path, world.counts["Person"], args.companies)
    started = time.perf_counter()
    store = SqliteStore(args.workdir / "corpgraph.db")
    _, batches = iter_batches(world.path, 10_000)
    ingest_stream(store, str(world.path), batches)
    loaded = time.perf_counter() - started
    graph = CorpGraph(store)
    started = time.perf_counter()
    view = graph.projection().view(world.as_of)
    built = time.perf_counter() - started
    print(f"{args.companies:,} companies, {world.records + listings:,} records ({listings:,} designations): "
          f"load {loaded:.1f} s, projection + view {built:.1f} s")
    print("| regime | whole graph (cold) | blocked, not listed | undetermined | first page (cached) "
          "| sanctionsStatus p50 | target |")
    print("|---|---|---|---|---|---|---|")
    for regime in RULED:
        started = time.perf_counter()
        found = sanctions.outcome(view, regime)
        whole = time.perf_counter() - started
        nodes = found.candidates()
        statuses = [found.status(int(n)) for n in nodes]
        undetermined = sum(s == SanctionsStatus.UNDETERMINED for s in statuses)
        started = time.perf_counter()
        graph.sanctioned_by_ownership(regime, world.as_of, first=100)
        page = time.perf_counter() - started
        times = []
        for node in nodes[:: max(1, nodes.size // 10)][:10].tolist():
            started = time.perf_counter()
            graph.sanctions_status(view.projection.ids[node], regime, world.as_of)
            times.append(time.perf_counter() - started)
        p50 = statistics.median(times) if times else float("nan")
        verdict = "met" if whole <= TARGET_SECONDS else "MISSED"
        print(f"| {regime} | {whole:.2f} s | {nodes.size - undetermined:,} | {undetermined:,} | {page * 1000:.0f} ms "
              f"| {p50 * 1000:.0f} ms | <= {TARGET_SECONDS:.0f} s at 1M: {verdict} |")
    store.close()


if __name__ == "__main__":
    main()
