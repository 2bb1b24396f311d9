"""The ids a streamed load's file has defined so far (graph.stores.sqlite_stream): each id's type and whether it is
a placeholder the file made, on sorted runs of numpy arrays of hashed ids (graph.stores.id_hashes, Runs) instead of a
TEMP table.

A batch's lookups and updates are a few sorts and searches over arrays, 18 bytes an id (22 MB at 1M companies),
where the TEMP table cost a B-tree insert and an IN-list read per id. Each id is kept by its first hash with its
second hash beside it: a lookup finds an id only when both agree, so an id the file has not defined is never taken
for one it has (it is then looked up by its text, in the store, as before); two ids the file defines that share a
first hash cannot both be kept, and the load is refused, nothing written (about one chance in 10^7 at ten million
ids; loading again hashes with a new seed unless PYTHONHASHSEED is fixed).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.errors import InvalidInput, Problem
from corpgraph.schema.kinds import EntityType

from corpgraph.graph.stores.id_hashes import ENTITY_KINDS, I64, check_hashes, collision, hashes

ENTITY_CODES = {kind: code for code, kind in enumerate(ENTITY_KINDS)}
_COLLISION = collision("ids", "the load's checks", "nothing was loaded; load the file again")


class Found:
    """Where a list of ids stands among the file's: `hit` where the file defines the id, its type code and whether
    it is a placeholder the file made (meaningful where `hit`)."""

    __slots__ = ("hit", "code", "placeholder")

    def __init__(self, hit: NDArray[np.bool_], code: NDArray[np.int8], placeholder: NDArray[np.bool_]) -> None:
        self.hit, self.code, self.placeholder = hit, code, placeholder

    def real(self) -> NDArray[np.bool_]:
        """Where the file defines the id by a real record (its type settled, as far as the file goes)."""
        out: NDArray[np.bool_] = self.hit & ~self.placeholder
        return out


class Runs:
    """Distinct int64 keys, each with values in columns beside it, as sorted runs: a batch's new keys become a run of
    their own, merged with the run before it while that one holds at most twice as many (so each run is more than
    twice the next: about log2(keys / batch) runs, and a key is merged about as often). Adding a batch costs its own
    size times that log, amortised, where keeping one sorted array (np.insert) copied every key held at each batch:
    quadratic in the file's size."""

    def __init__(self, *dtypes: type[np.generic]) -> None:
        self._dtypes = dtypes
        self._runs: list[list[NDArray[Any]]] = []  # each: the sorted keys, then one array a column

    def find(self, keys: I64) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """For each key, the run holding it (-1 where none does) and its place there."""
        order = np.argsort(keys)
        wanted = keys[order]  # searched in order, each search starts where the last one ended: a third of the time
        run, at = np.full(len(keys), -1, np.intp), np.zeros(len(keys), np.intp)
        for number, (held, *_) in enumerate(self._runs):
            place = np.minimum(np.searchsorted(held, wanted), len(held) - 1)
            hit = held[place] == wanted
            run[order[hit]], at[order[hit]] = number, place[hit]
        return run, at

    def column(self, index: int, run: NDArray[np.intp], at: NDArray[np.intp]) -> NDArray[Any]:
        """Column `index`'s values at the places `find` gave (zero where run is -1)."""
        out = np.zeros(len(run), self._dtypes[index])
        for number, columns in enumerate(self._runs):
            mine = run == number
            out[mine] = columns[index + 1][at[mine]]
        return out

    def assign(self, index: int, run: NDArray[np.intp], at: NDArray[np.intp], values: NDArray[Any]) -> None:
        """Set column `index` at the places `find` gave (every run a key's, none -1)."""
        for number, columns in enumerate(self._runs):
            mine = run == number
            columns[index + 1][at[mine]] = values[mine]

    def add(self, keys: I64, *columns: NDArray[Any]) -> None:
        """Hold new keys (distinct, none held yet), in any order, with their columns' values."""
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        self._runs.append([keys[order], *(np.asarray(values, dtype)[order]
                                          for values, dtype in zip(columns, self._dtypes))])
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= len(self._runs[-1][0]) * 2:
            last = self._runs.pop()
            self._runs.append(_merged(self._runs.pop(), last))

    def total(self, index: int) -> int:
        """The sum of column `index` over every key."""
        return sum(int(columns[index + 1].sum()) for columns in self._runs)

    def __len__(self) -> int:
        """How many keys are held."""
        return sum(len(columns[0]) for columns in self._runs)


def _merged(before: list[NDArray[Any]], after: list[NDArray[Any]]) -> list[NDArray[Any]]:
    """Two runs as one: each key of the later run `after` goes where it sorts among `before`'s (searchsorted, no
    sort), every column moved once and let go of in the two runs once moved (so the merge holds one column twice at
    the most, and a flag a key)."""
    at = np.searchsorted(before[0], after[0]) + np.arange(len(after[0]))
    rest = np.ones(len(before[0]) + len(after[0]), np.bool_)
    rest[at] = False
    out = []
    while before:
        old, new = before.pop(0), after.pop(0)
        column = np.empty(len(rest), old.dtype)
        column[at], column[rest] = new, old
        out.append(column)
    return out


