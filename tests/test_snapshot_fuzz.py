"""Snapshots re-saved with valid CRCs but crafted content: the loader never crashes, never serves what it cannot
vouch for, deletes the file, and the facade rebuilds from the store (graph/projection/snapshot_check.py holds
the invariants)."""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from corpgraph.graph.identity.clusters import build_identity
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection.build import Projection, build_projection
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.projection.snapshot import Snapshots
from corpgraph.graph.projection.snapshot_check import digest
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company, entity, owns, rel

DAY = date(2024, 1, 1)
Arrays = dict[str, np.ndarray]


def _world(store: SqliteStore) -> None:
    """a holds 60% of b, b 50% of c; c is responsible for an incident; keyed relations; data for the incident."""
    ingest(store, batch(company("a"), company("b"), company("c"), entity("Incident", "i", category="outage"),
                        owns("a", "b", 0.6), owns("b", "c", 0.5), rel("RESPONSIBLE_FOR", "c", "i", role="operator"),
                        rel("DEPENDS_ON", "a", "c", service="hosting"),
                        rel("SUPPLIED_DATA_TO", "b", "c", incident="i")))


@pytest.fixture
def saved(tmp_store: SqliteStore, tmp_path: Path) -> tuple[Snapshots, Projection, Arrays]:
    """A store, its projection's snapshot, and that snapshot's arrays."""
    _world(tmp_store)
    built = build_projection(tmp_store, build_identity(tmp_store))
    snapshots = Snapshots(tmp_path / "snaps", "x")
    path = snapshots.save(built)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    return snapshots, built, arrays


def _manifest(arrays: Arrays) -> dict[str, object]:
    """The manifest of the arrays, decoded."""
    return json.loads(arrays["manifest"].tobytes().decode())  # type: ignore[no-any-return]


def _with_manifest(arrays: Arrays, manifest: object) -> Arrays:
    """The arrays with another manifest."""
    return {**arrays, "manifest": np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)}


def _resealed(arrays: Arrays) -> Arrays:
    """The arrays with the manifest's digest recomputed: only the structural checks can tell them from sound ones."""
    return _with_manifest(arrays, {**_manifest(arrays), "digest": digest(arrays)})


def _write(snapshots: Snapshots, revision: int, arrays: Arrays) -> Path:
    """Save arrays as a snapshot file (np.savez writes valid CRC-32s)."""
    path = snapshots.path(revision)
    with open(path, "wb") as out:
        np.savez(out, **cast(dict[str, Any], arrays))  # numpy's stub reads ** as allow_pickle
    return path


def _changed(arrays: Arrays, name: str, change: Callable[[np.ndarray], np.ndarray]) -> Arrays:
    """The arrays with one of them replaced by change(copy of it)."""
    return {**arrays, name: change(arrays[name].copy())}


def _set(at: int, value: float) -> Callable[[np.ndarray], np.ndarray]:
    """Set one element (where the array has one)."""
    def change(a: np.ndarray) -> np.ndarray:
        if a.size:
            a[at % a.size] = value
        return a
    return change


