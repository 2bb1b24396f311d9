"""Property: integrated ownership (sparse solves) equals brute-force walk sums on small random graphs."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import cast

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from corpgraph.graph.analytics import ownership
from corpgraph.graph.projection import linalg
from corpgraph.graph.projection.build import AsOfView, build_projection
from corpgraph.graph.stores.base import EdgeRow, GraphStore
from corpgraph.schema.kinds import RelationType

AS_OF = date(2024, 1, 1)


class _Edges:
    """The two store calls build_projection makes, over an in-memory edge list (no database per example)."""

    def __init__(self, shares: np.ndarray) -> None:
        self.rows = [EdgeRow(f"OWNS|n{i}|n{j}|", RelationType.OWNS, f"n{i}", f"n{j}", float(shares[i, j]), None, None,
                             None) for i, j in zip(*np.nonzero(shares))]

    def iter_edges(self, types: Sequence[RelationType], page_size: int = 50_000) -> Iterator[list[EdgeRow]]:
        """One page holding every edge."""
        yield self.rows

    def revision(self) -> int:
        """Never changes."""
        return 0


@st.composite
def share_matrices(draw: st.DrawFn, cyclic: bool) -> np.ndarray:
    """W for 2..6 nodes; each company's owners hold at most 90% of it, so every walk sum converges."""
    n = draw(st.integers(2, 6))
    cells = st.one_of(st.just(0.0), st.floats(0.05, 1.0))
    raw = np.array(draw(st.lists(cells, min_size=n * n, max_size=n * n))).reshape(n, n)
    np.fill_diagonal(raw, 0.0)
    if not cyclic:
        raw = np.triu(raw)  # owner index < company index: no cycles
    totals = np.array(draw(st.lists(st.floats(0.1, 0.9), min_size=n, max_size=n)))
    sums = raw.sum(axis=0)
    scaled: np.ndarray = raw * np.divide(totals, sums, out=np.zeros(n), where=sums > 0)
    return scaled


def _simple_path_sum(w: np.ndarray, x: int, y: int) -> float:
    """Sum over every path x -> y of the product of shares, by explicit enumeration (acyclic graphs)."""
    if x == y:
        return 1.0
    return float(sum(w[x, k] * _simple_path_sum(w, int(k), y) for k in np.flatnonzero(w[x])))


def _walk_sum(w: np.ndarray, x: int, y: int, steps: int = 600) -> float:
    """Sum over walks x -> y that never return to x, grouped by length (each length k: e_x W' ... W')."""
    no_return = w.copy()
    no_return[:, x] = 0.0  # a walk may leave x but never come back through it
    reach, total = w[x].copy(), 0.0
    for _ in range(steps):  # column sums <= 0.9: what is left after 600 steps is below 0.9**600
        total += reach[y]
        reach = reach @ no_return
    return total


Brute = Callable[[np.ndarray, int, int], float]  # x's share of y by enumeration


def _check(w: np.ndarray, brute: Brute) -> None:
    """Compare every pair through each of the three solves."""
    saved = linalg._SMALL, linalg._WHOLE
    try:  # dense on small blocks; sparse on the block alone (_WHOLE 0); on the whole graph (_WHOLE 10**9)
        for small, whole in ((saved[0], saved[1]), (0, 0), (0, 10**9)):
            linalg._SMALL, linalg._WHOLE = small, whole
            _check_pairs(w, brute)
    finally:
        linalg._SMALL, linalg._WHOLE = saved


def _check_pairs(w: np.ndarray, brute: Brute) -> None:
    """Compare every pair, through the owner-side solve and the company-side solve."""
    proj = build_projection(cast(GraphStore, _Edges(w)))  # only the two calls a build makes
    view: AsOfView = proj.view(AS_OF)
    n = w.shape[0]
    for x in range(n):
        node = proj.index.get(f"n{x}")
        held = ownership.row(view, node) if node is not None else None
        for y in range(n):
            if x == y:
                continue
            expected = brute(w, x, y)
            target = proj.index.get(f"n{y}")
            got_row = held.value(target) if held is not None and target is not None else 0.0
            got_col = ownership.column(view, target).value(node) if target is not None and node is not None else 0.0
            assert np.isclose(got_row, expected, atol=1e-9), (x, y, got_row, expected)
            assert np.isclose(got_col, expected, atol=1e-9), (x, y, got_col, expected)


@settings(max_examples=60, deadline=None)
@given(share_matrices(cyclic=False))
def test_acyclic_integrated_equals_the_sum_over_paths(w: np.ndarray) -> None:
    _check(w, _simple_path_sum)


@settings(max_examples=60, deadline=None)
@given(share_matrices(cyclic=True))
def test_cyclic_integrated_equals_the_sum_over_walks_not_returning_to_the_owner(w: np.ndarray) -> None:
    _check(w, _walk_sum)
