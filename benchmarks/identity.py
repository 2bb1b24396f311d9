"""What identity costs the projection: a generated world, then a tenth of its companies stated again by a second
source under other ids with the same LEI (every stake they hold restated; one in ten at another share).

    python benchmarks/identity.py --companies 100000
    python benchmarks/identity.py --companies 5000      # a quick look

Prints the plain projection build, the identity map, and the projection built through it. The second
source's records are written with store.write, past graph.write.ingest: before identity merges them, the twin
stakes sum above 100% of their companies and the native allocation check would (rightly) refuse them.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate  # noqa: E402
from corpgraph.graph.identity.clusters import build_identity  # noqa: E402
from corpgraph.graph.write.ingest import ingest  # noqa: E402
from corpgraph.graph.projection.build import build_projection  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402
from corpgraph.loaders.validate import load_file  # noqa: E402
from corpgraph.schema.kinds import RelationType  # noqa: E402
from tests.factory import batch  # noqa: E402

_GLEIF = {"publisher": "GLEIF", "title": "golden copy", "published_on": "2024-01-01"}


def twins(store: SqliteStore, count: int) -> list[dict[str, Any]]:
    """Records giving c0..c{count-1} an LEI, and a `lei:` twin with it restating every stake (1 in 10 at +1%)."""
    ids = [f"c{i}" for i in range(count)]
    mine = set(ids)
    out: list[dict[str, Any]] = []
    for i in range(count):
        lei = {"scheme": "LEI", "id": f"L{i:018d}"}
        out.append({"type": "Company", "id": f"c{i}", "name": f"Company {i}", "identifiers": [lei]})
        out.append({"type": "Company", "id": f"lei:c{i}", "name": f"COMPANY {i}", "identifiers": [lei]})
    for k, rel in enumerate(r for r in store.relations_touching(ids, [RelationType.OWNS]) if r.record.source in mine):
        rec: Any = rel.record
        share = rec.share if rec.share is None or k % 10 else min(1.0, rec.share * 1.01)
        out.append({"type": "OWNS", "source": "lei:" + rec.source, "target": rec.target, "share": share,
                    "valid_from": rec.valid_from and rec.valid_from.isoformat(),
                    "valid_to": rec.valid_to and rec.valid_to.isoformat(), "sources": [_GLEIF]})
    return out


def main() -> None:
    """Generate, load, restate, and print the three timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = generate(Path(tmp) / "world.jsonl", args.companies)
        store = SqliteStore(Path(tmp) / "world.db")
        ingest(store, load_file(world.path))
        empty = _timed(lambda: build_identity(store))
        print(f"identity map, nothing shared: {empty[1]:.2f} s", flush=True)
        store.write(batch(*twins(store, args.companies // 10)))
        plain, seconds = _timed(lambda: build_projection(store))
        print(f"projection without identity: {seconds:.2f} s ({plain.src.size} edges)", flush=True)
        identity, seconds = _timed(lambda: build_identity(store))
        print(f"identity map: {seconds:.2f} s ({len(identity.members)} merged entities)", flush=True)
        merged, seconds = _timed(lambda: build_projection(store, identity))
        print(f"projection with identity: {seconds:.2f} s ({merged.src.size} edges, "
              f"{len(merged.statements.groups)} facts stated twice, {len(merged.statements.disputed)} disputed)")
        store.close()


def _timed(fn: Any) -> tuple[Any, float]:
    """The function's result and its wall time in seconds."""
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


if __name__ == "__main__":
    main()
