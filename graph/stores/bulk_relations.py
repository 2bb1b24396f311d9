"""A bulk import's relation records as arrays (`Relations`): each id's last record, the stakes held by company and
their share sums, and the relations whose references the rules may refuse (graph.stores.bulk_staging's checks).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.kinds import EntityType, RelationType

from corpgraph.graph.stores.bulk_entities import Batches, Entities, disagree
from corpgraph.graph.stores.id_hashes import ENTITY_KINDS, I64, RELATION_KINDS, SOURCES as _SOURCES, \
    TARGETS as _TARGETS

_INCIDENT = ENTITY_KINDS.index(EntityType.INCIDENT)
_OWNS = RELATION_KINDS.index(RelationType.OWNS)
_CHUNK = 1 << 20


class Relations:
    """Every relation record, each id's last record, and what the checks flag."""

    def __init__(self, batches: Batches, ents: Entities) -> None:
        self.ents = ents
        self.hash = batches.joined("rel_hash", np.int64)
        self.type = batches.joined("rel_type", np.int8)
        self.source, self.target = batches.joined("rel_source", np.int64), batches.joined("rel_target", np.int64)
        self.native_owns = batches.joined("rel_native_owns", np.bool_)
        self.minimum = batches.joined("rel_minimum", np.float64)
        self.valid_from, self.valid_to = batches.joined("rel_from", np.int32), batches.joined("rel_to", np.int32)
        self.line = batches.joined("rel_line", np.int32)
        self.batch = batches.joined("rel_batch", np.int32)
        self.first = np.searchsorted(self.batch, np.arange(int(self.batch.max()) + 2 if len(self.batch) else 1))
        self.inc_at, self.inc_hash = batches.joined("inc_at", np.int64), batches.joined("inc_hash", np.int64)
        # each temporary array is dropped once read: the peak of the import is here
        order = np.argsort(self.hash, kind="stable")
        hashes = self.hash[order]
        new_id = np.r_[True, hashes[1:] != hashes[:-1]] if len(order) else np.zeros(0, np.bool_)
        del hashes
        # one id's records hashed it alike (bulk_staging._refuse_collisions)
        self.collided = disagree(new_id, batches.joined("rel_hash_check", np.int64)[order])
        self._unchanged(batches, order, new_id)
        final = order[np.r_[new_id[1:], True]] if len(order) else order  # per id, its last record
        del order, new_id
        self.stale = np.ones(len(self.hash), np.bool_)
        self.stale[final] = False
        owns = final[self.type[final] == _OWNS]
        del final
        # the stakes held, by company (within one in any order: graph.write.allocation.first_excess depends on none)
        self._owns = owns[np.argsort(self.target[owns], kind="stable")]
        del owns
        owns_target = self.target[self._owns]
        # summed company by company (no running total over all: its rounding would grow with the file)
        starts = np.flatnonzero(np.r_[True, owns_target[1:] != owns_target[:-1]]) if len(self._owns) else self._owns
        self._held, self._held_at = owns_target[starts], np.r_[starts, len(self._owns)]  # each company's stakes
        self._sums = np.r_[np.add.reduceat(self.minimum[self._owns], starts) if len(self._owns) else [], 0.0]
        self._natives: tuple[I64, I64] | None = None  # each id's last native OWNS record, by id (last_native)
        self.immediate = np.zeros(len(self.hash), np.bool_)

    def _unchanged(self, batches: Batches, order: I64, new_id: NDArray[np.bool_]) -> None:
        """Which records are unchanged: the last of their (id, batch) run (what the store held after that batch) has
        the document of the previous run of their id; and whether two documents taken so differ (_refuse_collisions)."""
        batch = self.batch[order]
        run_start = new_id | np.r_[True, batch[1:] != batch[:-1]] if len(order) else new_id
        del batch
        last = np.r_[run_start[1:], True] if len(order) else new_id
        run_last_doc = batches.joined("rel_doc", np.int64)[order][last]
        same = np.r_[False, run_last_doc[1:] == run_last_doc[:-1]] & ~new_id[run_start]
        del run_last_doc
        run_last_check = batches.joined("rel_doc_check", np.int64)[order][last]
        # a run taken as unchanged whose document's second hash is not the previous run's
        self.documents_collided = bool((same[1:] & (run_last_check[1:] != run_last_check[:-1])).any())
        del run_last_check, last
        self.unchanged = np.zeros(len(order), np.bool_)
        self.unchanged[order] = same[np.cumsum(run_start) - 1]

    def flagged(self, ents: Entities, failed: I64) -> NDArray[np.bool_]:
        """The changed relations whose references the rules may refuse (endpoint_problems then says which)."""
        inc_group, inc_found = ents.lookup(self.inc_hash)
        self.immediate = np.ones(len(self.hash), np.bool_)  # every reference had a real record by its batch
        self.immediate[self.inc_at] = inc_found & (ents.first_real[inc_group] <= self.batch[self.inc_at])
        wrong, conflicting = np.zeros(len(self.hash), np.bool_), np.zeros(len(self.hash), np.bool_)
        for h, allowed in ((self.source, _SOURCES), (self.target, _TARGETS)):
            for part in chunks(len(h)):  # the lookups a chunk at a time: their arrays are the checks' largest
                at, found = ents.lookup(h[part])
                self.immediate[part] &= found & (ents.first_real[at] <= self.batch[part])
                fits = found & allowed[self.type[part], ents.final_types[at]]
                wrong[part] |= ~fits & (found | ~np.isin(h[part], failed))
                conflicting[part] |= ents.conflicting(at)
        wrong |= self.immediate & conflicting  # the type by its batch may be another
        inc_wrong = ~(inc_found & (ents.final_types[inc_group] == _INCIDENT))
        wrong[self.inc_at] |= inc_wrong & (inc_found | ~np.isin(self.inc_hash, failed))
        wrong[self.inc_at] |= self.immediate[self.inc_at] & ents.conflicting(inc_group)
        return wrong & ~self.unchanged

    def share_sums(self, companies: I64) -> NDArray[np.float64]:
        """Each company's owners' minimum shares summed over the stakes held (the last record of each OWNS)."""
        at = np.searchsorted(self._held, companies)
        out: NDArray[np.float64] = np.where(np.r_[self._held, 0][at] == companies, self._sums[at], 0.0)
        return out

    def into(self, company: int) -> list[int]:
        """The stakes held in a company (each OWNS id's last record)."""
        at = int(np.searchsorted(self._held, company))
        if at == len(self._held) or self._held[at] != company:
            return []
        out: list[int] = self._owns[int(self._held_at[at]):int(self._held_at[at + 1])].tolist()
        return out

    def last_native(self, n: int) -> int:
        """The last native OWNS record of relation record n's id (n itself when it is one: n is its id's last
        record), -1 when none."""
        if self.native_owns[n]:
            return n
        if self._natives is None:  # an id whose last record is an imported OWNS: sorted once, when first asked
            natives = np.flatnonzero(self.native_owns)
            natives = natives[np.argsort(self.hash[natives], kind="stable")]  # by id, in file order within one
            last = natives[np.r_[self.hash[natives][1:] != self.hash[natives][:-1], True]] if len(natives) else natives
            self._natives = (self.hash[last], last)
        ids, last = self._natives
        at = int(np.searchsorted(ids, self.hash[n]))
        return int(last[at]) if at < len(ids) and ids[at] == self.hash[n] else -1

    def naming(self, h: int) -> int:
        """A relation record whose source or target is hashed to h."""
        return int(np.flatnonzero((self.source == h) | (self.target == h))[0])


def chunks(length: int) -> Iterator[slice]:
    """Slices of a million records covering `length`: a lookup's temporaries stay ~20 MB whatever the file."""
    return (slice(start, start + _CHUNK) for start in range(0, length, _CHUNK))
