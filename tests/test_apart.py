"""Full builds in a child process (graph.projection.apart): the facade maps what the child saved."""
from __future__ import annotations

from pathlib import Path

import pytest

from corpgraph.graph.projection.snapshot import Snapshots
from corpgraph.graph.service import Applied, CorpGraph
from corpgraph.graph.stores.base import Location
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection.apart import build_apart
from corpgraph.schema.errors import StoreError
from tests.factory import batch, company, owns


def test_a_full_build_apart_is_mapped_and_answers_as_one_built_here(tmp_store: SqliteStore, tmp_path: Path) -> None:
    ingest(tmp_store, batch(company("a"), company("b"), company("c"), owns("a", "b", 0.6), owns("b", "c", 0.5)))
    graph = CorpGraph(tmp_store, snapshots=Snapshots(tmp_path / "snaps", "k"), apart=True)
    # a holds 60% of b (control), b 50% of c (not more than half): a's integrated share in c is 0.6 x 0.5 = 0.3
    assert [(h.owner, h.direct, h.integrated, h.controls) for h in graph.owners("c")] == [
        ("b", 0.5, 0.5, False), ("a", 0.0, pytest.approx(0.3), False)]  # a holds no direct stake in c
    state = graph.live.current()
    assert state is not None and state.how.applied is Applied.FULL
    assert not state.projection.share.codes.flags.owndata  # mapped from the child's file, not built here
    graph.decide("a", "c", "different", "test")  # a decision: the change log cannot carry it, a full build
    state = graph.live.current()
    assert state is not None and state.how.applied is Applied.FULL and state.revision == tmp_store.revision()
    assert not state.projection.share.codes.flags.owndata
    assert graph.owners("c") == CorpGraph(tmp_store).owners("c")


def test_a_failed_build_apart_says_so(tmp_path: Path) -> None:
    nowhere = Location("no-such-store", str(tmp_path / "c.db"), "", None)  # the child cannot open it
    with pytest.raises(StoreError, match="child process failed"):
        build_apart(nowhere, Snapshots(tmp_path / "snaps", "k"))
