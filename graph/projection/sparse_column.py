"""A per-edge integer column that holds one value on nearly every edge: only the other edges are stored.

The projection's incident column (only SUPPLIED_DATA_TO edges name one) and interest kind (only CONTROLS
and DECLARED_INTEREST) are -1 on ~95% of three million edges; stored sparse they cost bytes per edge that
has a value, not per edge of the graph.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class SparseColumn:
    """Read like a numpy array (`column[k]`, `column[edges]`, `len`); `default` wherever nothing is stored."""

    def __init__(self, size: int, at: np.ndarray, values: np.ndarray, default: int = -1) -> None:
        self.size = size
        self.at = at  # edges holding another value than default, sorted
        self.values = values
        self.default = default
        self.dtype = values.dtype

    @classmethod
    def of(cls, dense: np.ndarray, default: int = -1) -> "SparseColumn":
        """The sparse form of a dense column."""
        at = np.flatnonzero(dense != default)
        return cls(dense.size, at.astype(np.int32 if dense.size < 2**31 else np.int64), dense[at].copy(), default)

    def __len__(self) -> int:
        """Number of edges."""
        return self.size

    def __getitem__(self, key: Any) -> Any:
        """The value of one edge (an integer) or of many (an array of edges, a slice or a mask)."""
        if isinstance(key, (int, np.integer)):
            return self.dense_of(np.array([int(key) + self.size if key < 0 else int(key)]))[0]
        if isinstance(key, slice):
            return self.dense_of(np.arange(self.size)[key])
        edges = np.asarray(key)
        return self.dense_of(np.flatnonzero(edges) if edges.dtype == bool else edges)

    def dense_of(self, edges: np.ndarray) -> np.ndarray:
        """The values of the given edges."""
        edges = np.asarray(edges)
        if edges.size and (edges.min() < 0 or edges.max() >= self.size):
            raise IndexError("edge index out of range")
        out = np.full(edges.shape, self.default, dtype=self.dtype)
        if self.at.size:
            pos = np.minimum(self.at.searchsorted(edges.astype(self.at.dtype)), self.at.size - 1)  # same dtype: no copy of `at`
            hit = self.at[pos] == edges
            out[hit] = self.values[pos[hit]]
        return out

    def dense(self) -> np.ndarray:
        """The whole column as an array."""
        out = np.full(self.size, self.default, dtype=self.dtype)
        out[self.at] = self.values
        return out

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return int(self.at.nbytes + self.values.nbytes)
