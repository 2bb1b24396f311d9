"""PackedStrings behaves like the list of strings it packs."""
from __future__ import annotations

from typing import cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpgraph.graph.projection.packed import PackedStrings


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
