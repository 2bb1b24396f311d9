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
statements merged by identity (and, when saved with it, the identity map itself), and every cached as-of view
that is ready (graph.projection.view_arrays: mask, OWNS adjacency, W, control, components). The
per-type adjacency is rebuilt from the columns when loaded (vectorised, a small part of a build from the store);
views not saved are built on first use.

Worker processes (`corpgraph serve --workers N`, api/workers.py) share one projection through these files:
the builder worker publishes a snapshot of every state it builds, and the other workers `map` it: each array
is a read-only view of the file's pages (the `.npy` members of an uncompressed `.npz` are contiguous bytes),
so the page cache holds the columns once for every worker. A follower that needs a view of a day the file
lacks asks the builder for it (`want`, a marker file); the builder readies it and publishes the same revision
again with it (graph.service.CorpGraph.serve_wanted, publish), and both read it from the file (`mapped_view`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import re
import struct
import threading
import time
import zipfile
from dataclasses import replace
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from corpgraph.graph import budget
from corpgraph.graph.identity.clusters import IdentityConflict, IdentityMap
from corpgraph.graph.identity.merge import Statements
from corpgraph.graph.projection.nodeids import NodeIds
from corpgraph.graph.projection.packed import PackedStrings
from corpgraph.graph.projection.build import AsOfView, DamagedRelation, Edges, Projection, assemble
from corpgraph.graph.projection.coded_column import CodedColumn
from corpgraph.graph.projection.relation_ids import EdgeColumns, RelationIds
from corpgraph.graph.settings import get_settings
from corpgraph.graph.projection.snapshot_check import CODED, COLUMNS, SnapshotInvalid, check_arrays, digest, manifest_of
from corpgraph.graph.projection.sparse_column import SparseColumn
from corpgraph.graph.projection.view_arrays import is_ready, view_arrays, view_of
from corpgraph.graph.stores.base import GraphStore

FORMAT = 8  # bumped whenever what a snapshot holds changes: older files are then ignored (2: bound_open, 3: the digest,
#            4: the identity map, for the workers that map a snapshot, 5: the ready as-of views, 6: W by company as
#            slots over the up adjacency, 7: share and validity days as coded columns, components named by first rank,
#            8: control by columns only, with a bit a node for who controls anything; no W by
#            company; the valid edges as bits)
_SUFFIX = ".npz"
_STALE_TEMP = 3600.0  # seconds after which a temporary file left by a crashed writer is removed
_POLL = 0.01  # seconds between looks for a newer published snapshot (a worker waiting for its builder)
_WANT = ".want-"  # marker files by which a following worker asks the builder for the ready view of a day
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip member's local header: signature, ..., name and extra lengths


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
        found = sorted((r for r in self._revisions() if r <= at_most), reverse=True)
        return next((p for p in map(self.load, found) if p is not None), None)

    def save(self, projection: Projection, identity: IdentityMap | None = None, durable: bool = True) -> Path:
        """Write the projection's snapshot atomically (temporary file, then rename) and drop older ones.

        identity: saved with it, for the workers that map it (`mapped`). durable=False skips the fsync: a
        snapshot published to sibling workers is read through the page cache, and a crash only costs a rebuild.
        """
        target = self.path(projection.revision)
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        with self._lock:
            try:
                with open(temporary, "wb") as out:
                    np.savez(out, allow_pickle=False, **_arrays(projection, self.instance, identity))
                    out.flush()
                    if durable:
                        os.fsync(out.fileno())
                os.replace(temporary, target)
            finally:
                temporary.unlink(missing_ok=True)
            self._prune(keep=target)
        return target

    def newest(self) -> int | None:
        """The revision of the newest snapshot of this store in the folder, or None."""
        return max(self._revisions(), default=None)

    def _revisions(self) -> list[int]:
        """The revisions of this store's snapshots in the folder (none when there is no folder yet)."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return [r for r in map(self._revision_of, names) if r is not None]

    def _revision_of(self, name: str) -> int | None:
        """The revision a file name of this store's snapshots names (None: not one of them)."""
        found = re.fullmatch(re.escape(f"projection-{self.instance or 'store'}-r") + r"(\d+)" + re.escape(_SUFFIX), name)
        return int(found.group(1)) if found else None

    def mapped(self, revision: int, checked: bool = False, views: bool = True) -> tuple[Projection, IdentityMap] | None:
        """The projection and identity published for this revision, its arrays mapped read-only from the file;
        None when there is no such file (or the builder pruned it for a newer one) or it is not a published
        snapshot (another format or key, no identity map).

        views=False leaves the ready views the file carries out of the projection's cache: a follower takes one
        from the file when a query first asks for its day (`mapped_view`), so a delta patches only the views the
        follower uses, not every view its builder ever readied.

        checked=False trusts the bytes: the file was published by this server's own builder process, renamed
        into place whole. checked=True (a file from before a restart) checks the digest and every invariant
        first, as `load` does, and deletes a file that fails.
        """
        path = self.path(revision)
        try:
            with open(path, "rb") as handle:
                pages = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)  # kept open by the arrays
        except (FileNotFoundError, ValueError):  # ValueError: an empty file cannot be mapped
            return None
        try:
            arrays = _mapped_arrays(pages)
            identity = _other_key(arrays, self.instance, revision) or manifest_of(arrays).get("identity")
            projection = _projection(arrays, self.instance, revision, checked, views) if identity else None
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, zipfile.BadZipFile, struct.error) as exc:
            _log.warning("the projection snapshot %s cannot be mapped (%s)%s", path, exc,
                         "; it is deleted" if checked else "")
            if checked:
                path.unlink(missing_ok=True)
            return None
        if projection is None or not isinstance(identity, dict):
            return None
        return projection, _identity(identity, revision)

    def mapped_view(self, projection: Projection, day: int) -> AsOfView | None:
        """The ready view of a day published with the projection's revision, its arrays mapped read-only from the
        file and read over `projection` (mapped from an earlier publication of the same revision); None when the
        file of that revision does not carry it (yet), or is gone."""
        path = self.path(projection.revision)
        try:
            with open(path, "rb") as handle:
                pages = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            arrays = _mapped_arrays(pages)
            if _other_key(arrays, self.instance, projection.revision) or day not in manifest_of(arrays)["views"]:
                return None
            return view_of(projection, day, arrays, view_prefix(day))
        except (FileNotFoundError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile, struct.error):
            return None  # replaced or pruned while read: the caller asks again or builds the view itself

    def stamp(self, revision: int) -> tuple[int, int] | None:
        """What tells one publication of a revision's file from the next (inode and change time), None without one."""
        try:
            found = os.stat(self.path(revision))
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_mtime_ns

    def want(self, revision: int, day: int) -> None:
        """Ask the builder process for the ready view of a day at a revision (a marker file it reads, `wanted`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{_WANT}{self.instance or 'store'}-r{revision}-d{day}").touch()

    def wanted(self) -> list[tuple[int, int]]:
        """The (revision, day) views asked for by `want`, each forgotten once read."""
        head = f"{_WANT}{self.instance or 'store'}-r"
        try:
            found = [name for name in os.listdir(self.folder) if name.startswith(head)]
        except FileNotFoundError:
            return []
        asked = []
        for name in found:
            (self.folder / name).unlink(missing_ok=True)
            revision, _, day = name[len(head):].partition("-d")
            if revision.isdigit() and day.lstrip("-").isdigit():
                asked.append((int(revision), int(day)))
        return asked

    def wait_for(self, at_least: int) -> int:
        """The revision of the newest snapshot once it is `at_least` or later, waiting for a builder process to
        publish one (within the calling thread's time budget, graph.budget)."""
        while True:
            revision = self.newest()
            if revision is not None and revision >= at_least:
                return revision
            budget.check()
            time.sleep(_POLL)

    def save_in_background(self, projection: Projection, done: Callable[[Path | None], None] | None = None,
                           identity: IdentityMap | None = None) -> None:
        """Save on a daemon thread (a build is served at once; its snapshot follows); errors only skip the snapshot."""
        def run() -> None:
            try:
                saved: Path | None = self.save(projection, identity)
            except OSError:
                saved = None  # a full or read-only disk costs the next restart a build, nothing else
            if done is not None:
                done(saved)
        threading.Thread(target=run, name="corpgraph-projection-snapshot", daemon=True).start()

    def _prune(self, keep: Path) -> None:
        """Remove this store's older snapshots (a newer one saved meanwhile by another thread or process stays),
        and temporary files a crashed writer left long ago."""
        kept = self._revision_of(keep.name)
        for path in self.folder.iterdir():
            revision = self._revision_of(path.name)
            if revision is not None and kept is not None and revision < kept:
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


def _arrays(proj: Projection, instance: str, identity: IdentityMap | None = None) -> dict[str, np.ndarray]:
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
    for name in CODED:
        column = getattr(proj, name)
        arrays.update({f"{name}.codes": column.codes, f"{name}.table": column.table})
    views = [(day, view) for day, view in proj.cached_views() if is_ready(view)]
    manifest["views"] = [day for day, _ in views]
    for day, view in views:
        arrays.update(view_arrays(view, view_prefix(day)))
    arrays.update({f"ids.{k}": group for k, group in enumerate(proj.ids.groups)})
    arrays.update({"incident.at": proj.incident.at, "incident.values": proj.incident.values,
                   "kind.at": proj.kind.at, "kind.values": proj.kind.values,
                   "rel.keyed": rel.keyed, "rel.key_codes": rel.key_codes, "rel.whole": rel.whole,
                   "rel.whole_buffer": rel.whole_ids.buffer, "rel.whole_offsets": rel.whole_ids.offsets})
    if identity is not None:
        manifest["identity"] = {"members": identity.members,
                                "conflicts": [[c.a, c.b, c.link, c.reason] for c in identity.conflicts]}
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
    if isinstance(key[0], int) and key[0] < FORMAT and key[1:] == (instance, revision):
        _log.warning("the projection snapshot of revision %d is of format %d, older than this version's %d: not used, "
                  "the projection is built again (and saved in format %d)", revision, key[0], FORMAT, FORMAT)
    return None not in key and key != (FORMAT, instance, revision)


def _mapped_arrays(pages: mmap.mmap) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed `.npz` as read-only views of its mapped pages (no byte is copied)."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(_Pages(pages)) as archive:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise SnapshotInvalid(f"member {info.filename!r} is compressed or not an array")
            signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(pages, info.header_offset)
            if signature != b"PK\x03\x04":
                raise SnapshotInvalid(f"member {info.filename!r} has no local header")
            start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
            member = _Pages(pages, start)
            version = np.lib.format.read_magic(member)
            shape, fortran, dtype = (np.lib.format.read_array_header_1_0(member) if version == (1, 0)
                                     else np.lib.format.read_array_header_2_0(member))
            count = int(np.prod(shape, dtype=np.int64))
            if dtype.hasobject or start + member.tell() + count * dtype.itemsize > len(pages):
                raise SnapshotInvalid(f"member {info.filename!r} holds objects or runs past the file")
            flat = np.frombuffer(pages, dtype, count, start + member.tell())
            arrays[info.filename[:-4]] = flat.reshape(shape, order="F" if fortran else "C")
    return arrays


class _Pages:
    """A read-only file object over mapped pages from an offset (what zipfile and numpy's header reader need)."""

    def __init__(self, pages: mmap.mmap, start: int = 0) -> None:
        self.pages, self.start, self.at = pages, start, start

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes from the position (all the rest when negative)."""
        end = len(self.pages) if size < 0 else min(self.at + size, len(self.pages))
        chunk, self.at = self.pages[self.at:end], max(end, self.at)
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position as a file does (relative to the start offset)."""
        base = {os.SEEK_SET: self.start, os.SEEK_CUR: self.at, os.SEEK_END: len(self.pages)}[whence]
        self.at = base + offset
        return self.at - self.start

    def tell(self) -> int:
        """The position, relative to the start offset."""
        return self.at - self.start

    def seekable(self) -> bool:
        """Always: the pages are all there."""
        return True


def _identity(saved: dict[str, Any], revision: int) -> IdentityMap:
    """The identity map a snapshot's manifest carries (as graph.identity.clusters built it)."""
    members = {canonical: tuple(ids) for canonical, ids in saved["members"].items()}
    mapping = {referent: canonical for canonical, ids in members.items() for referent in ids[1:]}
    return IdentityMap(revision, mapping, members, [IdentityConflict(*c) for c in saved["conflicts"]])


def _projection(arrays: dict[str, np.ndarray], instance: str, revision: int, checked: bool = True,
                views: bool = True) -> Projection | None:
    """The projection a snapshot's arrays describe, or None when they are not the one asked for or do not fit
    (checked=False: the key only, not the digest and invariants; views=False: without the saved views in its
    cache; see Snapshots.mapped)."""
    if _other_key(arrays, instance, revision):
        return None
    manifest = manifest_of(arrays)
    if checked:
        check_arrays(arrays, manifest)
    m, n = manifest["edges"], manifest["nodes"]
    ids = NodeIds([arrays[f"ids.{k}"] for k in range(manifest["groups"])], manifest["extra"])
    if len(ids) != n:
        raise SnapshotInvalid("the ids do not number the nodes")
    kinds: list[str] = manifest["kinds"]
    share, valid_from, valid_to = (CodedColumn(arrays[f"{name}.codes"], arrays[f"{name}.table"]) for name in CODED)
    edges = Edges(arrays["type"], arrays["src"], arrays["dst"], share, valid_from, valid_to, SparseColumn(m, arrays["incident.at"], arrays["incident.values"]),
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
    projection = replace(built, damaged=damaged) if damaged else built
    for day in manifest["views"] if views else ():  # the ready views saved with it: read from the file, not built
        projection.keep_view(view_of(projection, day, arrays, view_prefix(day)))
    return projection


def view_prefix(day: int) -> str:
    """The prefix of the arrays of the view of a day (graph.projection.view_arrays) in a snapshot."""
    return f"view.{day}."
