"""PackedStrings behaves like the list of strings it packs."""
from __future__ import annotations

from typing import cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpgraph.graph.projection.packed import PackedStrings, position


@given(st.lists(st.text(max_size=12), max_size=30))
def test_packed_strings_equal_the_list(strings: list[str]) -> None:
    packed = PackedStrings(strings)
    assert len(packed) == len(strings)
    assert list(packed) == strings
    for i, s in enumerate(strings):
        assert packed[cast(int, np.int64(i))] == s  # a numpy integer, as an index array gives
        assert packed[i - len(strings)] == s


def test_out_of_range_is_an_index_error() -> None:
    with pytest.raises(IndexError):
        PackedStrings(["a"])[1]
    with pytest.raises(IndexError):
        PackedStrings([])[0]


def test_a_position_counts_negative_indices_from_the_end_and_refuses_the_rest() -> None:
    # 3 items: 0..2, and -1..-3 for 2..0 (as a list); 3 and -4 are outside; a numpy integer is an index too
    assert [position(i, 3) for i in (0, 2, -1, -3, np.int64(1))] == [0, 2, 2, 0, 1]
    for outside in (3, -4):
        with pytest.raises(IndexError):
            position(outside, 3)
