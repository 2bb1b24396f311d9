"""Per-node arrays with spare capacity: appending a few nodes' entries costs those entries, not a copy of all.

A delta adds a few nodes to graphs of millions; every per-node array of a view (indptr, component labels,
ranks, ...) then grows by those few. An array made here is a prefix of a larger buffer, and appending writes
past its end in that same buffer when nobody has claimed the space yet (the buffer remembers how much of it is
in use). The old array, still read by the older state's queries, sees nothing change: its prefix is never
written again. A second append to the same old array (the space is taken) copies into a new buffer instead.
Callers must treat these arrays as read-only, as they treat every array a view shares with its predecessor.
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from corpgraph.graph.projection.fresh_pages import fresh_empty

SPARE = 8  # a new buffer holds 1/SPARE more than asked for, so ~1/SPARE of the nodes are added before a copy
_MIN_SPARE = 1024
_lock = threading.RLock()  # re-entrant: a buffer freed by the collector while held is forgotten under it
_used: dict[int, int] = {}  # id(buffer) -> entries in use; an entry lives as long as its buffer


def appended(array: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """`array` followed by `tail` (cast to array's dtype), in array's buffer when it has room past array's end."""
    k = int(tail.size)
    if k == 0:
        return array
    n = int(array.size)
    base = array.base
    with _lock:
        if (isinstance(base, np.ndarray) and _used.get(id(base)) == n and base.size >= n + k
                and base.ndim == 1 and array.ndim == 1 and array.dtype == base.dtype
                and array.__array_interface__["data"][0] == base.__array_interface__["data"][0]
                and array.strides == base.strides):
            base[n:n + k] = tail
            _used[id(base)] = n + k
            return base[:n + k]
    out = spare_empty(n + k, array.dtype)
    out[:n] = array
    out[n:] = tail
    return out


def rewritten(array: np.ndarray, at: np.ndarray, values: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """A copy of `array` with `values` at positions `at`, followed by `tail`, with spare capacity for `appended`."""
    n = int(array.size)
    out = spare_empty(n + int(tail.size), array.dtype)
    out[:n] = array
    out[at] = values
    out[n:] = tail
    return out


def spare_empty(size: int, dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised array of `size` entries with spare capacity behind it, for `appended`."""
    buffer = fresh_empty(size + max(_MIN_SPARE, size // SPARE), dtype, populate=False)  # the spare: untouched
    with _lock:
        _used[id(buffer)] = size
    weakref.finalize(buffer, _forget, id(buffer))
    return buffer[:size]


def _forget(key: int) -> None:
    """Drop a dead buffer's record (its id may be reused by another object)."""
    with _lock:
        _used.pop(key, None)
