"""What a bulk import into an empty database keeps to check its files: arrays of interned ids, types and shares.

`corpgraph db import` reports exactly what `corpgraph load`'s streamed load (graph.stores.sqlite_stream.StreamCheck)
reports into an empty store: type changes, references, placeholders and their retyping, share sums with identity
merges, every problem together. It writes no embedded store and no row-by-row scratch table: each batch arrives as
`Columns` (built where it was validated, in a worker process: loaders.workers), numpy arrays of a few bytes a record
(ids as 64-bit hashes, type codes, lines, shares, validity days), and the checks run once, at the end of the files,
as sorts and lookups over those arrays (`BulkChecks.finish`). Python touches a record only when the arrays flag it:
a wrong or missing endpoint, a company whose owners' shares may sum above 100%. Its words then come from the
rules every store runs (graph.write.rules.endpoint_problems, graph.write.allocation's first_excess and
excess_reason), fed with the strings of those records only, read back from a spill file beside the CSV files
(the relations' endpoints and any origin that is more than a file and a line), so memory holds no Python object
per record.

How StreamCheck's batch-by-batch state maps to the arrays, the database starting empty:
- a placeholder is kept when it is the first record of its id in the files and no real record of that id is in
  its batch; the last kept record of an id wins (its type, identifiers and CSV row; the others' rows are stale);
- a real record whose previous real record of that id has another type is "declared earlier" as that type;
- a relation whose every reference had a real record by its batch is checked against the types then (the last real
  record of each id so far); the others against the final types, with ids that failed validation not reported;
- a relation whose record in an earlier batch (the last of that batch) had the same document is unchanged: not
  checked again, and its stake makes no company's share sum be checked;
- the share sums, per page of 500 companies a changed native OWNS points at, over the last record of each stake.

Ids are interned by Python's string hash (forked workers share its seed with this process). Two different ids with
one 64-bit hash would be taken for one (about one chance in 10^5 for ten million ids), so each hashed id also carries
a second, independent 64-bit hash, and before any result is used `finish` refuses the import (InvalidInput, nothing
written) when one first hash comes with two second hashes; a run that misses a collision that way has about one
chance in 10^24 at ten million ids. Running the import again hashes with a new seed (unless PYTHONHASHSEED is fixed).
"""
from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.batch import Origin
from corpgraph.schema.declaration import RELATIONS
from corpgraph.schema.errors import InvalidInput, Problem
from corpgraph.schema.kinds import EntityType, RelationType

from corpgraph.graph.stores.base import EdgeRow
from corpgraph.graph.write.allocation import (_minimum, excess_reason, first_excess, may_exceed, owner_groups,
                                              stored_stake)
from corpgraph.graph.write.rules import LOADING, declared_earlier, endpoint_problems

ENTITY_KINDS = list(EntityType)  # a type's code is its place here
RELATION_KINDS = list(RelationType)
_SOURCES = np.array([[e in RELATIONS[r].sources for e in ENTITY_KINDS] for r in RELATION_KINDS])
_TARGETS = np.array([[e in RELATIONS[r].targets for e in ENTITY_KINDS] for r in RELATION_KINDS])
_INCIDENT = ENTITY_KINDS.index(EntityType.INCIDENT)
_OWNS = RELATION_KINDS.index(RelationType.OWNS)
_PAGE = 500  # companies per share-check page: owners are grouped by identifier over a page, as StreamCheck does
_NEVER = np.iinfo(np.int64).max
Where = tuple[str, int, "str | None", "dict[str, str] | None"]
I64 = NDArray[np.int64]
_HASHED = ("ent_hash", "key_hash", "rel_hash", "rel_source", "rel_target", "inc_hash")  # Columns.checks' order


