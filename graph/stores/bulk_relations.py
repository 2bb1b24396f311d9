"""A bulk import's relation records as arrays (`Relations`): each id's last record, the stakes held by company and
their share sums, and the relations whose references the rules may refuse (graph.stores.bulk_staging's checks).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.kinds import EntityType, RelationType

from corpgraph.graph.stores.bulk_entities import Batches, Entities
from corpgraph.graph.stores.id_hashes import ENTITY_KINDS, I64, RELATION_KINDS, SOURCES as _SOURCES, \
    TARGETS as _TARGETS

_INCIDENT = ENTITY_KINDS.index(EntityType.INCIDENT)
_OWNS = RELATION_KINDS.index(RelationType.OWNS)


class Relations:
    """Every relation record, each id's last record, and what the checks flag."""

    def __init__(self, batches: Batches, ents: Entities) -> None:
        self.ents = ents
        self.hash = batches.joined("rel_hash", np.int64)
        self.type = batches.joined("rel_type", np.int8)
        self.source, self.target = batches.joined("rel_source", np.int64), batches.joined("rel_target", np.int64)
        doc = batches.joined("rel_doc", np.int64)
        self.native_owns = batches.joined("rel_native_owns", np.bool_)
        self.minimum = batches.joined("rel_minimum", np.float64)
        self.valid_from, self.valid_to = batches.joined("rel_from", np.int32), batches.joined("rel_to", np.int32)
        self.line, self.row = batches.joined("rel_line", np.int32), batches.joined("rel_row", np.int64)
        self.batch = batches.joined("rel_batch", np.int32)
        self.first = np.searchsorted(self.batch, np.arange(int(self.batch.max()) + 2 if len(self.batch) else 1))
        self.inc_at, self.inc_hash = batches.joined("inc_at", np.int64), batches.joined("inc_hash", np.int64)
        order = np.argsort(self.hash, kind="stable")
        hashes, batch = self.hash[order], self.batch[order]
        new_id = np.r_[True, hashes[1:] != hashes[:-1]] if len(order) else np.zeros(0, np.bool_)
        # (id, batch) runs: the last record of each is what the store held after that batch
        run_start = new_id | np.r_[True, batch[1:] != batch[:-1]] if len(order) else new_id
        run = np.cumsum(run_start) - 1
        run_last_doc = doc[order][np.r_[run_start[1:], True]] if len(order) else doc
        same = np.r_[False, run_last_doc[1:] == run_last_doc[:-1]] & ~new_id[run_start]
        self.unchanged = np.zeros(len(order), np.bool_)
        self.unchanged[order] = same[run]
        self.final = order[np.r_[new_id[1:], True]] if len(order) else order  # per id, its last record
        self.stale = np.ones(len(order), np.bool_)
        self.stale[self.final] = False
        self._order, self._id_start = order, np.flatnonzero(new_id)
        held = self.type[self.final] == _OWNS
        owns = self.final[held]
        # the stakes held, by company (within one in any order: graph.write.allocation.first_excess depends on none)
        self._owns = owns[np.argsort(self.target[owns], kind="stable")]
        self._owns_target = self.target[self._owns]
        # summed company by company (no running total over all: its rounding would grow with the file)
        starts = np.flatnonzero(np.r_[True, self._owns_target[1:] != self._owns_target[:-1]]) if len(owns) else owns
        self._held = self._owns_target[starts]
        self._sums = np.r_[np.add.reduceat(self.minimum[self._owns], starts) if len(owns) else [], 0.0]
        natives = order[self.native_owns[order]]  # each id's native OWNS records, in file order
        self._native_last = natives[np.r_[self.hash[natives][1:] != self.hash[natives][:-1], True]] \
            if len(natives) else natives
        self._native_ids = self.hash[self._native_last]
        self.immediate = np.zeros(len(order), np.bool_)

    def flagged(self, ents: Entities, failed: I64) -> NDArray[np.bool_]:
        """The changed relations whose references the rules may refuse (endpoint_problems then says which)."""
        kind = self.type.astype(np.int64)
        ends = [(self.source, _SOURCES), (self.target, _TARGETS)]
        group = [ents.lookup(h) for h, _ in ends]
        real = [found & (ents.first_real[at] <= self.batch) for at, found in group]
        inc_group, inc_found = ents.lookup(self.inc_hash)
        inc_real = np.ones(len(self.hash), np.bool_)
        inc_real[self.inc_at] = inc_found & (ents.first_real[inc_group] <= self.batch[self.inc_at])
        self.immediate = real[0] & real[1] & inc_real
        wrong = np.zeros(len(self.hash), np.bool_)
        for (at, found), (h, allowed) in zip(group, ends):
            fits = found & allowed[kind, ents.final_types[at]]
            wrong |= ~fits & (found | ~np.isin(h, failed))
            wrong |= self.immediate & ents.conflicting(at)  # the type by its batch may be another
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
        lo, hi = np.searchsorted(self._owns_target, company, "left"), np.searchsorted(self._owns_target, company, "right")
        out: list[int] = self._owns[int(lo):int(hi)].tolist()
        return out

    def last_native(self, n: int) -> int:
        """The last native OWNS record of relation record n's id, -1 when none."""
        at = int(np.searchsorted(self._native_ids, self.hash[n]))
        found = at < len(self._native_ids) and self._native_ids[at] == self.hash[n]
        return int(self._native_last[at]) if found else -1

    def naming(self, h: int) -> int:
        """A relation record whose source or target is hashed to h."""
        return int(np.flatnonzero((self.source == h) | (self.target == h))[0])
