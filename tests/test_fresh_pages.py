"""Large arrays a delta copies (graph.projection.fresh_pages): in anonymous pages of their own, off numpy's huge pages."""
from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

from corpgraph.graph.projection import fresh_pages
from corpgraph.graph.projection.fresh_pages import LARGE, fresh_empty
from corpgraph.graph.projection.view_delta import patched_rows

_THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _mapping_of(array: np.ndarray) -> mmap.mmap | None:
    """The anonymous mapping an array lies in, if fresh_empty made it."""
    base = array.base
    return base.obj if isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap) else None


def _thp_eligible(array: np.ndarray) -> bool:
    """Whether the kernel may back the array's middle page with a huge page (/proc/self/smaps' THPeligible; numpy
    advises the 2 MB-aligned part of an allocation only)."""
    address = array.__array_interface__["data"][0] + array.nbytes // 2
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and all(c in "0123456789abcdef-" for c in head):
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= address < end
        elif inside and line.startswith("THPeligible:"):
            return line.split()[1] == "1"
    raise AssertionError("no mapping holds the array")


def test_a_large_array_gets_a_writable_mapping_of_its_own_and_a_small_one_numpy_memory() -> None:
    large = fresh_empty(LARGE // 8, np.float64)
    large[:] = 0.5
    assert large.size == LARGE // 8 and large.dtype == np.float64 and float(large.sum()) == LARGE // 16
    assert _mapping_of(large) is not None and len(_mapping_of(large)) == LARGE  # type: ignore[arg-type]
    small = fresh_empty(10, np.int32)
    assert small.size == 10 and small.dtype == np.int32 and _mapping_of(small) is None


@pytest.mark.skipif(not _THP.exists() or "[madvise]" not in _THP.read_text(),
                    reason="huge pages only where advised: what numpy advises and fresh_empty does not")
def test_a_fresh_array_is_not_advised_onto_huge_pages_where_numpy_is() -> None:
    size = 8 * LARGE // 8  # 8 MB: numpy advises huge pages from 4 MB
    ours, numpys = fresh_empty(size, np.float64), np.empty(size, dtype=np.float64)
    ours[:], numpys[:] = 1.0, 1.0
    assert _thp_eligible(numpys)  # what made a delta's copies slow (see the module)
    assert not _thp_eligible(ours)


def test_a_spliced_row_is_copied_into_fresh_pages_and_the_old_arrays_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row 0 holds key 3 (0.5), row 1 key 4 (0.25); key 5 (0.75) added to row 0: keys 3, 5, 4 with row starts
    0, 2, 3; the copies lie in mappings of their own (every size counts as large here)."""
    monkeypatch.setattr(fresh_pages, "LARGE", 0)
    ptr, keys, values = np.array([0, 1, 2]), np.array([3, 4], dtype=np.int32), np.array([0.5, 0.25])
    out_ptr, (out_keys, out_values) = patched_rows(ptr, (keys, values), np.array([0]), np.array([True]),
                                                   np.array([0]), (np.array([5]), np.array([0.75])), key=0)
    assert out_ptr.tolist() == [0, 2, 3] and out_keys.tolist() == [3, 5, 4] and out_values.tolist() == [0.5, 0.75, 0.25]
    assert out_keys.dtype == np.int32 and _mapping_of(out_keys) is not None and _mapping_of(out_values) is not None
    assert keys.tolist() == [3, 4] and values.tolist() == [0.5, 0.25]
