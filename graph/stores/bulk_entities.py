"""A bulk import's entity records as arrays (`Entities`), joined from every batch's (`Batches`): each id's records,
the one that wins, its type and identifier keys (graph.stores.bulk_staging's checks read them).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from corpgraph.graph.stores.id_hashes import I64, ints as _ints

_NEVER = np.iinfo(np.int64).max


@dataclass
class Batches:
    """Every batch's arrays, appended to a file as they come and read back once each, joined, at the end: kept in
    memory, a batch's small arrays would fill the heap, and once joined, the freed parts would stay resident beside
    the joined copies (glibc keeps the holes), doubling the arrays' memory at the checks' peak."""

    disk: IO[bytes]
    on_disk: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # each part's offset and length
    dtypes: dict[str, np.dtype[Any]] = field(default_factory=dict)  # each array's, as its first part came
    shifts: dict[str, int] = field(default_factory=dict)  # added to the parts after a prepended one (prepend)

    def put(self, **arrays: np.ndarray) -> None:
        """Append one batch's arrays to the file."""
        for name, array in arrays.items():
            self.on_disk.setdefault(name, []).append((self.disk.tell(), len(array)))
            self.disk.write(array.astype(self.dtypes.setdefault(name, array.dtype), copy=False).tobytes())

    def prepend(self, shifts: dict[str, int], **arrays: np.ndarray) -> None:
        """Put arrays before every part put so far (the stored records a load into a database in use meets, known
        only at the end of its file); `shifts` says what to add to the later parts of an array of record numbers."""
        for name, array in arrays.items():
            self.on_disk.setdefault(name, []).insert(0, (self.disk.tell(), len(array)))
            self.disk.write(array.astype(self.dtypes.setdefault(name, array.dtype), copy=False).tobytes())
        self.shifts.update(shifts)

    def peek(self, name: str, dtype: Any) -> np.ndarray:
        """One array of every batch's, as joined() reads it, the parts kept for joined()."""
        parts = self.on_disk.get(name, [])
        out = self.joined(name, dtype)
        self.on_disk[name] = parts
        return out

    def joined(self, name: str, dtype: Any) -> np.ndarray:
        """One array of every batch's, in order, read from the file (once: the parts are forgotten here)."""
        parts = self.on_disk.pop(name, [])
        dtype = self.dtypes.get(name, dtype)
        out = np.empty(sum(length for _, length in parts), dtype)
        self.disk.flush()
        at = 0
        for offset, length in parts:
            self.disk.seek(offset)
            out[at:at + length] = np.frombuffer(self.disk.read(length * out.itemsize), dtype)
            at += length
        self.disk.seek(0, 2)
        if name in self.shifts and parts:
            out[parts[0][1]:] += self.shifts[name]
        return out