@dataclass
class Columns:
    """One batch's records as the checks read them, in the batch's order (entities, then relations); built where the
    batch was validated (graph.stores.neo4j_bulk.prepare)."""

    label: str
    ent_hash: I64
    ent_type: NDArray[np.int8]
    ent_placeholder: NDArray[np.bool_]
    ent_line: NDArray[np.int32]
    ent_local: NDArray[np.int32]  # its row among the batch's rows of its type
    ent_ids: list[str]
    key_hash: I64  # identifier keys, hashed, with the entity (its place in the batch) carrying each
    key_of: NDArray[np.int32]
    rel_hash: I64
    rel_type: NDArray[np.int8]
    rel_source: I64
    rel_target: I64
    rel_doc: I64  # the hash of the document
    rel_native_owns: NDArray[np.bool_]
    rel_minimum: NDArray[np.float64]  # share, else share_min, else 0 (what the share sums add)
    rel_from: NDArray[np.int32]  # valid_from's ordinal, 0 for none
    rel_to: NDArray[np.int32]
    rel_line: NDArray[np.int32]
    rel_local: NDArray[np.int32]
    inc_at: NDArray[np.int32]  # the relations naming an incident, and its hash
    inc_hash: I64
    # each hashed id's second hash (_check_hashes), in parallel with ent_hash, key_hash, rel_hash, rel_source,
    # rel_target and inc_hash, in that order: only the collision check reads them
    checks: tuple[I64, I64, I64, I64, I64, I64]
    spill: bytes  # pickled: each relation's (source, target, incident), and every origin that is not (label, line)


def columns(label: str, entities: list[tuple[str, str, bool, list[str], Where]],
            relations: list[tuple[tuple[Any, ...], int, bool, Where]]) -> Columns:
    """A batch's Columns from its entities (id, type, placeholder, identifier keys, origin) and relations (edge_values,
    hash of the document, whether it is a native OWNS, origin), with each record's row among its type's rows."""
    ent_local, rel_local = _places([e[1] for e in entities]), _places([v[1] for v, _, _, _ in relations])
    keys = [(key, n) for n, entry in enumerate(entities) for key in entry[3]]
    extras = {("e", n): where for n, (*_, where) in enumerate(entities) if where[0] != label or where[2:] != (None, None)}
    extras.update({("r", n): where for n, (*_, where) in enumerate(relations)
                   if where[0] != label or where[2:] != (None, None)})
    incidents = [(n, v[7]) for n, (v, _, _, _) in enumerate(relations) if v[7]]
    kinds = {kind.value: code for code, kind in enumerate(ENTITY_KINDS)}
    rel_kinds = {kind.value: code for code, kind in enumerate(RELATION_KINDS)}
    hashed = ([e[0] for e in entities], [k for k, _ in keys],
              *([v[at] for v, _, _, _ in relations] for at in (0, 2, 3)), [i for _, i in incidents])
    h1, h2 = [_hashes(ids) for ids in hashed], [_check_hashes(ids) for ids in hashed]
    return Columns(
        label, h1[0], np.array([kinds[e[1]] for e in entities], np.int8),
        np.array([e[2] for e in entities], np.bool_), np.array([e[4][1] for e in entities], np.int32),
        np.array(ent_local, np.int32), [e[0] for e in entities],
        h1[1], np.array([n for _, n in keys], np.int32),
        h1[2], np.array([rel_kinds[v[1]] for v, _, _, _ in relations], np.int8), h1[3], h1[4],
        _ints([digest for _, digest, _, _ in relations]), np.array([r[2] for r in relations], np.bool_),
        np.array([_minimum(v[4], v[8]) for v, _, _, _ in relations], np.float64),
        np.array([_day(v[5]) for v, _, _, _ in relations], np.int32),
        np.array([_day(v[6]) for v, _, _, _ in relations], np.int32),
        np.array([r[3][1] for r in relations], np.int32), np.array(rel_local, np.int32),
        np.array([n for n, _ in incidents], np.int32), h1[5], (h2[0], h2[1], h2[2], h2[3], h2[4], h2[5]),
        pickle.dumps(([(v[2], v[3], v[7]) for v, _, _, _ in relations], extras), protocol=pickle.HIGHEST_PROTOCOL))


