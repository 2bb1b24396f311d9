"""Ready as-of views in snapshots: saved with the columns, mapped by the workers that follow a builder, older formats refused."""
from __future__ import annotations

import logging
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

import corpgraph.graph.projection.snapshot as snapshot_module
from corpgraph.graph.identity.clusters import build_identity
from corpgraph.graph.projection.build import AsOfView, build_projection
from corpgraph.graph.projection.control import controlled_by
from corpgraph.graph.projection.ready import ready_view
from corpgraph.graph.projection.snapshot import Snapshots
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from tests.factory import batch, company, owns

DAY = date(2024, 1, 1)
LATER = date(2024, 6, 1)


def _world(store: SqliteStore) -> None:
    """a holds 60% of b (control), b 30% of c and c 10% of b (a cycle), d an unknown share of c."""
    ingest(store, batch(company("a"), company("b"), company("c"), company("d"), owns("a", "b", 0.6),
                        owns("b", "c", 0.3), owns("c", "b", 0.1), owns("d", "c", None)))


def _published(store: SqliteStore, tmp_path: Path) -> tuple[Snapshots, int]:
    """The store's projection with its ready view of DAY, saved as a builder publishes it."""
    identity = build_identity(store)
    built = build_projection(store, identity)
    ready_view(built, DAY)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    snapshots.save(built, identity, durable=False)
    return snapshots, built.revision