# Each crafted file, by what was done to it. Those marked `reseal` get a valid digest too.
CRAFTED: dict[str, tuple[Callable[[Arrays], Arrays], bool]] = {
    "empty manifest": (lambda a: _with_manifest(a, {}), False),
    "manifest not an object": (lambda a: _with_manifest(a, [1, 2]), False),
    "manifest not JSON": (lambda a: {**a, "manifest": np.frombuffer(b"\xff{", dtype=np.uint8)}, False),
    "manifest nodes a string": (lambda a: _with_manifest(a, {**_manifest(a), "nodes": "10"}), False),
    "manifest statements broken": (lambda a: _with_manifest(a, {**_manifest(a), "statements": {"groups": 1}}), False),
    "shares halved": (lambda a: _changed(a, "share.table", lambda s: s / 2), False),
    "a share NaN": (lambda a: _changed(a, "share.table", lambda s: np.full_like(s, np.nan)), False),
    # (NaN resealed is a valid file: NaN is how a snapshot holds an unknown share; the digest catches it unsealed)
    "a share of 1.5, resealed": (lambda a: _changed(a, "share.table", _set(1, 1.5)), True),
    "a share of 9e999, resealed": (lambda a: _changed(a, "share.table", _set(0, np.inf)), True),
    "a share of -5, resealed": (lambda a: _changed(a, "share.table", _set(0, -5.0)), True),
    "a negative node index, resealed": (lambda a: _changed(a, "src", _set(0, -1)), True),
    "a node index past the end, resealed": (lambda a: _changed(a, "dst", _set(1, 10_000)), True),
    "an unknown relation type, resealed": (lambda a: _changed(a, "type", _set(0, 100)), True),
    "a column cut short, resealed": (lambda a: _changed(a, "valid_to.codes", lambda c: c[:-1]), True),
    "a share code past its table, resealed": (lambda a: _changed(a, "share.codes", _set(0, 255)), True),
    "days as floats, resealed": (lambda a: _changed(a, "valid_from.table", lambda t: t.astype(np.float64)), True),
    "a column missing, resealed": (lambda a: {k: v for k, v in a.items() if k != "dst"}, True),
    "shares as integers, resealed": (lambda a: _changed(a, "share.table", lambda s: np.zeros(s.size, dtype=np.int64)), True),
    "an incident past the edges, resealed": (lambda a: _changed(a, "incident.at", _set(0, 10_000)), True),
    "an incident value past the nodes, resealed": (lambda a: _changed(a, "incident.values", _set(0, 10_000)), True),
    "a key code past the keys, resealed": (lambda a: _changed(a, "rel.key_codes", _set(0, 99)), True),
    "keyed edges unsorted, resealed": (lambda a: _changed(a, "rel.keyed", lambda k: k[::-1]), True),
    "an id group missing, resealed": (lambda a: {k: v for k, v in a.items() if k != "ids.0"}, True),
    "whole offsets past the buffer, resealed": (lambda a: _changed(a, "rel.whole_offsets", _set(-1, 99)), True),
    "a 2-D column, resealed": (lambda a: _changed(a, "src", lambda c: c.reshape(1, -1)), True),
}


@pytest.mark.parametrize("craft", sorted(CRAFTED))
def test_a_crafted_snapshot_is_refused_deleted_and_rebuilt(saved: tuple[Snapshots, Projection, Arrays],
                                                           tmp_store: SqliteStore, craft: str) -> None:
    snapshots, built, arrays = saved
    make, reseal = CRAFTED[craft]
    crafted = make(arrays)
    path = _write(snapshots, built.revision, _resealed(crafted) if reseal else crafted)
    assert snapshots.load(built.revision) is None  # main: AttributeError, ValueError, or wrong shares served
    assert not path.exists()  # deleted: no restart reads it again
    graph = CorpGraph(tmp_store, snapshots=snapshots)
    held = {h.company: h.integrated for h in graph.holdings("a", DAY)}
    assert held == pytest.approx({"b": 0.6, "c": 0.3})  # by hand: 0.6, and 0.6 x 0.5 through b


def test_random_byte_changes_resealed_never_crash_the_loader(saved: tuple[Snapshots, Projection, Arrays]) -> None:
    snapshots, built, arrays = saved
    rng = random.Random(18)
    names = sorted(k for k, v in arrays.items() if k != "manifest" and v.size)
    for _ in range(300):  # bounded: 300 crafted files
        name = rng.choice(names)
        raw = bytearray(arrays[name].tobytes())
        raw[rng.randrange(len(raw))] = rng.randrange(256)
        changed = {**arrays, name: np.frombuffer(bytes(raw), dtype=arrays[name].dtype).reshape(arrays[name].shape)}
        _write(snapshots, built.revision, _resealed(changed))
        loaded = snapshots.load(built.revision)  # may load (the change broke no invariant) but never raises
        if loaded is not None:
            shares = loaded.share[~np.isnan(loaded.share)]
            assert ((shares >= 0) & (shares <= 1)).all()
            assert int(loaded.src.max()) < loaded.size and int(loaded.dst.max()) < loaded.size
