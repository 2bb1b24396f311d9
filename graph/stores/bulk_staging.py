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
(the relations' endpoints, the entities' ids and any origin that is more than a file and a line), so memory holds
no Python object per record. Every batch's arrays wait in a second scratch file until the checks read them, one at
a time, so memory stays flat while the files are read and holds each array once at the checks' peak. The rooms:
graph.stores.bulk_columns (one batch's arrays, made in the workers), bulk_entities and bulk_relations (every
batch's, joined, and the lookups the checks make on them), id_hashes (the hashed ids); this module runs the checks.

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
written) when one first hash comes with two second hashes where the checks compare them (an entity's id with another
entity's, a reference's, an incident's or a failed id's; a relation's id with another's; an identifier key with
another); a run that misses a collision that way has about one chance in 10^24 at ten million ids. A relation's
documents are hashed the same way: two different documents of one relation with one first hash would take a re-stated
record for unchanged (its references not checked again), so they refuse the import too. Running the import again
hashes with a new seed (unless PYTHONHASHSEED is fixed).
"""
from __future__ import annotations

import itertools
import pickle
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, Protocol

import numpy as np

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import InvalidInput, Problem
from corpgraph.schema.kinds import RelationType

from corpgraph.graph.stores.base import EdgeRow, TypeLookup
from corpgraph.graph.stores.bulk_columns import HASHED, Columns, Gathered, Spilled
from corpgraph.graph.stores.bulk_entities import Batches, Entities
from corpgraph.graph.stores.bulk_relations import Relations, chunks
from corpgraph.graph.stores.id_hashes import (ENTITY_KINDS, I64, RELATION_KINDS, check_hashes as _check_hashes,
                                              collision, distinct as _distinct, hashes as _hashes,
                                              ints as _ints)
from corpgraph.graph.write.allocation import excess_reason, first_excess, may_exceed, owner_groups, stored_stake
from corpgraph.graph.write.retype import StoredRecords, TypeChange, retype
from corpgraph.graph.write.rules import LOADING, declared_earlier, endpoint_problems, referenced_ids

_PAGE = 500  # companies per share-check page: owners are grouped by identifier over a page, as StreamCheck does
STORED_LABEL = "(stored)"  # the label of the stored records' batch (Stored), never a file's


class Stored(Protocol):
    """What the checks of a load into a database in use read of what it held before the load (the stored records
    of the ids the files name, their stakes); the database's own StoredRecords and TypeLookup for retyping."""

    records: StoredRecords
    types: TypeLookup

    def entities(self) -> Columns:
        """The stored records of the ids the files name (and of those sharing an identifier with them), one an id."""
        ...

    def stakes(self, ids: list[str]) -> list[EdgeRow]:
        """The stored OWNS into the ids."""
        ...

    def keys(self, ids: list[str]) -> dict[str, list[str]]:
        """The stored identifier keys of the ids that have any."""
        ...


