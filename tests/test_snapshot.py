"""Projection snapshots: a restart reads the arrays back instead of the graph; other revisions and damaged files are ignored."""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

import corpgraph.graph.service as service_module
from corpgraph.graph.identity.clusters import build_identity
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection.build import Projection, build_projection
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.settings import get_settings
from corpgraph.graph.projection.snapshot import Snapshots, snapshots_for
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company, entity, owns, rel

LEI = "5493001KJTIIGC8Y1R12"
DAY = date(2024, 1, 1)


def _world(store: SqliteStore) -> None:
    """Stakes (one under a referent of a merged entity), every other analytic type, keys with no column."""
    ingest(store, batch(
        company("a"), company("b"), company("c"), entity("Incident", "i", category="outage"),
        company("bods:acme", identifiers={"LEI": LEI}), company(f"lei:{LEI}", identifiers={"LEI": LEI}),
        owns("a", "b", 0.6, valid_from="2020-01-01"), owns("b", "c", 0.5), owns(f"lei:{LEI}", "a", 0.3),
        owns("bods:acme", "c", None), rel("RESPONSIBLE_FOR", "c", "i", role="operator"),
        rel("DEPENDS_ON", "a", "c", service="hosting"), rel("SUPPLIED_DATA_TO", "b", "a", incident="i"),
    ))


def _same(a: Projection, b: Projection) -> None:
    """Two projections hold the same ids, columns, relation ids and merged statements."""
    assert list(a.ids) == list(b.ids) and a.revision == b.revision
    for name in ("type", "src", "dst", "valid_from", "valid_to", "bounded"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.share, b.share, equal_nan=True)
    assert list(a.relation_ids) == list(b.relation_ids) and a.kinds == b.kinds
    assert a.incident.dense().tolist() == b.incident.dense().tolist() and a.statements == b.statements


def test_a_snapshot_reads_back_the_projection_it_saved(tmp_store: SqliteStore, tmp_path: Path) -> None:
    _world(tmp_store)
    built = build_projection(tmp_store, build_identity(tmp_store))
    snapshots = Snapshots(tmp_path / "snaps", "x")
    snapshots.save(built)
    loaded = snapshots.load(built.revision)
    assert loaded is not None and built.relation_ids.whole.size == 1  # the referent's stake keeps its own id
    _same(built, loaded)
    a, b = loaded.index["a"], loaded.index["b"]
    assert loaded.view(DAY).W[a, b] == 0.6  # the stake of a in b, valid since 2020


