"""The states writes replace, in one process configured as `corpgraph serve` configures it: memory after N writes.

    nice python benchmarks/replaced_states.py --db /tmp/copy/corpgraph.db --writes 10 [--traffic]

The process sets its allocator and collector as the server does (graph.gc_policy: large blocks returned,
FrozenProjections) and opens the facade as api.app does for one process (snapshots, full builds apart). It
asks today's owners of a holder (that view is then kept, and patched by each write's delta), writes `--writes`
batches of 50 companies and 50 stakes of sampled holders, with `--traffic` 20 owners queries after each, and
prints its USS and RSS before and after the writes, and how many of the replaced projections are still alive
(weak references: nothing but the collector or a holder keeps them). Run it on a copy of a prepared store
(benchmarks/workers.py's workdir): the writes go into it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import weakref
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpgraph.graph.gc_policy import FrozenProjections, return_large_blocks  # noqa: E402
from corpgraph.graph.projection.snapshot import snapshots_for  # noqa: E402
from corpgraph.graph.service import CorpGraph  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402
from corpgraph.schema.declaration import parsed_batch  # noqa: E402

MB = 1024 * 1024


def memory() -> dict[str, float]:
    """This process's USS and RSS (MB) from /proc/self/smaps_rollup."""
    fields = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) * 1024
    return {"uss_mb": round((fields["Private_Clean"] + fields["Private_Dirty"]) / MB, 1),
            "rss_mb": round(fields["Rss"] / MB, 1)}


def holders(world: Path, count: int = 50) -> list[str]:
    """The first `count` distinct owners of the world file's OWNS records."""
    found: list[str] = []
    with world.open() as lines:
        for line in lines:
            if '"OWNS"' in line:
                source = json.loads(line)["source"]
                if source not in found:
                    found.append(source)
                    if len(found) == count:
                        break
    return found


def main(argv: list[str] | None = None) -> int:
    """Open, warm, write, measure; print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--writes", type=int, default=10)
    parser.add_argument("--traffic", action="store_true", help="20 owners queries after each write")
    args = parser.parse_args(argv)
    return_large_blocks()
    store = SqliteStore(args.db)
    graph = CorpGraph(store, FrozenProjections(), snapshots=snapshots_for(store), apart=True)
    owners = holders(args.db.parent / "world.jsonl")
    graph.owners(owners[0])
    before = memory()
    replaced, cpu = [], time.process_time()
    run = time.time_ns()
    for k in range(args.writes):
        replaced.append(weakref.ref(graph.live.fresh().projection))
        news = [f"states-{run}-{k}-{i}" for i in range(50)]
        graph.write(parsed_batch("bench", *([{"type": "Company", "id": n, "name": n} for n in news]
                                            + [{"type": "OWNS", "source": h, "target": n, "share": 0.1}
                                               for h, n in zip(owners, news)])))
        assert graph.owners(news[-1])
        for holder in owners[:20] if args.traffic else ():
            graph.owners(holder)
    cpu = time.process_time() - cpu
    for thread in threading.enumerate():
        if thread.name == "corpgraph-projection-builder":
            thread.join()
    time.sleep(0.5)
    print(json.dumps({"writes": args.writes, "traffic": args.traffic, "before": before, "after": memory(),
                      "replaced_alive": sum(ref() is not None for ref in replaced),
                      "cpu_s_writes": round(cpu, 2), "load": os.getloadavg()}))
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