@dataclass
class _Batches:
    """Every batch's arrays, appended as they come and joined once at the end."""

    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **arrays: np.ndarray) -> None:
        """Append one batch's arrays."""
        for name, array in arrays.items():
            self.parts.setdefault(name, []).append(array)

    def joined(self, name: str, dtype: Any) -> np.ndarray:
        """One array of every batch's, in order (emptied here: the parts are not kept twice)."""
        parts = self.parts.pop(name, [])
        return np.concatenate(parts) if parts else np.zeros(0, dtype)


class BulkChecks:
    """The whole-import state of one bulk import: every batch's Columns (minus their spill, kept in a file)."""

    def __init__(self, spill: Path) -> None:
        self._spill: IO[bytes] = spill.open("w+b")
        self._spilled: list[tuple[int, int]] = []  # each batch's spill: offset, length
        self._labels: list[str] = []
        self._ent_ids: list[str] = []  # every entity record's id, in order (a string a record: entities are few)
        self._batches = _Batches()
        self._problems: list[tuple[tuple[int, int, int], Problem]] = []  # (batch, phase, place), problem
        self._failed: set[str] = set()
        self._entities = self._relations = 0

    def close(self) -> None:
        """Close the spill file (the caller deletes it)."""
        self._read.cache_clear()  # it holds this object
        self._spill.close()

    def take(self, batch: Columns, problems: list[Problem], failed_ids: set[str], ent_rows: I64,
             rel_rows: I64) -> None:
        """Keep one batch (its problems of validation, the ids that failed it, and each record's CSV row number)."""
        number = len(self._labels)
        self._problems += [((number, 0, n), problem) for n, problem in enumerate(problems)]
        self._failed |= failed_ids
        self._labels.append(batch.label)
        self._spilled.append((self._spill.tell(), len(batch.spill)))
        self._spill.write(batch.spill)
        self._ent_ids += batch.ent_ids
        entities, relations = len(batch.ent_hash), len(batch.rel_hash)
        self._batches.add(
            ent_hash=batch.ent_hash, ent_type=batch.ent_type, ent_placeholder=batch.ent_placeholder,
            ent_line=batch.ent_line, ent_row=ent_rows, ent_batch=np.full(entities, number, np.int32),
            key_hash=batch.key_hash, key_of=batch.key_of.astype(np.int64) + self._entities,
            rel_hash=batch.rel_hash, rel_type=batch.rel_type, rel_source=batch.rel_source,
            rel_target=batch.rel_target, rel_doc=batch.rel_doc, rel_native_owns=batch.rel_native_owns,
            rel_minimum=batch.rel_minimum, rel_from=batch.rel_from, rel_to=batch.rel_to, rel_line=batch.rel_line,
            rel_row=rel_rows, rel_batch=np.full(relations, number, np.int32),
            inc_at=batch.inc_at.astype(np.int64) + self._relations, inc_hash=batch.inc_hash,
            **{f"{name}_check": check for name, check in zip(_HASHED, batch.checks)})
        self._entities += entities
        self._relations += relations

    def finish(self) -> tuple[list[Problem], int, dict[str, set[int]]]:
        """Every problem of the files, in line order; how many placeholders are left; the stale CSV rows by file
        (type), each a row a later record of its id replaced or a placeholder that gave way."""
        self._refuse_collisions()
        ents = _Entities(self._batches, self._ent_ids)
        for n, earlier in ents.declared_earlier():
            origin = self._origin("e", n - int(ents.first[ents.batch[n]]), ents.line[n], ents.batch[n])
            self._problems.append(((int(ents.batch[n]), 1, n), origin.problem(
                *declared_earlier(self._ent_ids[n], ENTITY_KINDS[earlier]))))
        rels = _Relations(self._batches, ents)
        self._check_references(ents, rels)
        self._check_allocation(ents, rels)
        stale: dict[str, set[int]] = {}
        for kinds, types, rows, gone in ((ENTITY_KINDS, ents.type, ents.row, ents.stale),
                                         (RELATION_KINDS, rels.type, rels.row, rels.stale)):
            for code in np.unique(types[gone]):
                stale[kinds[code].value] = set(rows[gone & (types == code)].tolist())
        self._problems.sort(key=lambda entry: entry[0])  # StreamCheck's order, then by line as it sorts
        return sorted((p for _, p in self._problems), key=lambda p: p.line), ents.placeholders, stale

    def _refuse_collisions(self) -> None:
        """InvalidInput when two different ids of the files share one first hash (their second hashes differ), over
        every hashed id together (an entity's, a key's, a relation's, a reference, an incident, an id that failed)."""
        failed = sorted(self._failed)
        pairs = [(_hashes(failed), _check_hashes(failed))]
        for name in _HASHED:  # each reduced to its distinct ids first: references repeat, and memory stays small
            first = self._batches.parts.get(name, [])  # kept: the checks read them next
            checks = self._batches.joined(f"{name}_check", np.int64)  # popped: read only here
            pairs.append((np.concatenate(first) if first else _ints([]), checks))
        distinct = [_distinct(*pair) for pair in pairs]
        joined = None if None in distinct else _distinct(*(np.concatenate(h) for h in zip(*distinct)))
        if joined is None:
            raise InvalidInput([Problem(self._labels[0] if self._labels else "", 0, "id", (
                "two different ids share one 64-bit hash in this run (Python's string hash), so its checks cannot "
                "tell them apart: nothing was imported; run the import again, which hashes with a new seed (unless "
                "PYTHONHASHSEED is fixed)"))])

    def _check_references(self, ents: _Entities, rels: _Relations) -> None:
        """endpoint_problems of each relation the arrays flag: against the types by its batch when every reference
        had a real record by then, else against the final types (ids that failed validation not reported)."""
        failed = _hashes(self._failed)
        for n in np.flatnonzero(rels.flagged(ents, failed)).tolist():
            source, target, incident = self._ends(n, rels)
            rec = SimpleNamespace(type=RELATION_KINDS[rels.type[n]].value, source=source, target=target,
                                  incident=incident)
            refs = [ref for ref in (source, target, incident) if ref]
            origin = self._origin("r", n - int(rels.first[rels.batch[n]]), rels.line[n], rels.batch[n])
            if rels.immediate[n]:
                known = {ref: ENTITY_KINDS[ents.type_by(_hash(ref), int(rels.batch[n]))] for ref in refs}
                found = endpoint_problems(rec, known, LOADING)
                where = (int(rels.batch[n]), 2, n)
            else:
                known = {ref: ENTITY_KINDS[t] for ref in refs if (t := ents.final_type(_hash(ref))) >= 0}
                # as StreamCheck: only an id no record has is excused for having failed validation
                found = endpoint_problems(rec, known, LOADING, {ref for ref in refs if ref not in known} & self._failed)
                where = (len(self._labels), 3, n)
            self._problems += [(where, origin.problem(name, reason)) for name, reason in found]

    def _check_allocation(self, ents: _Entities, rels: _Relations) -> None:
        """first_excess of the companies a changed native OWNS points at whose owners' shares, all together (their
        identity merges' included), may pass 100%; a page of 500 companies (by id) at a time, as StreamCheck."""
        companies = np.unique(rels.target[rels.native_owns & ~rels.unchanged])
        named = sorted(zip(self._names(companies, rels), companies.tolist()))
        merged = ents.merged()
        totals = rels.share_sums(companies) + np.array(
            [sum(rels.share_sums(_ints(merged[c])).tolist()) if c in merged else 0.0 for c in companies.tolist()])
        exceeding = dict(zip(companies.tolist(), np.asarray(may_exceed(totals)).tolist()))  # elementwise
        place = 0
        for start in range(0, len(named), _PAGE):
            page = [(name, h) for name, h in named[start:start + _PAGE] if exceeding[h]]
            # the stakes of the company and of its members, in any order: first_excess depends on none
            stakes = {name: [self._stake(n, rels) for m in [h, *merged.get(h, [])] for n in rels.into(m)]
                      for name, h in page}
            owners = sorted({stake.owner for held in stakes.values() for stake in held})
            keys = ents.keys_of([_hash(o) for o in owners])
            one_owner = owner_groups(dict(zip(self._names(_ints(list(keys)), rels),
                                              ([str(k) for k in held] for held in keys.values()))))
            for name, _ in page:
                found = first_excess([s._replace(owner=one_owner.get(s.owner, s.owner)) for s in stakes[name]])
                if found is not None:
                    day, held, origin = found
                    self._problems.append(((len(self._labels), 4, place), origin.problem(
                        "share", excess_reason(name, day, held))))
                    place += 1

    def _stake(self, n: int, rels: _Relations) -> Any:
        """The stake of the relation record n (its last record), from the last native OWNS record of its id."""
        native = rels.last_native(n)
        origin = None if native < 0 else self._origin(
            "r", native - int(rels.first[rels.batch[native]]), rels.line[native], rels.batch[native])
        row = EdgeRow("", RelationType.OWNS, self._ends(n, rels)[0], "", float(rels.minimum[n]),
                      _iso(int(rels.valid_from[n])), _iso(int(rels.valid_to[n])), None)
        return stored_stake(row, origin)

    def _names(self, hashes: I64, rels: _Relations) -> list[str]:
        """The ids hashed to these: an entity's, else a relation's reference (an id no record defines)."""
        out = []
        for name, h in zip(rels.ents.ids_of(hashes), hashes.tolist()):
            if name is None:
                n = rels.naming(h)
                name = self._ends(n, rels)[int(rels.target[n] == h)]
            out.append(name or "")
        return out

    def _ends(self, n: int, rels: _Relations) -> tuple[str, str, str | None]:
        """Relation record n's source, target and incident, from its batch's spill."""
        batch = int(rels.batch[n])
        ends: tuple[str, str, str | None] = self._read(batch)[0][n - int(rels.first[batch])]
        return ends

    def _origin(self, kind: str, n: int, line: Any, batch: Any) -> Origin:
        """Where record n of its batch (kind "e" or "r", n within the batch) was read."""
        where = self._read(int(batch))[1].get((kind, n))
        return Origin(*where) if where else Origin(self._labels[int(batch)], int(line))

    @lru_cache(maxsize=64)  # noqa: B019 (one import, one object: the cache goes with it)
    def _read(self, batch: int) -> tuple[list[tuple[str, str, str | None]], dict[tuple[str, int], Where]]:
        """A batch's spill."""
        offset, length = self._spilled[batch]
        self._spill.seek(offset)
        spilled: tuple[list[tuple[str, str, str | None]], dict[tuple[str, int], Where]] = pickle.loads(
            self._spill.read(length))
        self._spill.seek(0, 2)
        return spilled