def test_a_restarted_facade_answers_from_the_snapshot_without_reading_the_graph(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _world(tmp_store)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    first = CorpGraph(tmp_store, snapshots=snapshots)
    expected = first.holdings("a", DAY)
    written = snapshots.path(tmp_store.revision())
    for _ in range(200):  # the builder saves it in the background, after serving the build
        if written.is_file():
            break
        time.sleep(0.05)
    assert written.is_file()

    def no_build(*_: object) -> Projection:
        raise AssertionError("the graph was read again")
    monkeypatch.setattr(service_module, "build_projection", no_build)
    restarted = CorpGraph(tmp_store, snapshots=snapshots)
    assert restarted.holdings("a", DAY) == expected
    assert [h.company for h in expected] == ["b", "c"]  # a holds 60% of b, and b 50% of c: 0.6 * 0.5 = 0.3 of c
    assert expected[1].integrated == pytest.approx(0.3)


def test_a_snapshot_of_an_older_revision_is_brought_up_to_date_by_the_change_log(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restart after a write: the older snapshot plus the logged write, never the whole graph read again;
    the state is saved at the new revision for the next restart."""
    _world(tmp_store)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    snapshots.save(build_projection(tmp_store, build_identity(tmp_store)))
    ingest(tmp_store, batch(company("d"), owns("c", "d", 0.4)))
    assert snapshots.load(tmp_store.revision()) is None

    def no_build(*_: object) -> Projection:
        raise AssertionError("the graph was read again")
    monkeypatch.setattr(service_module, "build_projection", no_build)
    restarted = CorpGraph(tmp_store, snapshots=snapshots)
    assert [h.company for h in restarted.holdings("c", DAY)] == ["d"]  # the write is seen
    # a 60% of b, b 50% of c, c 40% of d: 0.6 * 0.5 * 0.4 of d
    assert {h.company: h.integrated for h in restarted.holdings("a", DAY)}["d"] == pytest.approx(0.12)
    assert str(restarted.live.get().how) == "delta"
    written = snapshots.path(tmp_store.revision())
    for _ in range(200):  # saved in the background
        if written.is_file():
            break
        time.sleep(0.05)
    assert written.is_file()


def test_an_older_snapshot_is_not_used_when_identity_moved_since(tmp_store: SqliteStore, tmp_path: Path) -> None:
    """A decision after the snapshot (the change log cannot patch identity): built from the whole store."""
    _world(tmp_store)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    snapshots.save(build_projection(tmp_store, build_identity(tmp_store)))
    tmp_store.add_judgement("a", "b", "different", "tester")
    assert snapshots.latest(tmp_store.revision()) is not None  # there, and older than the store
    restarted = CorpGraph(tmp_store, snapshots=snapshots)
    assert [h.company for h in restarted.holdings("b", DAY)] == ["c"]
    assert str(restarted.live.get().how).startswith("full")


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_a_damaged_snapshot_is_ignored_and_rebuilt(tmp_store: SqliteStore, tmp_path: Path, damage: str) -> None:
    _world(tmp_store)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    built = build_projection(tmp_store, build_identity(tmp_store))
    path = snapshots.save(built)
    data = bytearray(path.read_bytes())
    if damage == "flip":  # one byte inside the src column: the zip member's CRC-32 no longer matches
        with np.load(path) as npz:
            assert "src" in npz.files
        at = bytes(data).index(built.src.tobytes())
        data[at] ^= 0xFF
    path.write_bytes(bytes(data[: len(data) // 2]) if damage == "truncate" else
                     b"not a snapshot" if damage == "garbage" else bytes(data))
    assert snapshots.load(built.revision) is None
    restarted = CorpGraph(tmp_store, snapshots=snapshots)
    _same(restarted.projection(), built)


def test_a_recreated_store_never_reads_the_old_stores_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORPGRAPH_SNAPSHOT_DIR", raising=False)
    get_settings.cache_clear()
    db = tmp_path / "corpgraph.db"
    old = SqliteStore(db)
    _world(old)
    first = snapshots_for(old)
    assert first is not None and first.folder == tmp_path / "corpgraph.db.projection"
    saved = first.save(build_projection(old, build_identity(old)))
    old.close()
    for leftover in tmp_path.glob("corpgraph.db*"):
        if leftover.is_file():
            leftover.unlink()
    new = SqliteStore(db)
    ingest(new, batch(company("z")))
    while new.revision() < old_revision(saved):  # bring the new store to the old one's revision
        ingest(new, batch(company(f"z{new.revision()}")))
    second = snapshots_for(new)
    assert second is not None and second.path(new.revision()) != saved
    assert second.load(new.revision()) is None
    new.close()


def old_revision(path: Path) -> int:
    """The revision in a snapshot's file name (`...-r<revision>.npz`)."""
    return int(path.stem.rsplit("-r", 1)[1])


def test_snapshots_can_be_turned_off(tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_SNAPSHOTS", "0")
    get_settings.cache_clear()
    assert snapshots_for(tmp_store) is None
    monkeypatch.delenv("CORPGRAPH_SNAPSHOTS")
    get_settings.cache_clear()


def test_a_state_made_by_a_delta_is_saved_once_the_last_save_is_old_enough(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With SNAPSHOT_EVERY at 0 a write through the facade (applied as a delta) leaves a snapshot of its revision;
    at the default minute it leaves none (the first build's is the newest)."""
    _world(tmp_store)
    for every, saved in ((60.0, False), (0.0, True)):
        monkeypatch.setattr(service_module, "SNAPSHOT_EVERY", every)
        snapshots = Snapshots(tmp_path / f"snaps-{every}", "x")
        graph = CorpGraph(tmp_store, snapshots=snapshots)
        graph.projection()
        graph.write(batch(company(f"e{every}"), owns("c", f"e{every}", 0.2)))
        assert str(graph.live.get().how) == "delta"
        written = snapshots.path(tmp_store.revision())
        for _ in range(100 if saved else 20):  # saved in the background
            if written.is_file():
                break
            time.sleep(0.05)
        assert written.is_file() is saved


def test_a_published_snapshot_is_mapped_read_only_with_its_identity(tmp_store: SqliteStore, tmp_path: Path) -> None:
    """What a worker maps (Snapshots.mapped) is the saved projection, its arrays views of the file's pages, and
    the identity it was merged by (bods:acme and lei:<LEI> share the LEI: one entity, canonical bods:acme)."""
    _world(tmp_store)
    identity = build_identity(tmp_store)
    built = build_projection(tmp_store, identity)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    snapshots.save(built, identity, durable=False)
    assert snapshots.newest() == built.revision
    found = snapshots.mapped(built.revision)
    assert found is not None
    mapped, mapped_identity = found
    _same(built, mapped)
    assert not mapped.share.codes.flags.writeable and not mapped.share.codes.flags.owndata  # a view of the mapped file
    assert mapped_identity.members == {"bods:acme": ("bods:acme", f"lei:{LEI}")}
    assert mapped_identity.canonical(f"lei:{LEI}") == "bods:acme" and mapped_identity.revision == built.revision
    assert mapped.view(DAY).W[mapped.index["a"], mapped.index["b"]] == 0.6
    assert snapshots.mapped(built.revision + 1) is None  # never published


def test_a_snapshot_saved_without_identity_is_not_mapped(tmp_store: SqliteStore, tmp_path: Path) -> None:
    _world(tmp_store)
    built = build_projection(tmp_store, build_identity(tmp_store))
    snapshots = Snapshots(tmp_path / "snaps", "x")
    snapshots.save(built)
    assert snapshots.mapped(built.revision) is None  # not what a builder publishes: never mapped


def test_a_damaged_snapshot_is_not_mapped_when_checked_and_is_deleted(tmp_store: SqliteStore, tmp_path: Path) -> None:
    """A column altered in place (the file re-saved by hand) passes the zip's structure but not the digest."""
    _world(tmp_store)
    identity = build_identity(tmp_store)
    built = build_projection(tmp_store, identity)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    path = snapshots.save(built, identity)
    raw = bytearray(path.read_bytes())
    at = raw.find(np.float64(0.6).tobytes())  # a's 60% of b, in the share column
    raw[at:at + 8] = np.float64(0.3).tobytes()
    path.write_bytes(bytes(raw))
    assert snapshots.mapped(built.revision) is not None  # trusted as published: not read whole
    assert snapshots.mapped(built.revision, checked=True) is None and not path.exists()