class BulkChecks:
    """The whole-import state of one bulk import: every batch's Columns (minus their spill, kept in a file).

    With `stored` (a streamed load into a database in use, graph.stores.neo4j_stream) batch 0 holds the stored
    records the checks need, put there at the end (`finish`): the ids the files name and their stakes, as earlier
    records the files' restate, so references, placeholders and share sums read them as the joined check reads
    the store (graph.write.ingest); a type change against them is worded and settled as there (graph.write.retype)."""

    def __init__(self, spill: Path, stored: Stored | None = None) -> None:
        self._spill: IO[bytes] = spill.open("w+b")
        self._spilled: list[tuple[int, int]] = []  # each batch's spill: offset, length
        self._labels: list[str] = []
        self._batches = Batches(spill.with_name(spill.name + ".arrays").open("w+b"))
        self._problems: list[tuple[tuple[int, int, int], Problem]] = []  # (batch, phase, place), problem
        self._failed: set[str] = set()
        self._entities = self._relations = 0
        self._stored = stored
        self._owner_keys: dict[int, list[int]] = {}  # stored owners no record names: their identifier keys, hashed
        if stored is not None:  # batch 0, filled at the end
            self._labels.append(STORED_LABEL)
            self._spilled.append((0, 0))

    def close(self) -> None:
        """Close the spill file (the caller deletes it)."""
        self._read.cache_clear()  # it holds this object
        self._spill.close()
        self._batches.disk.close()

    def take(self, batch: Columns, problems: list[Problem], failed_ids: set[str], ent_rows: I64,
             rel_rows: I64) -> None:
        """Keep one batch (its problems of validation, the ids that failed it, and each record's CSV row number)."""
        number = len(self._labels)
        self._problems += [((number, 0, n), problem) for n, problem in enumerate(problems)]
        self._failed |= failed_ids
        self._labels.append(batch.label)
        self._spilled.append((self._spill.tell(), len(batch.spill)))
        self._spill.write(batch.spill)
        self._batches.put(**_arrays(batch, number, ent_rows, rel_rows, self._entities, self._relations))
        self._entities += len(batch.ent_hash)
        self._relations += len(batch.rel_hash)

    def finish(self) -> tuple[list[Problem], int, dict[str, set[int]]]:
        """Every problem of the files, in line order; how many placeholders are left; the stale CSV rows by file
        (type), each a row a later record of its id replaced or a placeholder that gave way."""
        if self._stored is not None:
            self._put_stored(self._stored.entities(), "ent_", "key_")
        ents = Entities(self._batches, stored=self._stored is not None)
        if self._stored is not None:
            self._put_stored(self._stored_stakes(ents, self._stored), "rel_", "inc_")
        rels = Relations(self._batches, ents)
        self._refuse_collisions(ents, rels)
        again = list(ents.declared_earlier())
        for (n, earlier), id in zip(again, self._entity_ids(_ints([n for n, _ in again]), ents)):
            origin = self._origin("e", n - int(ents.first[ents.batch[n]]), ents.line[n], ents.batch[n])
            self._problems.append(((int(ents.batch[n]), 1, n), origin.problem(
                *declared_earlier(id, ENTITY_KINDS[earlier]))))
        if self._stored is not None:
            self._check_stored_types(ents, rels, self._stored)
        self._check_references(ents, rels)
        self._check_allocation(ents, rels)
        stale: dict[str, set[int]] = {}
        rows = self._batches.joined
        for kinds, types, row, gone in ((ENTITY_KINDS, ents.type, rows("ent_row", np.int64), ents.stale),
                                        (RELATION_KINDS, rels.type, rows("rel_row", np.int64), rels.stale)):
            for code in np.unique(types[gone]):
                stale[kinds[code].value] = set(row[gone & (types == code)].tolist())
        self._problems.sort(key=lambda entry: entry[0])  # StreamCheck's order, then by line as it sorts
        return sorted((p for _, p in self._problems), key=lambda p: p.line), ents.placeholders, stale

    def _refuse_collisions(self, ents: Entities, rels: Relations) -> None:
        """InvalidInput when two different ids of the files share one first hash (their second hashes differ) where
        the checks compare them (entity ids with each other and with the references, incidents and ids that failed;
        relation ids with each other; identifier keys with each other), or when two different documents of one
        relation do (a re-stated record would be taken as unchanged). Read off the arrays as Entities and Relations
        sorted them: no copy of the hashes, one reference array at a time."""
        failed = sorted(self._failed)
        refs = [(rels.source, "rel_source"), (rels.target, "rel_target"), (rels.inc_hash, "inc_hash")]
        unknown = [(_ints([]), _ints([]))]  # (first, second) of the ids no entity record has: compared among them
        collided = ents.collided or rels.collided
        arrays = ((h, self._batches.joined(f"{name}_check", np.int64)) for h, name in refs)  # one at a time
        for hashes, checks in itertools.chain(arrays, [(_hashes(failed), _check_hashes(failed))]):
            for part in chunks(len(hashes)):
                at, found = ents.lookup(hashes[part])
                collided |= bool((found & (ents.checks[at] != checks[part])).any())
                unknown.append((hashes[part][~found], checks[part][~found]))
        del ents.checks  # read only here
        keys = (ents.keys[0], self._batches.joined("key_hash_check", np.int64))
        collided |= _distinct(*keys) is None or _distinct(*map(np.concatenate, zip(*unknown))) is None
        if collided or rels.documents_collided:
            files = self._labels[1:] if self._stored is not None else self._labels
            raise InvalidInput([Problem(files[0] if files else "", 0, "id", collision(
                "ids" if collided else "documents of one relation", "its checks",
                "nothing was imported; run the import again"))])

    def _put_stored(self, part: Columns, *prefixes: str) -> None:
        """Put the stored records' arrays of these prefixes (entities, or relations) before the files' as batch 0,
        and its spill (the ids of its entities, the ends of its relations) where batch 0's is read."""
        arrays = _arrays(part, 0, np.zeros(len(part.ent_hash), np.int64), np.zeros(len(part.rel_hash), np.int64), 0, 0)
        self._batches.prepend({"key_of": len(part.ent_hash)} if "ent_" in prefixes else {"inc_at": len(part.rel_hash)},
                              **{name: array for name, array in arrays.items() if name.startswith(prefixes)})
        ends, extras, ids = pickle.loads(part.spill)
        if self._spilled[0][1]:  # the entities' ids are there already: the relations' ends join them
            ids = self._unpickle(0)[2]
        data = pickle.dumps((ends, extras, ids), pickle.HIGHEST_PROTOCOL)
        self._spilled[0] = (self._spill.seek(0, 2), len(data))
        self._spill.write(data)
        self._read.cache_clear()

    def _stored_stakes(self, ents: Entities, stored: Stored) -> Columns:
        """The stored stakes into every company a native OWNS of the files points at and into the ids identity merges
        with it, as batch 0's relations (the files' records of one of them come later: they win); the identifier
        keys of their owners no record names (for the owners' groups)."""
        targets = self._batches.peek("rel_target", np.int64)[self._batches.peek("rel_native_owns", np.bool_)]
        companies = np.unique(targets)
        merged = ents.merged()
        wanted = set(companies.tolist())
        for company in companies.tolist():
            wanted.update(merged.get(company, []))
        records = ents.ids_of(_ints(sorted(wanted)))
        names = self._entity_ids(records[records >= 0], ents)  # an id no record has is not stored
        gathered = Gathered(STORED_LABEL)
        stakes = stored.stakes(names) if names else []
        for row in stakes:
            values = (row.id, row.type.value, row.source, row.target, row.share, row.valid_from, row.valid_to, None,
                      row.share_min)
            dates = tuple(date.fromisoformat(day) if day else None for day in (row.valid_from, row.valid_to))
            gathered.relation(values, dates, 0, (0, 0), False, Origin(STORED_LABEL, 0))  # type: ignore[arg-type]
        owners = sorted({row.source for row in stakes})
        unnamed = [owner for owner, known in zip(owners, ents.lookup(_hashes(owners))[1].tolist()) if not known]
        self._owner_keys = {_hash(id): _hashes(keys).tolist() for id, keys in stored.keys(unnamed).items()}
        return gathered.columns()

    def _check_stored_types(self, ents: Entities, rels: Relations, stored: Stored) -> None:
        """A real record of the files whose id is stored as another type: refused, unless the stored record is a
        placeholder, which it retypes if the stored relations on it still hold (graph.write.retype, as the joined
        check: the types the files give over the stored ones; the files' own relations are checked apart)."""
        found = ents.stored_changes()
        if not found:
            return
        records = _ints([n for n, _ in found])
        changes = []
        for (n, old), id in zip(found, self._entity_ids(records, ents)):
            origin = self._origin("e", n - int(ents.first[ents.batch[n]]), ents.line[n], ents.batch[n])
            changes.append(TypeChange(id, ENTITY_KINDS[old], ENTITY_KINDS[int(ents.type[n])], origin))
        ids = sorted({change.id for change in changes})
        touching = stored.records.relations_touching(ids, list(RelationType))
        refs = sorted({ref for rel in touching for ref in referenced_ids(rel.record)} | set(ids))
        known = {ref: ENTITY_KINDS[t] for ref in refs if (t := _final_in_files(ents, _hash(ref))) >= 0}
        mine = np.isin(rels.source, _hashes(ids)) | np.isin(rels.target, _hashes(ids))
        checked = set()
        for n in np.flatnonzero(mine & (rels.batch > 0)).tolist():
            source, target, incident = self._ends(n, rels)
            checked.add((RELATION_KINDS[rels.type[n]].value, source, target, incident))
        _, problems = retype(changes, stored.records, stored.types, known, checked)
        self._problems += [((0, 1, k), problem) for k, problem in enumerate(problems)]  # all sorted by line after

    def _check_references(self, ents: Entities, rels: Relations) -> None:
        """endpoint_problems of each relation the arrays flag: against the types by its batch when every reference
        had a real record by then, else against the final types (ids that failed validation not reported)."""
        failed = _hashes(self._failed)
        flagged = rels.flagged(ents, failed)
        if self._stored is not None:
            flagged &= rels.batch > 0  # batch 0: the stored stakes, checked when they were written
        for n in np.flatnonzero(flagged).tolist():
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

    def _check_allocation(self, ents: Entities, rels: Relations) -> None:
        """first_excess of the companies a changed native OWNS points at whose owners' shares, all together (their
        identity merges' included), may pass 100%; a page of 500 companies (by id) at a time, as StreamCheck."""
        companies = np.unique(rels.target[rels.native_owns & ~rels.unchanged])
        merged = ents.merged()
        totals = rels.share_sums(companies)
        for company, others in merged.items():  # a company's merged identities' stakes count with its own
            at = int(np.searchsorted(companies, company))
            if at < len(companies) and companies[at] == company:
                totals[at] += sum(rels.share_sums(_ints(others)).tolist())
        exceeding = np.asarray(may_exceed(totals))  # type: ignore[arg-type]  # elementwise: one comparison
        if not exceeding.any():
            return
        names = self._names(companies, rels)
        # by id (companies come sorted by hash, and a stable sort keeps that order where two ids would tie)
        by_name = np.array(names, dtype=object).argsort(kind="stable")
        place = 0
        for start in range(0, len(names), _PAGE):
            members = by_name[start:start + _PAGE]
            page = [(names[k], int(companies[k])) for k in members[exceeding[members]].tolist()]
            # the stakes of the company and of its members, in any order: first_excess depends on none
            stakes = {name: [self._stake(n, rels) for m in [h, *merged.get(h, [])] for n in rels.into(m)]
                      for name, h in page}
            owners = sorted({stake.owner for held in stakes.values() for stake in held})
            keys = ents.keys_of([_hash(o) for o in owners])
            keys.update((h, self._owner_keys[h]) for o in owners if (h := _hash(o)) not in keys and h in self._owner_keys)
            one_owner = owner_groups(dict(zip(self._names(_ints(list(keys)), rels),
                                              ([str(k) for k in held] for held in keys.values()))))
            for name, _ in page:
                found = first_excess([s._replace(owner=one_owner.get(s.owner, s.owner)) for s in stakes[name]])
                if found is not None:
                    day, held, origin = found
                    self._problems.append(((len(self._labels), 4, place), origin.problem(
                        "share", excess_reason(name, day, held))))
                    place += 1

    def _stake(self, n: int, rels: Relations) -> Any:
        """The stake of the relation record n (its last record), from the last native OWNS record of its id."""
        native = rels.last_native(n)
        origin = None if native < 0 else self._origin(
            "r", native - int(rels.first[rels.batch[native]]), rels.line[native], rels.batch[native])
        row = EdgeRow("", RelationType.OWNS, self._ends(n, rels)[0], "", float(rels.minimum[n]),
                      _iso(int(rels.valid_from[n])), _iso(int(rels.valid_to[n])), None)
        return stored_stake(row, origin)

    def _names(self, hashes: I64, rels: Relations) -> list[str]:
        """The ids hashed to these: an entity's, else a relation's reference (an id no record defines)."""
        records = rels.ents.ids_of(hashes)
        found = records >= 0
        names: list[str | None] = [None] * len(records)
        for k, id in zip(np.flatnonzero(found).tolist(), self._entity_ids(records[found], rels.ents)):
            names[k] = id
        out = []
        for name, h in zip(names, hashes.tolist()):
            if name is None:
                n = rels.naming(h)
                name = self._ends(n, rels)[int(rels.target[n] == h)]
            out.append(name or "")
        return out

    def _ends(self, n: int, rels: Relations) -> tuple[str, str, str | None]:
        """Relation record n's source, target and incident, from its batch's spill."""
        batch = int(rels.batch[n])
        ends: tuple[str, str, str | None] = self._read(batch)[0][n - int(rels.first[batch])]
        return ends

    def _origin(self, kind: str, n: int, line: Any, batch: Any) -> Origin:
        """Where record n of its batch (kind "e" or "r", n within the batch) was read."""
        where = self._read(int(batch))[1].get((kind, n))
        return Origin(*where) if where else Origin(self._labels[int(batch)], int(line))

    def _entity_ids(self, records: I64, ents: Entities) -> list[str]:
        """The ids of entity records (their numbers in the files), read back from their batches' spills (one read a
        batch: many records at once are read past the cache, which holds few batches)."""
        out = [""] * len(records)
        batch_of = ents.batch[records]
        read = self._read if len(records) <= _PAGE else self._unpickle
        for batch in np.unique(batch_of).tolist():
            ids, start = read(batch)[2], int(ents.first[batch])
            for k in np.flatnonzero(batch_of == batch).tolist():
                out[k] = ids[int(records[k]) - start]
        return out

    @lru_cache(maxsize=64)  # noqa: B019 (one import, one object: the cache goes with it)
    def _read(self, batch: int) -> Spilled:
        """A batch's spill (cached)."""
        return self._unpickle(batch)

    def _unpickle(self, batch: int) -> Spilled:
        """A batch's spill, read from the file."""
        offset, length = self._spilled[batch]
        self._spill.seek(offset)
        spilled: Spilled = pickle.loads(self._spill.read(length))
        self._spill.seek(0, 2)
        return spilled