def test_a_ready_view_is_mapped_with_the_snapshot_not_built_again(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _world(tmp_store)
    snapshots, revision = _published(tmp_store, tmp_path)
    monkeypatch.setattr(AsOfView, "build", classmethod(lambda cls, proj, day: pytest.fail("view built again")))
    found = snapshots.mapped(revision)
    assert found is not None
    mapped = found[0]
    view = ready_view(mapped, DAY)
    a, b, c = (mapped.index[x] for x in "abc")
    assert not view.W.data.flags.writeable and not view.control.indices.flags.writeable  # type: ignore[attr-defined]
    assert view.W[a, b] == 0.6 and view.W[b, c] == 0.3 and view.W[c, b] == 0.1
    assert controlled_by(view, a).tolist() == [b]  # 60% > 50%; b's 30% of c controls nothing
    labels = view.components.labels
    assert labels[b] == labels[c] != labels[a]  # b and c hold each other: one component
    # by company: c's owners are b (0.3) and d (unknown: not in W)
    rows, cols, shares = view.submatrix(np.array([b, c]), upstream=True)
    assert sorted(zip(rows.tolist(), cols.tolist(), shares.tolist())) == [(0, 1, 0.3), (1, 0, 0.1)]
    loaded = snapshots.load(revision)  # a restart reads the view back too (checked, in memory)
    assert loaded is not None and ready_view(loaded, DAY).W[a, b] == 0.6


def test_a_snapshot_of_an_older_format_is_refused_with_a_reason_and_rebuilt(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _world(tmp_store)
    with monkeypatch.context() as older:
        older.setattr(snapshot_module, "FORMAT", snapshot_module.FORMAT - 1)
        snapshots, revision = _published(tmp_store, tmp_path)
    with caplog.at_level(logging.WARNING):
        assert snapshots.load(revision) is None and snapshots.mapped(revision) is None
    assert f"is of format {snapshot_module.FORMAT - 1}, older than this version's {snapshot_module.FORMAT}" in caplog.text
    graph = CorpGraph(tmp_store, snapshots=snapshots)
    assert [h.owner for h in graph.owners("b", DAY)] == ["a", "c", "d"]  # built from the store instead (d through c, share unknown)


def test_a_follower_maps_the_view_its_builder_readies_for_it(tmp_store: SqliteStore, tmp_path: Path) -> None:
    """A following facade that needs a day's view asks the builder (Snapshots.want), which readies and publishes
    it; the follower answers from the published arrays (read-only pages), the same as the builder."""
    _world(tmp_store)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    builder = CorpGraph(tmp_store, snapshots=snapshots)
    revision = builder.live.fresh().revision
    while snapshots.newest() != revision:  # the build's own snapshot, saved in the background (without views)
        time.sleep(0.01)
    follower = CorpGraph(tmp_store, snapshots=snapshots, follow=True)
    answers: list[list[str]] = []
    asking = threading.Thread(target=lambda: answers.append([h.owner for h in follower.owners("b", DAY)]))
    asking.start()
    published = []
    while asking.is_alive():  # the builder's publisher thread, in short
        if builder.serve_wanted():
            published.append(builder.publish())
        time.sleep(0.01)
    asking.join()
    assert published[0] == revision and set(published[1:]) <= {None}  # once, with the view; then nothing new
    assert answers == [["a", "c", "d"]] == [[h.owner for h in builder.owners("b", DAY)]]
    view = follower.projection().cached_views()[-1][1]
    assert view.day == (DAY - date(1970, 1, 1)).days and not view.W.data.flags.writeable
    assert builder.publish() is None  # published with that view already
    assert not builder.projection().view(DAY).W.data.flags.writeable  # the builder reads it from the file too


def test_the_builder_maps_its_publication_back_with_what_the_file_does_not_carry(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """b and c hold each other (a cyclic component: its inverse is built with the view) and d holds an unknown share
    of c (so the view has an upper side, and may_control of its own). The builder's queries built them; a
    publication maps the view back from the file, which carries neither, and they stay with it: its next query
    builds none of them again, on its own time, and answers the same."""
    _world(tmp_store)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    builder = CorpGraph(tmp_store, snapshots=snapshots, save_deltas=False)
    builder.owners("b", DAY)
    builder.write(batch(company("e"), owns("e", "d", 0.2)))  # a state made by a delta: not on file until published
    expected = [(h.owner, h.integrated, h.integrated_max, h.controls, h.may_control) for h in builder.owners("b", DAY)]
    built = builder.projection().view(DAY)
    assert built.inverses and built.inverses_built and built.may_control is not None and "upper" in built.bounds
    assert builder.publish() == tmp_store.revision()
    view = builder.projection().view(DAY)
    assert view is not built and not view.W.data.flags.writeable  # mapped from the file
    for module, name in (("control", "_relation"), ("build", "_share_matrix"), ("linalg", "_is_singular")):
        monkeypatch.setattr(f"corpgraph.graph.projection.{module}.{name}", lambda *a, **k: pytest.fail(f"{name} again"))
    again = [(h.owner, h.integrated, h.integrated_max, h.controls, h.may_control) for h in builder.owners("b", DAY)]
    assert again == expected
    assert view.inverses.keys() == built.inverses.keys() and view.may_control is built.may_control


def test_a_view_published_before_at_the_revision_stays_mapped_from_that_file(tmp_store: SqliteStore,
                                                                               tmp_path: Path) -> None:
    """The builder publishes DAY's view, then LATER's at the same revision: DAY's view stays the one it mapped from
    the first file, which a follower that took DAY maps too (mapped again from the second file, the follower's pages
    of it were its own: no other process mapped them); LATER's view is mapped from the second file."""
    _world(tmp_store)
    snapshots = Snapshots(tmp_path / "snaps", "x")
    builder = CorpGraph(tmp_store, snapshots=snapshots)
    builder.owners("b", DAY)
    assert builder.publish() == tmp_store.revision()
    first = builder.projection().view(DAY)
    assert not first.W.data.flags.writeable  # mapped from the first file
    builder.owners("b", LATER)
    assert builder.publish() == tmp_store.revision()
    assert builder.projection().view(DAY) is first
    assert not builder.projection().view(LATER).W.data.flags.writeable  # mapped from the second
    assert [h.owner for h in builder.owners("b", DAY)] == [h.owner for h in builder.owners("b", LATER)] == ["a", "c", "d"]
