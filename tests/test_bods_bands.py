"""BODS exclusive bands give control (issue 20, item 4): every reading of "more than 50%" is a majority.

The UK band `{minimum: 50, maximum: 75, exclusiveMinimum: true}` (0.3) reads 50% < share <= 75%... and
with 0.3's default exclusiveMaximum: true, < 75%. Its infimum 0.5 is kept as share_min with
share_min_exclusive, so `integratedMin` stays 0.5 while `controls` is true (was: only mayControl).
The same for voting rights, and for 0.4's numeric exclusiveMinimum.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.validate import load_file
from tests.test_bods import company4, native, v3, v3_owns, v4, write

BAND = {"minimum": 50, "maximum": 75, "exclusiveMinimum": True}


def test_the_more_than_half_band_is_exclusive_in_the_range_model(tmp_path: Path) -> None:
    path = write(tmp_path / "band.json", [v3("e1", "entity", name="Target"), v3("p1", "person", names=[{"fullName": "Ann"}]),
                                          v3_owns("o1", "e1", "p1", {"type": "shareholding", "share": BAND})])
    (owns,) = [r for r in native(path) if "source" in r]
    assert (owns["share_min"], owns["share_min_exclusive"], owns["share_max"], owns["share_max_exclusive"]) == (
        0.5, True, 0.75, True)


@pytest.mark.parametrize("interest", ["shareholding", "voting-rights"])
def test_a_more_than_half_band_gives_control(interest: str, tmp_path: Path, tmp_store: SqliteStore) -> None:
    path = write(tmp_path / "band.json", [v3("e1", "entity", name="Target"), v3("e2", "entity", name="Holder"),
                                          v3_owns("o1", "e1", "e2", {"type": interest, "share": BAND})])
    ingest(tmp_store, load_file(path))
    graph = CorpGraph(tmp_store)
    (holding,) = graph.owners("bods:e1") if interest == "shareholding" else [
        h for h in graph.owners("bods:e1") if h.owner == "bods:e2"]
    assert holding.controls and holding.may_control
    if interest == "shareholding":
        assert holding.integrated_min == pytest.approx(0.5)  # the infimum, shown as it is
    assert graph.controlling_parent("bods:e1") == "bods:e2"


def holding_of_b(tmp_path: Path, store: SqliteStore, share: dict[str, float]):  # type: ignore[no-untyped-def]
    """B's holding in A after loading a BODS 0.4 relationship with this share object."""
    path = write(tmp_path / "r4.json", [company4("A", "A"), company4("B", "B"), v4("s1", "rel", "relationship", {
        "subject": "A", "interestedParty": "B", "interests": [{"type": "shareholding", "share": share}]})])
    ingest(store, load_file(path))
    (holding,) = CorpGraph(store).owners("bods:A")
    return holding


def test_an_inclusive_half_still_does_not_control(tmp_path: Path, tmp_store: SqliteStore) -> None:
    # 0.4: minimum 50 (inclusive): a reading of exactly 50% is no majority; only mayControl.
    holding = holding_of_b(tmp_path, tmp_store, {"minimum": 50, "maximum": 75})
    assert not holding.controls and holding.may_control


def test_0_4_numeric_exclusive_minimum_gives_control(tmp_path: Path, tmp_store: SqliteStore) -> None:
    assert holding_of_b(tmp_path, tmp_store, {"exclusiveMinimum": 50, "maximum": 75}).controls
