"""Projection snapshots: the projection's arrays on disk, so a restarted process starts without re-reading the graph.

A snapshot is one uncompressed `.npz` file (a zip of `.npy` arrays, each with its CRC-32) named for the store
and the revision it was built from, in a folder next to the SQLite file (`<db>.projection/`) or in
`CORPGRAPH_SNAPSHOT_DIR`. It is written to a temporary file and renamed into place, so a reader sees a whole
snapshot or none. A snapshot is used only when its key (the store's instance and revision) and the format
version match, every array reads back with its CRC, and the arrays pass graph.projection.snapshot_check (structure,
index ranges, shares in [0, 1], a digest of every array); anything else (another revision, another store, a
truncated or altered file, an older format) is ignored, a broken file is deleted, and the projection is built
from the store as usual (and saved again).

What it holds: the per-edge columns, the NodeIds groups, what relation ids keep beside the columns, and the
statements merged by identity. The adjacency and the as-of views are rebuilt from the columns when loaded
(vectorised, a small part of a build from the store).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import zipfile
from dataclasses import replace
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from corpgraph.graph.identity.merge import Statements
from corpgraph.graph.projection.nodeids import NodeIds
from corpgraph.graph.projection.packed import PackedStrings
from corpgraph.graph.projection.build import DamagedRelation, Edges, Projection, assemble
from corpgraph.graph.projection.relation_ids import EdgeColumns, RelationIds
from corpgraph.graph.settings import get_settings
from corpgraph.graph.projection.snapshot_check import COLUMNS, SnapshotInvalid, check_arrays, digest, manifest_of
from corpgraph.graph.projection.sparse_column import SparseColumn
from corpgraph.graph.stores.base import GraphStore

FORMAT = 3  # bumped whenever what a snapshot holds changes: older files are then ignored (2: bound_open, 3: the digest)
_SUFFIX = ".npz"
_STALE_TEMP = 3600.0  # seconds after which a temporary file left by a crashed writer is removed


_log = logging.getLogger(__name__)


class Snapshots:
    """The snapshots of one store in one folder: `load` the one of a key, `save` a projection under its key."""

    def __init__(self, folder: Path, instance: str = "") -> None:
        self.folder = Path(folder)
        self.instance = instance  # tells stores apart when one folder serves several (or a store is recreated)
        self._lock = threading.Lock()  # one writer at a time in this process

    def path(self, revision: int) -> Path:
        """Where the snapshot of a revision lives."""
        return self.folder / f"projection-{self.instance or 'store'}-r{revision}{_SUFFIX}"

    def load(self, revision: int) -> Projection | None:
        """The projection saved for this revision, or None (none saved, another format, or unreadable)."""
        path = self.path(revision)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}  # reading checks each member's CRC-32
            return _projection(arrays, self.instance, revision)
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, zipfile.BadZipFile,
                EOFError) as exc:  # SnapshotInvalid is a ValueError
            _log.warning("the projection snapshot %s is unusable (%s); it is deleted and the projection rebuilt",
                         path, exc)
            path.unlink(missing_ok=True)  # else every restart would read it again
            return None

    def latest(self, at_most: int) -> Projection | None:
        """The newest readable snapshot of a revision up to `at_most` (a restart after writes: the change log
        brings it up to date, graph.service), or None."""
        prefix = f"projection-{self.instance or 'store'}-r"
        found = sorted((int(name[len(prefix):-len(_SUFFIX)]) for name in
                        (path.name for path in self.folder.glob(f"{prefix}*{_SUFFIX}"))
                        if name[len(prefix):-len(_SUFFIX)].isdigit()), reverse=True) if self.folder.is_dir() else []
        return next((p for p in map(self.load, (r for r in found if r <= at_most)) if p is not None), None)

    def save(self, projection: Projection) -> Path:
        """Write the projection's snapshot atomically (temporary file, then rename) and drop older ones."""
        target = self.path(projection.revision)
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        with self._lock:
            try:
                with open(temporary, "wb") as out:
                    np.savez(out, allow_pickle=False, **_arrays(projection, self.instance))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target)
            finally:
                temporary.unlink(missing_ok=True)
            self._prune(keep=target)
        return target

    def save_in_background(self, projection: Projection, done: Callable[[Path | None], None] | None = None) -> None:
        """Save on a daemon thread (a build is served at once; its snapshot follows); errors only skip the snapshot."""
        def run() -> None:
            try:
                saved: Path | None = self.save(projection)
            except OSError:
                saved = None  # a full or read-only disk costs the next restart a build, nothing else
            if done is not None:
                done(saved)
        threading.Thread(target=run, name="corpgraph-projection-snapshot", daemon=True).start()

    def _prune(self, keep: Path) -> None:
        """Remove this store's other snapshots, and temporary files a crashed writer left long ago."""
        mine = f"projection-{self.instance or 'store'}-r"
        for path in self.folder.iterdir():
            if path.name.startswith(mine) and path.suffix == _SUFFIX and path != keep:
                path.unlink(missing_ok=True)
            elif path.name.endswith(".tmp") and time.time() - path.stat().st_mtime > _STALE_TEMP:
                path.unlink(missing_ok=True)


