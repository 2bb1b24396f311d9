"""Sanctions by ownership over the whole graph (issue 21 item 3): how long each regime's rule takes at scale.

    python benchmarks/sanctions.py --companies 20000                   # a quick look
    nice python benchmarks/sanctions.py --companies 1000000            # the issue's scale (~3 GB)
    python benchmarks/sanctions.py --companies 100000 --store          # also through a store: sanctionsStatus p50

The world is generate.py's, plus designations: every 50th family (the Persons at the group apexes, so whole
pyramids hang below them) and every 1,000th company, under OFAC, the EU and the UK alike. The projection is
built by `build_projection` from the file's relations (validated records, as a store would feed them: a
1M-company load into SQLite takes minutes that say nothing about the rule); with --store the world is loaded
into an embedded store as `corpgraph load` does and the projection built from it. Then, per regime: the rule
over the whole graph (graph.analytics.sanctions.outcome: the fixed point at the point values, the minimums and
the maximums) cold, the first page of sanctionedByOwnership after it, and with --store sanctionsStatus of ten
blocked entities with their contributors and paths (p50). Target: the whole graph in <= 5 s per regime at 1M
companies.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable without installing it
    sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate  # noqa: E402
from corpgraph.graph.analytics import sanctions  # noqa: E402
from corpgraph.graph.analytics.results import SanctionsStatus  # noqa: E402
from corpgraph.graph.projection.build import build_projection  # noqa: E402
from corpgraph.graph.service import CorpGraph  # noqa: E402
from corpgraph.graph.stores.base import EdgeRow, edge_row  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402
from corpgraph.graph.write.ingest import ingest_stream  # noqa: E402
from corpgraph.loaders.validate import iter_batches  # noqa: E402
from corpgraph.schema.declaration import ENTITIES, parse_record, relation_id  # noqa: E402
from corpgraph.schema.kinds import RelationType  # noqa: E402
from corpgraph.schema.regimes import RULED  # noqa: E402

TARGET_SECONDS = 5.0  # the whole graph, one regime, at 1M companies
_PAGE = 50_000
_ENTITY_TYPES = {kind.value for kind in ENTITIES}


class FileFeed:
    """The projection's feed (`revision`, `iter_edges`) read from a native JSON Lines file's relations."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def revision(self) -> int:
        """One revision: the file."""
        return 1

    def iter_edges(self, types: Sequence[RelationType], page_size: int = _PAGE) -> Iterator[list[EdgeRow]]:
        """Every relation of the given types as validated records' edge rows, in pages."""
        wanted = {t.value for t in types}
        page: list[EdgeRow] = []
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                data = json.loads(line)
                if data["type"] in _ENTITY_TYPES or data["type"] not in wanted:
                    continue
                record = parse_record(data)
                page.append(EdgeRow(**edge_row(relation_id(record), record)))  # type: ignore[arg-type]
                if len(page) >= page_size:
                    yield page
                    page = []
        yield page


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
    """Generate, build the projection, and time each regime's rule over the whole graph."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", action="store_true", help="load an embedded store (and time sanctionsStatus)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-sanctions-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    world = generate(args.workdir / "world.jsonl", args.companies, args.seed)
    listings = designate(world.path, world.counts["Person"], args.companies)
    started = time.perf_counter()
    graph, store = None, None
    if args.store:
        store = SqliteStore(args.workdir / "corpgraph.db")
        _, batches = iter_batches(world.path, 10_000)
        ingest_stream(store, str(world.path), batches)
        graph = CorpGraph(store)
        projection = graph.projection()
    else:
        projection = build_projection(FileFeed(world.path))  # type: ignore[arg-type]
    view = projection.view(world.as_of)
    built = time.perf_counter() - started
    print(f"{args.companies:,} companies, {world.records + listings:,} records ({listings:,} designations): "
          f"{'load and ' if args.store else ''}projection + view {built:.1f} s")
    print("| regime | whole graph (cold) | blocked, not listed | undetermined | first page (cached) "
          "| sanctionsStatus p50 | target |")
    print("|---|---|---|---|---|---|---|")
    for regime in RULED:
        started = time.perf_counter()
        found = sanctions.outcome(view, regime)
        whole = time.perf_counter() - started
        nodes = found.candidates()
        undetermined = sum(found.status(int(n)) == SanctionsStatus.UNDETERMINED for n in nodes.tolist())
        started = time.perf_counter()
        sanctions.sanctioned(view, regime, first=100)
        page = time.perf_counter() - started
        p50 = "-"
        if graph is not None:
            times = []
            for node in nodes[:: max(1, nodes.size // 10)][:10].tolist():
                started = time.perf_counter()
                graph.sanctions_status(view.projection.ids[node], regime, world.as_of)
                times.append(time.perf_counter() - started)
            p50 = f"{statistics.median(times) * 1000:.0f} ms" if times else "-"
        verdict = "met" if whole <= TARGET_SECONDS else "MISSED"
        print(f"| {regime} | {whole:.2f} s | {nodes.size - undetermined:,} | {undetermined:,} | {page * 1000:.0f} ms "
              f"| {p50} | <= {TARGET_SECONDS:.0f} s at 1M: {verdict} |")
    if store is not None:
        store.close()


if __name__ == "__main__":
    main()