class _Entities:
    """Every entity record, and each id's groups of records (sorted by hash, in file order within an id)."""

    def __init__(self, batches: _Batches, ids: list[str]) -> None:
        self.hash = batches.joined("ent_hash", np.int64)
        self.type = batches.joined("ent_type", np.int8)
        placeholder = batches.joined("ent_placeholder", np.bool_)
        self.line, self.row = batches.joined("ent_line", np.int32), batches.joined("ent_row", np.int64)
        self.batch = batches.joined("ent_batch", np.int32)
        self.first = np.searchsorted(self.batch, np.arange(int(self.batch.max()) + 2 if len(self.batch) else 1))
        self._ids = ids
        self.order = np.argsort(self.hash, kind="stable")
        sorted_hash = self.hash[self.order]
        starts = np.r_[True, sorted_hash[1:] != sorted_hash[:-1]] if len(sorted_hash) else np.zeros(0, np.bool_)
        self.group = np.cumsum(starts) - 1
        self.ids = sorted_hash[starts]  # each id once, sorted
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
        self.placeholders = int(placeholder[self.final].sum())
        self.stale = np.ones(len(self.hash), np.bool_)
        self.stale[self.final] = False
        self._conflicts: set[int] = set()
        self._keys = (batches.joined("key_hash", np.int64), batches.joined("key_of", np.int64))

    def declared_earlier(self) -> Iterator[tuple[int, int]]:
        """(record, the type its id's previous real record declared) of each real record declaring another."""
        real = np.flatnonzero(self._real)
        types = self.type[self.order[real]]
        again = (self.group[real][1:] == self.group[real][:-1]) & (types[1:] != types[:-1])
        self._conflicts = set(self.group[real][1:][again].tolist())
        return zip(self.order[real][1:][again].tolist(), types[:-1][again].tolist())

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

    def ids_of(self, hashes: I64) -> list[str | None]:
        """The id an entity record has with each hash, None where none has."""
        at, found = self.lookup(hashes)
        final = np.r_[self.final, 0][at].tolist()
        return [self._ids[n] if ok else None for n, ok in zip(final, found.tolist())]

    def _final_keys(self) -> tuple[I64, I64]:
        """The identifier keys of each id's last kept record: (key hashes, id hashes), sorted by key."""
        keys, owners = self._keys
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