def snapshots_for(store: GraphStore) -> Snapshots | None:
    """Where a store's projection snapshots go, or None (settings: CORPGRAPH_SNAPSHOTS, CORPGRAPH_SNAPSHOT_DIR).

    The embedded store keeps them next to its file (`corpgraph.db.projection/`); another store only in a
    configured folder. The store's `instance()` (a number drawn when it was created) is part of the key, so a
    store deleted and created again at the same path never reads the snapshots of the old one.
    """
    settings = get_settings()
    if not settings.snapshots:
        return None
    at = store.location()
    # a folder may serve several stores: the store's kind, its instance and where it lives name its snapshots
    key = f"{at.kind}-{at.instance}-{hashlib.sha1(at.where.encode()).hexdigest()[:8]}"
    if settings.snapshot_dir is not None:
        return Snapshots(settings.snapshot_dir, key)
    return None if at.folder is None else Snapshots(at.folder, key)


def _arrays(proj: Projection, instance: str) -> dict[str, np.ndarray]:
    """Everything a snapshot holds, as named arrays (text as JSON in `manifest`)."""
    rel = proj.relation_ids
    manifest = {
        "format": FORMAT, "instance": instance, "revision": proj.revision, "nodes": proj.size, "edges": int(proj.type.size),
        "groups": len(proj.ids.groups), "extra": list(proj.ids.extra), "kinds": list(proj.kinds), "keys": list(rel.keys),
        "statements": {"groups": proj.statements.groups, "merged_into": proj.statements.merged_into,
                       "disputed": sorted(proj.statements.disputed)},
        "damaged": [[d.relation, d.source, d.target, d.reason] for d in proj.damaged],
    }
    arrays = {name: getattr(proj, name) for name in COLUMNS}
    arrays.update({f"ids.{k}": group for k, group in enumerate(proj.ids.groups)})
    arrays.update({"incident.at": proj.incident.at, "incident.values": proj.incident.values,
                   "kind.at": proj.kind.at, "kind.values": proj.kind.values,
                   "rel.keyed": rel.keyed, "rel.key_codes": rel.key_codes, "rel.whole": rel.whole,
                   "rel.whole_buffer": rel.whole_ids.buffer, "rel.whole_offsets": rel.whole_ids.offsets})
    manifest["digest"] = digest(arrays)
    arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode("utf-8"), dtype=np.uint8)
    return arrays


def _other_key(arrays: dict[str, np.ndarray], instance: str, revision: int) -> bool:
    """The file names another format, store or revision: not broken, only not the one asked for (left alone)."""
    raw = arrays.get("manifest")
    try:
        head = json.loads(raw.tobytes().decode("utf-8")) if raw is not None and raw.dtype == np.uint8 else None
    except (UnicodeDecodeError, ValueError):
        return False  # broken: manifest_of says how
    if not isinstance(head, dict):
        return False
    key = (head.get("format"), head.get("instance"), head.get("revision"))
    return None not in key and key != (FORMAT, instance, revision)


def _projection(arrays: dict[str, np.ndarray], instance: str, revision: int) -> Projection | None:
    """The projection a snapshot's arrays describe, or None when they are not the one asked for or do not fit."""
    if _other_key(arrays, instance, revision):
        return None
    manifest = manifest_of(arrays)
    check_arrays(arrays, manifest)
    m, n = manifest["edges"], manifest["nodes"]
    ids = NodeIds([arrays[f"ids.{k}"] for k in range(manifest["groups"])], manifest["extra"])
    if len(ids) != n:
        raise SnapshotInvalid("the ids do not number the nodes")
    kinds: list[str] = manifest["kinds"]
    edges = Edges(arrays["type"], arrays["src"], arrays["dst"], arrays["share"], arrays["valid_from"],
                  arrays["valid_to"], SparseColumn(m, arrays["incident.at"], arrays["incident.values"]),
                  SparseColumn(m, arrays["kind.at"], arrays["kind.values"]), kinds, arrays["bounded"],
                  arrays["bound_min"], arrays["bound_max"], arrays["bound_open"])
    whole = PackedStrings.from_arrays(arrays["rel.whole_buffer"], arrays["rel.whole_offsets"])
    keys = tuple(manifest["keys"])

    def relation_ids(columns: EdgeColumns) -> RelationIds:
        return RelationIds(columns, arrays["rel.keyed"], arrays["rel.key_codes"], keys, arrays["rel.whole"], whole)
    saved = manifest["statements"]
    statements = Statements({k: tuple(v) for k, v in saved["groups"].items()}, dict(saved["merged_into"]),
                            frozenset(saved["disputed"]))
    built = assemble(revision, ids, edges, relation_ids, statements)
    damaged = tuple(DamagedRelation(*d) for d in manifest.get("damaged", []))
    return replace(built, damaged=damaged) if damaged else built
