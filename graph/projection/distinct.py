"""The distinct values of an integer array, sorted: what np.unique answers, by one sort instead of a hash table.

numpy 2.3 and later answer a plain np.unique of integers through a hash table, then sort what is left: on this
machine 3.1 ms for 30k node indices and 444 ms for 300k, against 0.55 ms and 23 ms for a sort and a comparison
of neighbours. A breadth-first search of the largest holder of a 1M world dedupes one frontier per level.
Integers only: NaN is never equal to itself, so np.unique's folding of NaNs is not reproduced.
"""
from __future__ import annotations

import numpy as np


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, sorted (np.unique's answer and dtype). Example: [3, 1, 3] -> [1, 3]."""
    ordered = np.sort(np.asarray(values).ravel())
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    out: np.ndarray = ordered[keep]
    return out
