"""A per-edge column of few distinct values: a small code per edge into a table of the values, bit for bit.

Shares are percentages with a few decimals and validity dates are a few thousand days: three million edges hold
about ten thousand distinct shares and dates. Kept as a uint16 code per edge (uint8 under 257 values) into a
table of the distinct values, the share column costs 2 bytes an edge instead of float64's 8 and each date column
2 instead of int32's 4. The table holds each value's exact bits (NaN, -0.0 included): reading an edge gives the
very float the dense column held, so no computed answer changes.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from corpgraph.graph.projection.spare import appended, rewritten

_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # unsigned view of a value type, by item size


def code_type(values: int) -> type[np.unsignedinteger]:
    """The smallest unsigned type that numbers `values` table entries."""
    return np.uint8 if values <= 2**8 else np.uint16 if values <= 2**16 else np.uint32


class CodedColumn:
    """Read like a numpy array (`column[k]`, `column[edges]`, `len`, `.item(k)`): `table[codes[...]]`."""

    def __init__(self, codes: np.ndarray, table: np.ndarray) -> None:
        self.codes = codes  # code per edge (unsigned, the smallest type that numbers the table)
        self.table = table  # distinct values, in no particular order
        self.dtype = table.dtype
        self.size = int(codes.size)

    @classmethod
    def of(cls, dense: np.ndarray) -> "CodedColumn":
        """The coded form of a dense column (distinct by bits: NaN and -0.0 kept as they are)."""
        dense = np.ascontiguousarray(dense)
        raw = dense.view(_BITS[dense.dtype.itemsize])
        bits = np.unique(raw)  # a sort; searching it after is quicker than unique's return_inverse (an argsort)
        return cls(np.searchsorted(bits, raw).astype(code_type(bits.size)), bits.view(dense.dtype))

    def __len__(self) -> int:
        """Number of edges."""
        return self.size

    def __getitem__(self, key: Any) -> Any:
        """The value of one edge (a numpy scalar) or of many (an array of edges, a slice or a mask)."""
        return self.table[self.codes[key]]

    def item(self, edge: int) -> Any:
        """The value of one edge as a Python number."""
        return self.table.item(int(self.codes[edge]))

    def where(self, test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """A mask over the edges whose value passes `test` (a vectorised predicate, run on the table only)."""
        passed: np.ndarray = np.asarray(test(self.table), dtype=bool)[self.codes]
        return passed

    def dense(self) -> np.ndarray:
        """The whole column as an array."""
        found: np.ndarray = self.table[self.codes]
        return found

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole column, for numpy functions given the column itself (np.isnan, np.array_equal)."""
        found = self.dense()
        return found if dtype is None else found.astype(dtype)

    def tolist(self) -> list[Any]:
        """Every edge's value as a Python number."""
        values: list[Any] = self.dense().tolist()
        return values

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return int(self.codes.nbytes + self.table.nbytes)

    def updated(self, at: np.ndarray, values: np.ndarray, tail: np.ndarray) -> "CodedColumn":
        """This column with `values` at edges `at` and `tail` appended (a delta, graph.projection.delta): new
        values join the table's end; the codes are appended in their spare capacity (graph.projection.spare) when
        no edge changes, else copied. The old column is left as it is, for the queries still reading it."""
        table, codes = self._with_values(np.concatenate((values, tail)).astype(self.dtype))
        kind = np.promote_types(self.codes.dtype, codes.dtype)  # a larger table may need wider codes
        old = self.codes if kind == self.codes.dtype else self.codes.astype(kind)
        if at.size == 0:
            return CodedColumn(appended(old, codes), table)
        return CodedColumn(rewritten(old, at, codes[:at.size], codes[at.size:]), table)

    def _with_values(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The table grown by the values it lacks (in order of first appearance), and the codes of the values."""
        kind = _BITS[self.dtype.itemsize]
        known, wanted = self.table.view(kind), values.view(kind)
        order = np.argsort(known, kind="stable")  # a delta's table grew at its end: no longer sorted
        at = np.minimum(np.searchsorted(known[order], wanted), max(known.size - 1, 0))
        found = known[order][at] == wanted if known.size else np.zeros(wanted.size, dtype=bool)
        fresh, first = np.unique(wanted[~found], return_index=True)
        fresh = fresh[np.argsort(first, kind="stable")]
        table = np.concatenate((self.table, fresh.view(self.dtype))) if fresh.size else self.table
        codes = np.empty(wanted.size, dtype=np.int64)
        codes[found] = order[at[found]]
        if fresh.size:
            codes[~found] = known.size + np.argsort(fresh)[np.searchsorted(np.sort(fresh), wanted[~found])]
        return table, codes.astype(code_type(table.size))
