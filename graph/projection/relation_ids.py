"""Relation ids of the projection's edges, derived on demand from the edge columns instead of kept as text.

A relation id is `type|source|target` followed by its key properties (schema.declaration.RelationSpec):
`OWNS|a|b|2019-06-30`. The projection already holds the type, the endpoints, valid_from, the interest kind
and the incident of every edge, so most ids are rebuilt from those columns when asked for; a million-company
projection then keeps no text per edge (three million ids held ~120 MB as str, ~60 MB packed).

What the columns cannot give is kept beside them, for the few edges that need it (checked when built, so an
id read back is always the stored one):
- the key text of keys the projection has no column for (RESPONSIBLE_FOR's role, DEPENDS_ON's service), or
  any key that does not read back from the columns: one code per such edge into a table of distinct texts;
- whole ids that do not start with the edge's own `type|source|target` (a relation merged by identity keeps
  the id of the statement chosen, whose endpoints may be referents of the canonical ids the edge now has).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from operator import eq

import numpy as np

from corpgraph.schema.declaration import ANALYTIC_RELATIONS, RELATIONS

from corpgraph.graph.projection.coded_column import CodedColumn
from corpgraph.graph.projection.nodeids import NodeIds
from corpgraph.graph.projection.packed import PackedStrings, position
from corpgraph.graph.projection.sparse_column import SparseColumn

_EPOCH = date(1970, 1, 1)
_KEYS = [RELATIONS[t].key for t in ANALYTIC_RELATIONS]  # key properties per type code
_NAMES = [t.value for t in ANALYTIC_RELATIONS]
_BY_DATE = ("valid_from",)
_DATE_KEYED = np.array([keys == _BY_DATE for keys in _KEYS])  # per type code: keyed by valid_from alone


@lru_cache(maxsize=1 << 16)  # a world has a few thousand distinct dates
def iso_day(day: int) -> str:
    """The ISO date of a day number (days since 1970-01-01), as a relation id writes it."""
    return (_EPOCH + timedelta(days=day)).isoformat()


@dataclass(frozen=True)
class EdgeColumns:
    """The projection columns a relation id is derived from (shared with the projection, never copied)."""

    ids: NodeIds
    type: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    valid_from: CodedColumn | np.ndarray  # the projection's coded column, or a few edges' days (a delta's new edges)
    incident: SparseColumn
    kind: SparseColumn
    kinds: Sequence[str]
    always: int  # valid_from of an edge with no start date

    def key_value(self, name: str, edge: int) -> str:
        """The text a key property of an edge has in its relation id, read from the columns ("" when absent)."""
        if name == "valid_from":
            day = self.valid_from.item(edge)
            return "" if day == self.always else iso_day(day)
        if name == "kind":
            code = int(self.kind[edge])
            return "" if code < 0 else self.kinds[code]
        if name == "incident":
            node = int(self.incident[edge])
            return "" if node < 0 else self.ids[node]
        return ""  # no column (role, service): kept in the key table

    def derived(self, edge: int, code: int, key: str | None = None) -> str:
        """The relation id of an edge of type `code` from the columns (with `key` as its key text when given)."""
        head = f"{_NAMES[code]}|{self.ids[self.src.item(edge)]}|{self.ids[self.dst.item(edge)]}"
        names = _KEYS[code]
        if not names:
            return head
        if key is None:
            if names == _BY_DATE:  # OWNS: nearly every edge
                day = self.valid_from.item(edge)
                return f"{head}|{'' if day == self.always else iso_day(day)}"
            key = "|".join([self.key_value(name, edge) for name in names])
        return f"{head}|{key}"


@dataclass(frozen=True)
class RelationIds:
    """One relation id per edge, read like a list of str (`ids[edge]`, `len`, iteration)."""

    columns: EdgeColumns
    keyed: np.ndarray  # edges (sorted) whose key text is in `key_codes`, not read from the columns
    key_codes: np.ndarray  # code into `keys` per edge of `keyed`
    keys: tuple[str, ...]
    whole: np.ndarray  # edges (sorted) whose id is kept whole, in `whole_ids`
    whole_ids: PackedStrings
    keyed_types: frozenset[int] = field(init=False)  # type codes with an edge in `keyed`: only they search it

    def __post_init__(self) -> None:
        """Note which types have key texts kept (the others never search for one)."""
        object.__setattr__(self, "keyed_types", frozenset(np.unique(self.columns.type[self.keyed]).tolist()))

    @classmethod
    def build(cls, columns: EdgeColumns, rel_ids: Sequence[str], sources: Sequence[str], targets: Sequence[str],
              starts: Sequence[str | None], day_of: Callable[[str], int]) -> "RelationIds":
        """Check every given id against its columns and keep what they cannot give.

        `sources`, `targets` and `starts` are the edges' endpoint ids and valid_from as read (parallel to
        `rel_ids`, same order as the columns); `day_of` turns a valid_from text into its day number.
        """
        dates: dict[str | None, str] = {s: iso_day(day_of(s)) for s in dict.fromkeys(starts) if s is not None}
        dates[None] = ""  # few distinct dates; no start date: an empty key
        keyed: list[int] = []
        key_text: list[str] = []
        whole: list[int] = []
        whole_ids: list[str] = []
        types = columns.type.tolist()
        # OWNS, nearly every edge, is keyed by its date alone: its id is compared with `type|source|target|date`
        # as the columns read it in one pass in C (a map over the columns, no Python code per edge; the loop
        # below took 2.2 of 7.3 s of a 640k-relation build, cProfile); only the other edges take the loop
        expected = map("|".join, zip(map(_NAMES.__getitem__, types), sources, targets, map(dates.__getitem__, starts)))
        same = np.fromiter(map(eq, rel_ids, expected), bool, len(rel_ids))
        for k in np.flatnonzero(~(same & _DATE_KEYED[columns.type])).tolist():
            rid, code, s, t = rel_ids[k], types[k], sources[k], targets[k]
            names = _KEYS[code]
            head = f"{_NAMES[code]}|{s}|{t}"
            if not names:
                if rid != head:
                    whole.append(k)
                    whole_ids.append(rid)
                continue
            if not rid.startswith(head + "|"):
                whole.append(k)
                whole_ids.append(rid)
                continue
            key = rid[len(head) + 1:]
            if key != "|".join(columns.key_value(name, k) for name in names):
                keyed.append(k)
                key_text.append(key)
        table = {text: code for code, text in enumerate(dict.fromkeys(key_text))}
        return cls(columns, np.array(keyed, dtype=np.int32), np.array([table[t] for t in key_text], dtype=np.int32),
                   tuple(table), np.array(whole, dtype=np.int32), PackedStrings(whole_ids))

    def __len__(self) -> int:
        """Number of edges."""
        return int(self.columns.type.size)

    def __getitem__(self, edge: int) -> str:
        """The relation id of an edge (numpy integers accepted)."""
        at = position(edge, len(self))
        if self.whole.size:
            found = _find(self.whole, at)
            if found >= 0:
                return self.whole_ids[found]
        code = self.columns.type.item(at)
        found = _find(self.keyed, at) if code in self.keyed_types else -1
        return self.columns.derived(at, code, self.keys[self.key_codes.item(found)] if found >= 0 else None)

    def __iter__(self) -> Iterator[str]:
        """Every relation id in edge order."""
        return (self[k] for k in range(len(self)))

    @property
    def nbytes(self) -> int:
        """Bytes held besides the shared columns: the key table and the whole ids."""
        return (int(self.keyed.nbytes + self.key_codes.nbytes + self.whole.nbytes) + sum(len(k) + 49 for k in self.keys)
                + int(self.whole_ids.buffer.nbytes + self.whole_ids.offsets.nbytes))


def _find(sorted_edges: np.ndarray, edge: int) -> int:
    """Position of an edge in a sorted edge array, -1 when absent."""
    if sorted_edges.size == 0:
        return -1
    at = int(sorted_edges.searchsorted(sorted_edges.dtype.type(edge)))  # a Python int would copy the array to int64
    return at if at < sorted_edges.size and sorted_edges.item(at) == edge else -1
