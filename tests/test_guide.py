"""The path guide (graph.analytics.paths.Guide): a small block's guide, made in Python floats, is the numpy guide."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from corpgraph.graph.analytics import paths as paths_module
from corpgraph.graph.analytics.paths import Guide, PathFinder
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from tests.factory import companies_owning


@pytest.mark.parametrize("into_anchor", [True, False])
def test_a_small_block_guide_is_the_numpy_guide(tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                                                into_anchor: bool) -> None:
    # X holds 50% of A, 40% of B and 5% of R; A holds 40% of R and 50% of B; B holds 40% of R
    ingest(tmp_store, companies_owning(("x", "a", 0.5), ("x", "b", 0.4), ("x", "r", 0.05), ("a", "r", 0.4),
                                       ("a", "b", 0.5), ("b", "r", 0.4)))
    proj = CorpGraph(tmp_store).projection()
    view = proj.view(date(2024, 1, 1))
    x, r = proj.index["x"], proj.index["r"]
    anchor, other = (r, x) if into_anchor else (x, r)
    finder = PathFinder(view, anchor, max_depth=6, into_anchor=into_anchor)
    few = Guide(finder, finder.near)  # 4 nodes: made in Python floats
    at = int(np.searchsorted(finder.near, other))
    # the best product between X and R within h hops, by hand: none in 0 hops, X-R 0.05 in 1, X-A-R 0.5 x 0.4 in 2
    # and in 3 (X-A-B-R is 0.1)
    assert [row[at] for row in few.best[:4]] == [0.0, 0.05, 0.5 * 0.4, 0.5 * 0.4]
    monkeypatch.setattr(paths_module, "_FEW_NODES", 0)  # the numpy rounds of larger blocks
    rounds = Guide(finder, finder.near)
    for name in ("indptr", "nbr", "edge", "rank", "w", "best", "anchor"):
        assert repr(getattr(few, name)) == repr(getattr(rounds, name))
    found = few.search(other, 4)[0]
    assert found == rounds.search(other, 4)[0] and len(found) == 4  # X-A-R, X-B-R, X-A-B-R, X-R