class _Relations:
    """Every relation record, each id's last record, and what the checks flag."""

    def __init__(self, batches: _Batches, ents: _Entities) -> None:
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

    def flagged(self, ents: _Entities, failed: I64) -> NDArray[np.bool_]:
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


def _hashes(ids: Iterable[str]) -> I64:
    """The ids' 64-bit keys in the arrays: Python's string hash (the workers are forks: they share its seed)."""
    return _ints([hash(i) for i in ids])


def _check_hashes(ids: Iterable[str]) -> I64:
    """A second 64-bit hash of each id, independent of _hashes, to find two ids that _hashes takes for one."""
    # SipHash is a keyed pseudo-random function: for two different ids a and b, a + NUL and b + NUL are two other
    # different inputs under the same key, so their hashes agree by chance alone (2^-64) whether or not a's and b's
    # do. (A tuple's hash, hash(("corpgraph", a)), would not do: CPython computes it from hash(a).)
    return _ints([hash(i + "\x00") for i in ids])


def _hash(text: str) -> int:
    """One id's 64-bit key in the arrays."""
    return int(_hashes([text])[0])


def _distinct(first: I64, second: I64) -> tuple[I64, I64] | None:
    """Each first hash once with its second hash, sorted by the first; None when a first hash comes with two
    different second hashes (two different ids share it)."""
    order = np.argsort(first)
    first, second = first[order], second[order]
    same = first[1:] == first[:-1]
    if (same & (second[1:] != second[:-1])).any():  # sorted by the first only: a run's odd one out meets a neighbour
        return None
    keep = np.r_[True, ~same][:len(first)]
    return first[keep], second[keep]


def _places(kinds: list[str]) -> list[int]:
    """Each record's place among the records of its type before it (its row in its type's block of the batch)."""
    seen: dict[str, int] = {}
    out = []
    for kind in kinds:
        out.append(seen.get(kind, 0))
        seen[kind] = out[-1] + 1
    return out


def _ints(values: list[int]) -> I64:
    """Hashes (or counts) as an int64 array."""
    return np.array(values, np.int64)


def _day(text: str | None) -> int:
    """An ISO date's ordinal, 0 for none."""
    return date.fromisoformat(text).toordinal() if text else 0


def _iso(day: int) -> str | None:
    """An ordinal back as the ISO date, None for 0."""
    return date.fromordinal(day).isoformat() if day else None
