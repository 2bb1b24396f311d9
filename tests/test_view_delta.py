"""patched_rows and the sorted-set and bit patches of graph.projection.view_delta against rebuilds from scratch.

Random compressed rows, random small writes (entries dropped, added, rewritten with other values, rows left as
they were, new rows past the last entry): the patched arrays must equal the rows rebuilt from their entries,
and an array no row changed must be the old one (shared, not copied). tests/test_delta.py compares whole
patched views with views built from scratch over random worlds.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from corpgraph.graph.projection.bits import Bits
from corpgraph.graph.projection.spare import appended
from corpgraph.graph.projection.view_delta import _grown_ptr, _swapped, patched_rows


def _rows_of(ptr: np.ndarray, keys: np.ndarray, values: np.ndarray) -> list[list[tuple[int, float]]]:
    """Each row's (key, value) entries, in order."""
    return [list(zip(keys[a:b].tolist(), values[a:b].tolist())) for a, b in zip(ptr[:-1].tolist(), ptr[1:].tolist())]


def _compressed(rows: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """indptr, keys and values of rows given as entry lists."""
    ptr = np.concatenate(([0], np.cumsum([len(r) for r in rows]))).astype(np.int32)
    keys = np.array([k for r in rows for k, _ in r], dtype=np.int32)
    values = np.array([v for r in rows for _, v in r], dtype=np.float64)
    return ptr, keys, values


@pytest.mark.parametrize("seed", range(40))
def test_patched_rows_equal_the_rows_rebuilt(seed: int) -> None:
    rng = random.Random(seed)
    n, grown = rng.randint(1, 12), rng.randint(0, 3)
    before = [[(k, float(rng.randint(1, 3))) for k in sorted(rng.sample(range(50), rng.randint(0, 4)))]
              for _ in range(n)]
    ptr, keys, values = _compressed(before)
    rows = sorted(rng.sample(range(n + grown), rng.randint(1, min(4, n + grown))))
    after = [list(r) for r in before] + [[] for _ in range(grown)]
    keep: list[bool] = []
    added: list[tuple[int, int, float]] = []  # (row, key, value)
    for row in rows:
        mask = [rng.random() < 0.7 for _ in after[row]]
        dropped = [k for (k, _), m in zip(after[row], mask) if not m]
        fresh = [(k, float(rng.randint(1, 3))) for k in sorted(rng.sample(range(50, 60), rng.randint(0, 2)))]
        again = [(k, float(rng.randint(1, 3))) for k in dropped if rng.random() < 0.6]  # maybe at the same value
        keep += mask
        added += [(row, k, v) for k, v in fresh + again]
        after[row] = sorted([e for e, m in zip(after[row], mask) if m] + fresh + again)
    out_ptr, (out_keys, out_values) = patched_rows(
        _grown_ptr(ptr, n + grown), (keys, values), np.array(rows, dtype=np.int64), np.array(keep, dtype=bool),
        np.array([r for r, _, _ in added], dtype=np.int64),
        (np.array([k for _, k, _ in added], dtype=np.int64), np.array([v for _, _, v in added])), key=0)
    assert _rows_of(out_ptr, out_keys, out_values) == after
    assert _rows_of(ptr, keys, values) == before  # the old arrays, still read by the older view, are untouched
    if after[:n] == before and not any(after[n:]):
        assert out_keys is keys and out_values is values  # nothing changed: shared, not copied


def test_a_row_written_as_it_was_is_shared_and_new_rows_are_appended() -> None:
    """Rows 0 and 1 hold keys 3 and 4; row 1 is written again as it was and a new row 2 gets key 7: the old
    entries stay where they were, the arrays are the old ones followed by the new entry, in their buffer."""
    ptr, keys, values = _compressed([[(3, 0.5)], [(4, 0.25)]])
    ptr, keys, values = _grown_ptr(ptr, 2), appended(keys[:0], keys), appended(values[:0], values)  # with spare room
    out_ptr, (out_keys, out_values) = patched_rows(
        _grown_ptr(ptr, 3), (keys, values), np.array([1, 2]), np.array([False]), np.array([1, 2]),
        (np.array([4, 7]), np.array([0.25, 0.75])), key=0)
    assert out_ptr.tolist() == [0, 1, 2, 3]
    assert out_keys.tolist() == [3, 4, 7] and out_values.tolist() == [0.5, 0.25, 0.75]
    assert np.shares_memory(out_keys, keys) and np.shares_memory(out_values, values)  # appended, not spliced
    assert keys.tolist() == [3, 4] and values.tolist() == [0.5, 0.25]


@pytest.mark.parametrize("seed", range(20))
def test_swapped_and_written_bits_equal_the_sets_rebuilt(seed: int) -> None:
    rng = np.random.default_rng(seed)
    old = np.unique(rng.integers(0, 40, rng.integers(0, 15))).astype(np.int64)
    out, add = rng.integers(0, 40, rng.integers(0, 5)), rng.integers(0, 40, rng.integers(0, 5))
    assert _swapped(old, np.unique(out), add).tolist() == sorted((set(old.tolist()) - set(out.tolist())) | set(add.tolist()))
    flags = rng.random(int(rng.integers(1, 30))) < 0.5
    size = flags.size + int(rng.integers(0, 10))
    at, to = rng.integers(0, size, rng.integers(0, 12)), rng.random(12) < 0.5
    dense = np.concatenate((flags, np.zeros(size - flags.size, dtype=bool)))
    dense[at] = to[:at.size]  # numpy writes repeated indices in order: the last one wins
    assert Bits.of(flags).written(size, at, to[:at.size]).dense().tolist() == dense.tolist()
