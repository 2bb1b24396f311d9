"""A full projection build in a Python process of its own, so that it never holds the serving process's GIL.

A full build (70 s at 1M companies) is mostly Python reading the store: in a thread of the serving process
it holds the GIL for most of that time and starves the query threads (query p99 1.46 s during one at 1M).
`build_apart` runs it in a child interpreter instead, which opens its own connection to the store, builds
identity and projection, and saves the snapshot with its identity (graph.projection.snapshot); the caller
then maps that file (Snapshots.mapped) and shares its pages. The child is a fresh interpreter
(`python -m corpgraph.graph.projection.apart`), not a fork: the serving process has threads and open
connections a fork would copy in whatever state they are.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from corpgraph.graph.identity.clusters import build_identity
from corpgraph.graph.projection.build import build_projection
from corpgraph.graph.projection.snapshot import Snapshots
from corpgraph.graph.settings import get_settings
from corpgraph.graph.stores.base import Location
from corpgraph.graph.stores.factory import open_store
from corpgraph.schema.errors import StoreError

_ROUNDS = 3  # builds the child tries when a write lands between reading identity and the projection


def build_apart(location: Location, snapshots: Snapshots) -> int:
    """Build the store's projection in a child process and save it in `snapshots`; the revision it was built at.

    Raises StoreError with the child's last words when it fails (its log goes to this process's stderr).
    """
    child = subprocess.run([sys.executable, "-m", __name__, location.kind, location.where, str(snapshots.folder),
                            snapshots.instance], stdout=subprocess.PIPE, text=True, check=False)
    words = child.stdout.split()
    if child.returncode != 0 or not words or not words[-1].isdigit():
        raise StoreError(f"the projection build in a child process failed (status {child.returncode}); "
                         "the server log has its error")
    return int(words[-1])


def main(argv: list[str]) -> None:
    """The child: KIND WHERE FOLDER INSTANCE; prints the revision it saved."""
    kind, where, folder, instance = argv
    settings = get_settings()
    if kind == "embedded":
        settings = settings.model_copy(update={"db": Path(where)})
    store = open_store(kind, settings)
    try:
        for _ in range(_ROUNDS):
            identity = build_identity(store)  # reads the revision first, as graph.service's builds do
            projection = build_projection(store, identity)
            if projection.revision == identity.revision:  # else a write came between: its identity may differ
                Snapshots(Path(folder), instance).save(projection, identity)
                print(projection.revision, flush=True)
                return
    finally:
        store.close()
    raise SystemExit(f"writes kept coming during {_ROUNDS} builds: no snapshot saved")


if __name__ == "__main__":
    main(sys.argv[1:])
