"""Per-node arrays with spare capacity (graph.projection.spare): appends share the buffer only while nobody else has."""
from __future__ import annotations

import numpy as np

from corpgraph.graph.projection.spare import appended, rewritten, spare_empty


def test_an_append_writes_past_the_end_and_leaves_the_old_array_as_it_was() -> None:
    old = appended(np.array([4, 5, 6]), np.array([7]))
    new = appended(old, np.array([8, 9]))
    assert new.tolist() == [4, 5, 6, 7, 8, 9]
    assert old.tolist() == [4, 5, 6, 7]
    assert np.shares_memory(old, new)  # the append copied nothing


def test_a_second_append_to_the_same_array_copies_rather_than_overwrite_the_first() -> None:
    old = appended(np.array([1, 2]), np.array([3]))
    first = appended(old, np.array([10]))
    second = appended(old, np.array([20, 30]))
    assert first.tolist() == [1, 2, 3, 10]
    assert second.tolist() == [1, 2, 3, 20, 30]
    assert not np.shares_memory(first, second)


def test_appending_nothing_or_to_a_plain_array_gives_the_values_in_its_dtype() -> None:
    plain = np.array([1, 2], dtype=np.int32)
    assert appended(plain, np.zeros(0, dtype=np.int64)) is plain
    grown = appended(plain, np.array([3], dtype=np.int64))
    assert grown.dtype == np.int32 and grown.tolist() == [1, 2, 3]
    assert spare_empty(5, np.float64).size == 5


def test_rewritten_copies_with_the_values_in_place_and_the_tail_after() -> None:
    old = np.array([0.5, 0.25, 0.125])
    new = rewritten(old, np.array([1]), np.array([0.75]), np.array([1.0]))
    assert new.tolist() == [0.5, 0.75, 0.125, 1.0] and old.tolist() == [0.5, 0.25, 0.125]
    assert appended(new, np.array([2.0])).tolist() == [0.5, 0.75, 0.125, 1.0, 2.0]
