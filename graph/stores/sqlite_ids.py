"""The ids a streamed load's file has defined so far (graph.stores.sqlite_stream): each id's type and whether it is
a placeholder the file made, on sorted numpy arrays of hashed ids (graph.stores.id_hashes) instead of a TEMP table.

A batch's lookups and updates are a few sorts and searches over arrays, 18 bytes an id (22 MB at 1M companies),
where the TEMP table cost a B-tree insert and an IN-list read per id. Each id is kept by its first hash with its
second hash beside it: a lookup finds an id only when both agree, so an id the file has not defined is never taken
for one it has (it is then looked up by its text, in the store, as before); two ids the file defines that share a
first hash cannot both be kept, and the load is refused, nothing written (about one chance in 10^7 at ten million
ids; loading again hashes with a new seed unless PYTHONHASHSEED is fixed).
"""
from __future__ import annotations

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


class FileIds:
    """Every id the file has defined so far, sorted by first hash: second hash, type code, placeholder flag."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._first: I64 = np.zeros(0, np.int64)
        self._second: I64 = np.zeros(0, np.int64)
        self._code: NDArray[np.int8] = np.zeros(0, np.int8)
        self._placeholder: NDArray[np.bool_] = np.zeros(0, np.bool_)

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
        at, hit, clipped = self._search(first)
        if hit.any() and (hit & (self._second[clipped] != second)).any():
            self._refuse()
        if not placeholder:
            self._code[at[hit]], self._placeholder[at[hit]] = code[hit], False
        new = ~hit
        first, second, code, at = first[new], second[new], code[new], at[new]
        order = np.argsort(first, kind="stable")
        first, second, code, at = first[order], second[order], code[order], at[order]
        if (first[1:] == first[:-1]).any():  # distinct ids by the caller: one first hash twice is a collision
            self._refuse()
        self._first = np.insert(self._first, at, first)
        self._second = np.insert(self._second, at, second)
        self._code = np.insert(self._code, at, code)
        self._placeholder = np.insert(self._placeholder, at, np.full(len(first), placeholder))

    def placeholders(self) -> int:
        """How many ids the file holds as its placeholders."""
        return int(self._placeholder.sum())

    def lookup(self, first: I64, second: I64) -> Found:
        """Where each hashed id (its two hashes) stands among the file's: a hit needs both hashes to agree."""
        _, hit, at = self._search(first)
        if not len(self._first):
            return Found(hit, np.zeros(len(first), np.int8), np.zeros(len(first), np.bool_))
        hit &= self._second[at] == second
        return Found(hit, self._code[at], self._placeholder[at])

    def _search(self, first: I64) -> tuple[NDArray[np.intp], NDArray[np.bool_], NDArray[np.intp]]:
        """Each first hash's place in the sorted arrays (where it goes), whether it is there, and the place to read
        (the last one for a hash past the end)."""
        at = np.searchsorted(self._first, first)
        if not len(self._first):
            return at, np.zeros(len(first), np.bool_), at
        clipped = np.minimum(at, len(self._first) - 1)
        hit: NDArray[np.bool_] = self._first[clipped] == first
        return at, hit, clipped

    def _refuse(self) -> None:
        """The load cannot go on: its checks would take two ids for one."""
        raise InvalidInput([Problem(self._label, 0, "id", _COLLISION)])


class Written:
    """The relation ids a load into a store empty before it has written so far, by hash (id_hashes.hashes), sorted:
    an id whose hash is not here was never written, so the store holds nothing to compare it with. Two ids sharing
    a hash only cost a lookup of the one not written."""

    def __init__(self) -> None:
        self._hashes: I64 = np.zeros(0, np.int64)

    def unwritten(self, ids: I64) -> NDArray[np.bool_]:
        """Where each hashed id was not written before, as the batch comes; then holds the batch's ids too."""
        at = np.minimum(np.searchsorted(self._hashes, ids), max(len(self._hashes) - 1, 0))
        out: NDArray[np.bool_] = self._hashes[at] != ids if len(self._hashes) else np.ones(len(ids), np.bool_)
        fresh = np.unique(ids[out])
        self._hashes = np.insert(self._hashes, np.searchsorted(self._hashes, fresh), fresh)
        return out