def _arrays(batch: Columns, number: int, ent_rows: I64, rel_rows: I64, entities: int, relations: int
            ) -> dict[str, np.ndarray]:
    """A batch's arrays as the checks keep them (its number, its records' CSV rows; `entities` and `relations`:
    how many records came before it, which its record numbers are offset by)."""
    return dict(
        ent_hash=batch.ent_hash, ent_type=batch.ent_type, ent_placeholder=batch.ent_placeholder,
        ent_line=batch.ent_line, ent_row=ent_rows.astype(np.int64),
        ent_batch=np.full(len(batch.ent_hash), number, np.int32),
        key_hash=batch.key_hash, key_of=batch.key_of.astype(np.int64) + entities,
        rel_hash=batch.rel_hash, rel_type=batch.rel_type, rel_source=batch.rel_source,
        rel_target=batch.rel_target, rel_doc=batch.rel_doc, rel_native_owns=batch.rel_native_owns,
        rel_minimum=batch.rel_minimum, rel_from=batch.rel_from, rel_to=batch.rel_to, rel_line=batch.rel_line,
        rel_row=rel_rows.astype(np.int64), rel_batch=np.full(len(batch.rel_hash), number, np.int32),
        inc_at=batch.inc_at.astype(np.int64) + relations, inc_hash=batch.inc_hash,
        **{f"{name}_check": check for name, check in zip(HASHED, batch.checks)})


def _final_in_files(ents: Entities, h: int) -> int:
    """The type code of the id's last kept record when it is one of the files', else -1 (stored or no record)."""
    at, found = ents.lookup(_ints([h]))
    if not found[0]:
        return -1
    final = int(ents.final[at[0]])
    return int(ents.type[final]) if ents.batch[final] > 0 else -1


def _hash(text: str) -> int:
    """One id's 64-bit key in the arrays."""
    return int(_hashes([text])[0])


def _iso(day: int) -> str | None:
    """An ordinal back as the ISO date, None for 0."""
    return date.fromordinal(day).isoformat() if day else None