class FileIds:
    """Every id the file has defined so far, by first hash (Runs): second hash, type code, placeholder flag."""

    _SECOND, _CODE, _PLACEHOLDER = 0, 1, 2  # Runs' columns

    def __init__(self, label: str) -> None:
        self._label = label
        self._held = Runs(np.int64, np.int8, np.bool_)

    def find(self, ids: list[str]) -> Found:
        """Where each id stands among the file's."""
        return self.lookup(hashes(ids), check_hashes(ids))

    def types(self, ids: list[str]) -> tuple[dict[str, EntityType], set[str]]:
        """The types of those of the ids the file defines, and which of them are its placeholders."""
        found = self.find(ids)
        types: dict[str, EntityType] = {}
        placeholders: set[str] = set()
        for n in np.flatnonzero(found.hit).tolist():
            types[ids[n]] = ENTITY_KINDS[found.code[n]]
            if found.placeholder[n]:
                placeholders.add(ids[n])
        return types, placeholders

    def put(self, ids: list[str], kinds: list[EntityType], placeholder: bool) -> None:
        """Define distinct ids: real records (`placeholder` False) set their type and make them real; placeholders
        are added only for ids the file does not define yet. InvalidInput when two ids share a first hash."""
        first, second = hashes(ids), check_hashes(ids)
        code = np.array([ENTITY_CODES[kind] for kind in kinds], np.int8)
        run, at = self._held.find(first)
        hit = run >= 0
        if hit.any() and (self._held.column(self._SECOND, run[hit], at[hit]) != second[hit]).any():
            self._refuse()
        if not placeholder and hit.any():
            self._held.assign(self._CODE, run[hit], at[hit], code[hit])
            self._held.assign(self._PLACEHOLDER, run[hit], at[hit], np.zeros(int(hit.sum()), np.bool_))
        new = ~hit
        first, second, code = first[new], second[new], code[new]
        if len(np.unique(first)) < len(first):  # distinct ids by the caller: one first hash twice is a collision
            self._refuse()
        self._held.add(first, second, code, np.full(len(first), placeholder))

    def placeholders(self) -> int:
        """How many ids the file holds as its placeholders."""
        return self._held.total(self._PLACEHOLDER)

    def lookup(self, first: I64, second: I64) -> Found:
        """Where each hashed id (its two hashes) stands among the file's: a hit needs both hashes to agree."""
        run, at = self._held.find(first)
        hit: NDArray[np.bool_] = (run >= 0) & (self._held.column(self._SECOND, run, at) == second)
        return Found(hit, self._held.column(self._CODE, run, at), self._held.column(self._PLACEHOLDER, run, at))

    def _refuse(self) -> None:
        """The load cannot go on: its checks would take two ids for one."""
        raise InvalidInput([Problem(self._label, 0, "id", _COLLISION)])


class Written:
    """The relation ids a load into a store empty before it has written so far, by hash (id_hashes.hashes, in Runs):
    an id whose hash is not here was never written, so the store holds nothing to compare it with. Two ids sharing
    a hash only cost a lookup of the one not written."""

    def __init__(self) -> None:
        self._held = Runs()

    def unwritten(self, ids: I64) -> NDArray[np.bool_]:
        """Where each hashed id was not written before, as the batch comes; then holds the batch's ids too."""
        out: NDArray[np.bool_] = self._held.find(ids)[0] < 0
        self._held.add(np.unique(ids[out]))
        return out

class Stakes:
    """The file's native OWNS records in file order (their place here is their sequence number): each one's relation
    id and target hashed (id_hashes.hashes) and its line, where the TEMP table that held them cost a B-tree insert
    and a row of strings each. Appended a batch at a time, joined once when first read (by the end checks)."""

    def __init__(self) -> None:
        self._parts: list[tuple[I64, I64, I64]] = []
        self._count = 0
        self._sorted: tuple[NDArray[np.intp], I64, I64, I64] | None = None  # order by relation, then the columns

    def add(self, relation: I64, target: I64, line: I64) -> int:
        """Append a batch's records (before any is read); the sequence number of the first."""
        if self._sorted is not None:
            raise RuntimeError("the file's stakes are read once every batch is added, not before")
        first = self._count
        self._parts.append((relation, target, line))
        self._count += len(relation)
        return first

    def last(self, relation: I64, target: I64) -> tuple[NDArray[np.intp], I64]:
        """For each hashed relation id and target, the sequence number and line of the file's last record of it
        (-1 where the file has none). A record counts only where both hashes agree: a stored relation whose id
        shares a hash with one of the file's is not taken for it unless its target's hash is shared too."""
        order, relations, targets, lines = self._joined()
        seq, line = np.full(len(relation), -1, np.intp), np.full(len(relation), -1, np.int64)
        left, right = np.searchsorted(relations, relation, "left"), np.searchsorted(relations, relation, "right")
        for n in np.flatnonzero(right > left).tolist():
            for place in range(right[n] - 1, left[n] - 1, -1):  # the run in file order: the last one first
                if targets[place] == target[n]:
                    seq[n], line[n] = order[place], lines[place]
                    break
        return seq, line

    def _joined(self) -> tuple[NDArray[np.intp], I64, I64, I64]:
        """Every record sorted by relation hash, file order kept within one (a stable sort), and the order itself
        (the sequence numbers). Joined once, the batches' arrays let go: nothing is added after the end checks read."""
        if self._sorted is None:
            parts, self._parts = self._parts, []
            relations, targets, lines = (np.concatenate([part[k] for part in parts] or [np.zeros(0, np.int64)])
                                         for k in range(3))
            del parts
            order = np.argsort(relations, kind="stable")
            self._sorted = (order, relations[order], targets[order], lines[order])
        return self._sorted
