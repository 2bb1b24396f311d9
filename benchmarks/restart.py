"""A restarted server: its first answer after a build from the store, and after reading the projection snapshot.

    python benchmarks/restart.py --db /tmp/corpgraph-bench/corpgraph.db     # a store loaded by benchmarks/run.py
    python benchmarks/restart.py --companies 20000                         # generate and load a world first

Each start runs in a fresh Python process (as a restart does): open the store, build the facade, answer the
`holdings` of the largest holder at the benchmark's date. Reported: seconds until that answer, from the store
(no snapshot) and from the snapshot, the snapshot's size and how long writing it took.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable without installing it
    sys.path.insert(0, str(ROOT))

_CHILD = """
import json, sys, time
started = time.perf_counter()
from datetime import date
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.projection.snapshot import Snapshots
from corpgraph.graph.stores.sqlite import SqliteStore
db, folder, holder, mode = sys.argv[1:5]
store = SqliteStore(db)
snapshots = Snapshots(folder, store.instance())
graph = CorpGraph(store, snapshots=snapshots if mode == "read" else None)
graph.projection()
ready = time.perf_counter() - started
graph.holdings(holder, date(2025, 6, 30), bounds=False)
answered = time.perf_counter() - started
saved = 0.0
if mode == "write":
    t = time.perf_counter(); snapshots.save(graph.projection()); saved = time.perf_counter() - t
print(json.dumps({"ready": ready, "answered": answered, "saved": saved}))
"""


def start(db: Path, folder: Path, holder: str, mode: str) -> dict[str, float]:
    """One fresh process: seconds until the projection is ready and until the first answer (mode: plain, write, read)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(db), str(folder), holder, mode], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def largest_holder(db: Path) -> str:
    """The entity with the most OWNS edges in the store."""
    import sqlite3
    row = sqlite3.connect(db).execute(
        "SELECT source FROM relations WHERE type = 'OWNS' GROUP BY source ORDER BY count(*) DESC LIMIT 1").fetchone()
    return str(row[0])


def main() -> None:
    """Measure a start from the store, a start that writes the snapshot, and a start from it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="an embedded store already loaded")
    parser.add_argument("--companies", type=int, default=20_000, help="world size when no --db is given")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="corpgraph-restart-"))
    db = args.db
    if db is None:
        from benchmarks import generate as gen
        from benchmarks.run import load_jsonl
        from corpgraph.graph.settings import get_settings
        from corpgraph.graph.stores.sqlite import SqliteStore
        world = gen.generate(work / "world.jsonl", args.companies, 7)
        db = work / "corpgraph.db"
        store = SqliteStore(db)
        load_jsonl(store, world.path, get_settings().batch_size)
        store.close()
    holder = largest_holder(db)
    folder = work / "snapshots"
    plain = start(db, folder, holder, "plain")  # builds from the store
    first = start(db, folder, holder, "write")  # builds, then writes the snapshot
    again = start(db, folder, holder, "read")  # reads it
    size = sum(p.stat().st_size for p in folder.glob("*.npz"))
    print(json.dumps({"from_store": plain, "writing": first, "from_snapshot": again, "snapshot_mb": size / 2**20},
                     indent=1))
    print(f"ready from the store {plain['ready']:.1f} s, from the snapshot {again['ready']:.2f} s "
          f"({plain['ready'] / again['ready']:.0f}x); first answer {plain['answered']:.1f} s vs {again['answered']:.2f} s; "
          f"snapshot {size / 2**20:.0f} MB written in {first['saved']:.1f} s")


if __name__ == "__main__":
    main()