class Entities:
    """Every entity record, and each id's groups of records (sorted by hash, in file order within an id).

    `stored`: batch 0 holds the stored records of the ids the files name (a load into a database in use,
    graph.stores.neo4j_stream), one an id, before the files' records: they count as earlier records, but a file's
    record of another type is no "declared earlier" (stored_changes says it), and a stored placeholder is none the
    file made."""

    def __init__(self, batches: Batches, stored: bool = False) -> None:
        self.hash = batches.joined("ent_hash", np.int64)
        self.type = batches.joined("ent_type", np.int8)
        placeholder = batches.joined("ent_placeholder", np.bool_)
        self.line = batches.joined("ent_line", np.int32)
        self.batch = batches.joined("ent_batch", np.int32)
        self.first = np.searchsorted(self.batch, np.arange(int(self.batch.max()) + 2 if len(self.batch) else 1))
        self.order = np.argsort(self.hash, kind="stable")
        sorted_hash = self.hash[self.order]
        starts = np.r_[True, sorted_hash[1:] != sorted_hash[:-1]] if len(sorted_hash) else np.zeros(0, np.bool_)
        self.group = np.cumsum(starts) - 1
        self.ids = sorted_hash[starts]  # each id once, sorted
        second = batches.joined("ent_hash_check", np.int64)[self.order]
        self.collided = disagree(starts, second)  # one id's records hashed it alike (bulk_staging._refuse_collisions)
        self.checks = np.r_[second[starts], 0]  # each id's second hash, then lookup's place for a hash past the last
        del second
        self._padded = np.r_[self.ids, 0]  # lookup's place for a hash past the last
        self._real = ~placeholder[self.order]
        batch = self.batch[self.order]
        self.first_real = np.full(len(self.ids), _NEVER)
        np.minimum.at(self.first_real, self.group[self._real], batch[self._real])
        first_placeholder = ~self._real & starts
        kept = self._real | (first_placeholder & (self.first_real[self.group] != batch))
        at = np.flatnonzero(kept)
        last = at[np.r_[self.group[at][1:] != self.group[at][:-1], True]] if len(at) else at
        self.final = self.order[last]  # per id, its last kept record
        self.final_types = np.r_[self.type[self.final], 0]  # one more: lookup's place for a hash past the last
        self.first_real = np.r_[self.first_real, _NEVER]
        self.stored = stored
        self.placeholders = int((placeholder[self.final] & (self.batch[self.final] > 0 if stored else True)).sum())
        self.stale = np.ones(len(self.hash), np.bool_)
        self.stale[self.final] = False
        self._conflicts: set[int] = set()
        self.keys = (batches.joined("key_hash", np.int64), batches.joined("key_of", np.int64))
        self._sorted_keys: tuple[I64, I64] | None = None

    def declared_earlier(self) -> Iterator[tuple[int, int]]:
        """(record, the type its id's previous real record declared) of each real record declaring another."""
        real = np.flatnonzero(self._real)
        types = self.type[self.order[real]]
        again = (self.group[real][1:] == self.group[real][:-1]) & (types[1:] != types[:-1])
        if self.stored:  # against a stored record: stored_changes
            again &= self.batch[self.order[real][:-1]] > 0
        self._conflicts = set(self.group[real][1:][again].tolist())
        return zip(self.order[real][1:][again].tolist(), types[:-1][again].tolist())

    def stored_changes(self) -> list[tuple[int, int]]:
        """(record, its id's stored type) of each real record of the files whose id is stored as another type, in
        the files' order (none without stored records)."""
        if not self.stored or not len(self.hash):
            return []
        batch = self.batch[self.order]
        starts = np.flatnonzero(np.r_[True, self.group[1:] != self.group[:-1]])
        at = starts[batch[starts] == 0]  # each stored record (its id's first)
        stored = np.full(len(self.ids), -1, np.int64)
        stored[self.group[at]] = self.order[at]
        real = np.flatnonzero(self._real & (batch > 0))
        records, earlier = self.order[real], stored[self.group[real]]
        differs = (earlier >= 0) & (self.type[np.maximum(earlier, 0)] != self.type[records])
        out = sorted(zip(records[differs].tolist(), self.type[earlier[differs]].tolist()))
        return out

    def lookup(self, hashes: I64) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Each hash's id group and whether an entity record has it."""
        at = np.searchsorted(self.ids, hashes)
        return at, (self._padded[at] == hashes) & (at < len(self.ids))

    def conflicting(self, groups: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether each id group's real records declare more than one type."""
        return np.isin(groups, np.array(sorted(self._conflicts), np.int64))

    def final_type(self, h: int) -> int:
        """The type code of the id's last kept record, -1 when no record has the id."""
        at, found = self.lookup(_ints([h]))
        return int(self.final_types[at[0]]) if found[0] else -1

    def type_by(self, h: int, batch: int) -> int:
        """The type code of the id's last real record by the end of a batch."""
        at = np.flatnonzero(self.group == self.lookup(_ints([h]))[0][0])
        real = at[self._real[at] & (self.batch[self.order[at]] <= batch)]
        return int(self.type[self.order[real[-1]]])

    def ids_of(self, hashes: I64) -> I64:
        """The last kept entity record with each hash (whose id is the hash's), -1 where none has."""
        at, found = self.lookup(hashes)
        out: I64 = np.where(found, np.r_[self.final, 0][at], -1)
        return out

    def _final_keys(self) -> tuple[I64, I64]:
        """The identifier keys of each id's last kept record: (key hashes, id hashes), sorted by key (once)."""
        if self._sorted_keys is None:
            self._sorted_keys = self._sort_keys()
        return self._sorted_keys

    def _sort_keys(self) -> tuple[I64, I64]:
        """_final_keys, sorted."""
        keys, owners = self.keys
        final = np.zeros(len(self.hash), np.bool_)
        final[self.final] = True
        keep = final[owners]
        keys, ids = keys[keep], self.hash[owners[keep]]
        order = np.lexsort((ids, keys))
        return keys[order], ids[order]

    def merged(self) -> dict[int, list[int]]:
        """Each id sharing an identifier key with another, and those others (identity merges them for the sums)."""
        keys, ids = self._final_keys()
        out: dict[int, set[int]] = {}
        if len(keys) < 2:
            return {}
        shared = np.flatnonzero(np.r_[False, keys[1:] == keys[:-1]] | np.r_[keys[1:] == keys[:-1], False])
        runs: dict[int, list[int]] = {}
        for n in shared.tolist():
            runs.setdefault(int(keys[n]), []).append(int(ids[n]))
        for members in runs.values():
            for a in members:
                out.setdefault(a, set()).update(b for b in members if b != a)
        return {a: sorted(b) for a, b in out.items() if b}

    def keys_of(self, hashes: list[int]) -> dict[int, list[int]]:
        """The identifier keys (hashed) of each of the ids that has any."""
        keys, ids = self._final_keys()
        wanted = np.isin(ids, _ints(hashes))
        out: dict[int, list[int]] = {}
        for key, id in zip(keys[wanted].tolist(), ids[wanted].tolist()):
            out.setdefault(id, []).append(key)
        return out


def disagree(starts: NDArray[np.bool_], second: I64) -> bool:
    """Whether, in runs of one first hash (each starting where `starts` is True), two second hashes differ."""
    return bool((~starts[1:] & (second[1:] != second[:-1])).any())
