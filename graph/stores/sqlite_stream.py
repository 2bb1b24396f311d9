"""Load one file in batches inside one embedded-store transaction, with the whole-file checks kept in SQL.

`corpgraph.graph.write.ingest.ingest` holds a whole file's records in memory to check them; this module writes each
validated batch as it comes and keeps only what the end-of-file checks need, in TEMP tables of the same
SQLite transaction (so memory stays bounded whatever the file size, and a ROLLBACK drops them too):

- the ids the file defines, their type, and whether each is a placeholder this file made: not a table, numpy arrays
  of hashed ids (graph.stores.sqlite_ids.FileIds), as are a batch's endpoint checks;
- `load_failed`: ids of entity records that failed validation (references to them are not reported again);
- `load_rels`: the relation records whose endpoints could not be settled when their batch was written
  (a reference to an entity of a later batch, or to a placeholder this file made), with where they came from;
- the file's native OWNS records, for the origins the share check reports: not a table either, arrays by hash
  (graph.stores.sqlite_ids.Stakes: relation id, target, line), with `load_origins` holding the rest of an origin
  for the few that are not just a line of the file (a pointer, fields, another file);
- `load_targets`: the targets of the native OWNS records the write changed, the companies the share check reads.

Per batch: entity type changes are checked against what the file declared earlier and what was stored (a
real record may retype a stored placeholder, whose stored relations must then join the new type:
graph.write.retype); placeholders are written only for ids nobody holds yet; once the batch is written,
each relation whose endpoints are all held for real (stored, or real records of the file so far) is checked
at once; the others wait in `load_rels`. At the end of the file, before COMMIT: the relations that waited (graph.write.ingest's
rules), and the owners' share sums of each company a native OWNS touches (graph.write.allocation's rules), read
through the transaction's own connection. Every problem of every batch is reported together; with any,
the caller rolls back.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator
from types import SimpleNamespace
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.batch import Batch, Origin
from corpgraph.schema.declaration import entity_type
from corpgraph.schema.errors import Problem
from corpgraph.schema.kinds import EntityType, RelationType

from corpgraph.graph.write.allocation import (Stake, excess_reason, first_excess, may_exceed, owner_groups,
                                              stored_stake)
from corpgraph.graph.write.retype import Endpoints, StoredRecords, TypeChange, retype
from corpgraph.graph.write.rules import LOADING, declared_earlier, endpoint_problems, referenced_ids
from corpgraph.graph.stores.base import EdgeRow, TypeLookup
from corpgraph.graph.stores.id_hashes import SOURCES, TARGETS, hashes
from corpgraph.graph.stores.sqlite_prepare import PreparedBatch, RelationEnds, Where, origin_of
from corpgraph.graph.stores.sqlite_ids import FileIds, Runs, Stakes, Written

T = TypeVar("T")
_PAGE = 500  # ids per IN list (under SQLite's bound-parameter limit)
_DDL = (
    "CREATE TEMP TABLE load_failed (id TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TEMP TABLE load_rels (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL, "
    "target TEXT NOT NULL, incident TEXT, file TEXT NOT NULL, line INTEGER NOT NULL, pointer TEXT, fields TEXT)",
    "CREATE TEMP TABLE load_targets (target TEXT NOT NULL)",
    "CREATE TEMP TABLE load_origins (seq INTEGER PRIMARY KEY, file TEXT NOT NULL, line INTEGER NOT NULL, "
    "pointer TEXT, fields TEXT)",
)
# Built once by `finish`, the only reader by target: kept up row by row it cost more than the inserts themselves
# (a random B-tree insert per native OWNS into TEMP pages under a 2 MiB cache).
_TARGETS_IN_ORDER = "CREATE INDEX temp.load_targets_target ON load_targets(target)"
_TABLES = ("load_failed", "load_rels", "load_targets", "load_origins")


class StreamCheck:
    """The whole-file state of one streamed load, in TEMP tables of the writing connection."""

    def __init__(self, db: sqlite3.Connection, stored_types: TypeLookup, edges_into,  # type: ignore[no-untyped-def]
                 records: StoredRecords, label: str = "", empty: bool = False) -> None:
        self._db = db
        self._ids = FileIds(label)
        self._label = label
        self._stakes = Stakes()  # the file's native OWNS, by hash
        self._targets = Runs(np.int64)  # the targets of changed stakes so far, by first hash: the second beside it
        self._written = Written()  # relation ids of the load, when the store was empty before it
        self._stored_types = stored_types
        self._empty = empty  # the store held nothing before the load: an id the file does not define is not stored
        self._records = records  # read through `db` too: what the file wrote so far is there
        self._edges_into = edges_into  # the analytic columns only: no stored document decoded for the share check
        self.problems: list[Problem] = []
        self.new_ids: set[str] = set()  # ids of the last admitted batch that neither the store nor the file held
        self.drop()
        for statement in _DDL:
            db.execute(statement)

    def drop(self) -> None:
        """Remove the TEMP tables (before COMMIT; a ROLLBACK removes them by itself)."""
        for table in _TABLES:
            self._db.execute(f"DROP TABLE IF EXISTS temp.{table}")

    def admit(self, batch: PreparedBatch) -> None:
        """Check one batch against the file so far and the store, and keep what the end checks need.

        Drops the batch's placeholders for ids that are already held (stored, or earlier in the file) or
        defined for real in the batch; the caller then writes what is left.
        """
        self.problems.extend(batch.problems)
        self._db.executemany("INSERT OR IGNORE INTO load_failed(id) VALUES (?)", ((i,) for i in batch.failed_ids))
        real = [(rec, where) for rec, where in batch.entities if not rec.placeholder]
        self._check_types(real)
        real_ids = {rec.id for rec, _ in real}
        open_ids = {rec.id for rec, _ in batch.entities if rec.placeholder and rec.id not in real_ids}
        held = self._stored_types(open_ids).keys() if open_ids else set()
        kept, seen = [], set()
        for rec, where in batch.entities:
            if rec.placeholder and (rec.id in real_ids or rec.id in held or rec.id in seen):
                continue
            if rec.placeholder:
                seen.add(rec.id)
            kept.append((rec, where))
        batch.entities = kept
        self.new_ids.update(r.id for r, _ in kept if r.placeholder)  # nobody holds them: they have no index rows
        placeholders = [r for r, _ in kept if r.placeholder]
        self._ids.put([r.id for r in placeholders], [EntityType(r.type) for r in placeholders], placeholder=True)

    def unwritten_relations(self, batch: PreparedBatch) -> set[str]:
        """The batch's relation ids that the store cannot hold yet (a store empty before the load that has not
        written them): nothing to compare them with, so the caller does not look them up. Empty otherwise."""
        if not self._empty:
            return set()
        relations = batch.relations
        return {relations[n][0].id for n in np.flatnonzero(self._written.unwritten(batch.ends.id)).tolist()}

    def relations_written(self, batch: PreparedBatch, rel_ids: list[str], unchanged: Collection[str] = ()) -> None:
        """After the batch is written: check each relation whose endpoints are all held for real now; keep the
        others (a later batch's entity, a placeholder of this file) for the end, and every native OWNS.

        Relations in `unchanged` are stored exactly so (their references were checked when they were written):
        they are not checked again, and the share sums are checked only for companies a changed stake touches.
        """
        changed = np.array([i not in unchanged for i in rel_ids], np.bool_) if unchanged \
            else np.ones(len(rel_ids), np.bool_)
        ready, fits = self._endpoint_codes(batch.ends)
        for n in np.flatnonzero(changed & ready & ~fits).tolist():  # a wrong type, or an incident: the rules say which
            rec, where = batch.relations[n]
            view = _record(rec.type, rec.source, rec.target, rec.incident)
            known, _ = self._ids.types(referenced_ids(view))
            self.problems.extend(origin_of(where).problem(field, reason)
                                 for field, reason in endpoint_problems(view, known, LOADING))
        self._check_or_wait([(view, where, referenced_ids(view)) for view, where in
                             ((_record(rec.type, rec.source, rec.target, rec.incident), where) for rec, where in
                              map(batch.relations.__getitem__, np.flatnonzero(changed & ~ready).tolist()))])
        self._stakes_written(batch, changed)

    def _stakes_written(self, batch: PreparedBatch, changed: NDArray[np.bool_]) -> None:
        """Keep the batch's native OWNS (Stakes), the rest of the origins that are more than a line of the file, and
        the targets of those the write changed (strings: the share check reads the store by them)."""
        ends, relations = batch.ends, batch.relations
        native = np.flatnonzero(ends.native_owns)
        first = self._stakes.add(ends.id[native], ends.target[native], ends.line[native])
        plain = ends.plain[native] if batch.label == self._label else np.zeros(len(native), np.bool_)
        self._db.executemany("INSERT INTO load_origins(seq, file, line, pointer, fields) VALUES (?, ?, ?, ?, ?)",
                             ((first + k, *_columns(relations[n][1])) for k, n in
                              zip(np.flatnonzero(~plain).tolist(), native[~plain].tolist())))
        self._db.executemany("INSERT INTO load_targets(target) VALUES (?)",
                             ((relations[n][0].target,) for n in self._new_targets(ends, native[changed[native]])))

    def _new_targets(self, ends: RelationEnds, stakes: NDArray[np.intp]) -> list[int]:
        """Of the changed stakes, one for each target not named before by both its hashes (a company owned by many
        is kept once, not once a stake); where two targets share a first hash, each is kept every time (never
        taken for the other: `load_targets` is read DISTINCT)."""
        first, second = ends.target[stakes], ends.target_check[stakes]
        run, at = self._targets.find(first)
        fresh = (run < 0) | (self._targets.column(0, run, at) != second)
        stakes, first, second, run = stakes[fresh], first[fresh], second[fresh], run[fresh]
        _, once, back = np.unique(first, return_index=True, return_inverse=True)
        kept = second != second[once][back]  # another target sharing the first hash in this batch
        kept[once] = True
        self._targets.add(first[once][run[once] < 0], second[once][run[once] < 0])
        return stakes[kept].tolist()  # type: ignore[no-any-return]

    def _endpoint_codes(self, ends: RelationEnds) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Per relation: whether every id it references is a real record of the file so far (its type settled
        there), and, of those, whether its endpoints' types fit its type and it names no incident (nothing to say)."""
        kinds = ends.kind.astype(np.int64)
        source = self._ids.lookup(ends.source, ends.source_check)
        target = self._ids.lookup(ends.target, ends.target_check)
        ready = source.real() & target.real()
        ready[ends.incident_at] &= self._ids.lookup(ends.incident, ends.incident_check).real()
        fits: NDArray[np.bool_] = SOURCES[kinds, source.code] & TARGETS[kinds, target.code]
        fits[ends.incident_at] = False
        return ready, fits

    def _check_or_wait(self, relations: list) -> None:  # type: ignore[type-arg]
        """Relations not settled by the file so far: checked now when every id they reference is held for real
        (by the store, or by the file), else kept in `load_rels` for the end."""
        wanted = sorted({ref for _, _, refs in relations for ref in refs})
        known, provisional = self._ids.types(wanted)
        known.update(self._stored_before([ref for ref in wanted if ref not in known]))
        waiting = []
        for rec, where, refs in relations:
            if all(ref in known and ref not in provisional for ref in refs):
                self.problems.extend(origin_of(where).problem(field, reason)
                                     for field, reason in endpoint_problems(rec, known, LOADING))
            else:
                waiting.append((rec.type, rec.source, rec.target, rec.incident, *_columns(where)))
        self._db.executemany("INSERT INTO load_rels(type, source, target, incident, file, line, pointer, fields) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", waiting)

    def _check_types(self, real: list) -> None:  # type: ignore[type-arg]
        """Entities changing type: against earlier records of the file, then against the store (where only a
        placeholder may change type, its relations stored so far checked against the new one)."""
        ids = sorted({rec.id for rec, _ in real})
        types, placeholders = self._ids.types(ids)
        declared = {i: (kind, i in placeholders) for i, kind in types.items()}
        in_file = set(declared)  # ids the file held before this batch
        before = self._stored_before([i for i in ids if i not in declared])
        changes: list[TypeChange] = []
        for rec, where in real:
            kind = entity_type(rec)
            earlier = declared.get(rec.id)
            if earlier is not None and not earlier[1] and earlier[0] != kind:
                self.problems.append(origin_of(where).problem(*declared_earlier(rec.id, earlier[0])))
            elif earlier is None and before.get(rec.id, kind) != kind:
                changes.append(TypeChange(rec.id, before[rec.id], kind, origin_of(where)))
            declared[rec.id] = (kind, False)
        if changes:  # before the batch is written: the relations stored so far are those to check
            known = {rec.id: entity_type(rec) for rec, _ in real}
            self.problems += retype(changes, self._records, self._stored_types, known,
                                    self._waiting([change.id for change in changes]))[1]
        self._ids.put(ids, [declared[i][0] for i in ids], placeholder=False)
        self.new_ids = {rec.id for rec, _ in real} - in_file - before.keys()

    def _stored_before(self, ids: list[str]) -> dict[str, EntityType]:
        """The stored types of ids the file does not define (so stored before the load): none in a store that was
        empty, without asking it."""
        return {} if self._empty else self._stored_types(ids)

    def _waiting(self, ids: list[str]) -> set[Endpoints]:
        """The relations touching the ids that wait for the end of the file (checked there, not again apart)."""
        out: set[Endpoints] = set()
        for page in _pages(ids):
            out.update(self._db.execute(f"SELECT type, source, target, incident FROM load_rels WHERE source IN "
                                        f"({marks(page)}) OR target IN ({marks(page)})", page + page))
        return out

    def finish(self) -> tuple[list[Problem], int]:
        """Every problem of the file, in line order, and how many placeholders it made (once all is written)."""
        self._db.execute(_TARGETS_IN_ORDER)
        self._check_references()
        self._check_allocation()
        return sorted(self.problems, key=lambda p: p.line), self._ids.placeholders()

    def _check_references(self) -> None:
        """The endpoints of each relation that waited, against what the transaction holds now (store and file)."""
        last = 0
        while True:
            rows = self._db.execute("SELECT seq, type, source, target, incident, file, line, pointer, fields "
                                    "FROM load_rels WHERE seq > ? ORDER BY seq LIMIT 5000", (last,)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            wanted = sorted({ref for row in rows for ref in row[2:5] if ref})
            known = self._stored_types(wanted)
            failed: set[str] = set()
            for page in _pages([ref for ref in wanted if ref not in known]):
                failed.update(i for (i,) in self._db.execute(
                    f"SELECT id FROM load_failed WHERE id IN ({marks(page)})", page))
            for _, kind, source, target, incident, *where in rows:
                self.problems.extend(_origin(*where).problem(field, reason) for field, reason in
                                     endpoint_problems(_record(kind, source, target, incident), known, LOADING, failed))

    def _check_allocation(self) -> None:
        """Owners' shares of each company a native OWNS of the file touches, a page of companies at a time."""
        last = ""
        while True:
            page = [c for (c,) in self._db.execute(
                "SELECT DISTINCT target FROM load_targets WHERE target > ? ORDER BY target LIMIT ?",
                (last, _PAGE))]
            if not page:
                return
            last = page[-1]
            of_member = self._merged(page)
            page, of_member = self._may_exceed(page, of_member)
            stakes: dict[str, dict[str, Stake]] = {c: {} for c in page}
            stored: list[EdgeRow] = self._edges_into(sorted(of_member), [RelationType.OWNS])
            origins = self._last_native_origins(stored)
            for row in stored:
                for company in of_member[row.target]:
                    stakes[company][row.id] = stored_stake(row, origins.get(row.id))
            one_owner = owner_groups(self._keys_of(sorted({stake.owner for held in stakes.values()
                                                          for stake in held.values()})))
            for company in page:
                found = first_excess([stake._replace(owner=one_owner.get(stake.owner, stake.owner))
                                      for stake in stakes[company].values()])
                if found is not None:
                    day, held, origin = found
                    self.problems.append(origin.problem("share", excess_reason(company, day, held)))

    def _may_exceed(self, page: list[str], of_member: dict[str, list[str]]
                    ) -> tuple[list[str], dict[str, list[str]]]:
        """The companies of the page whose owners' stakes, all of them together (their members' included), reach
        100% (graph.write.allocation.may_exceed), and the members of those; read as one sum per member in SQL,
        so the many companies that cannot exceed cost no stake, no origin and no day-by-day walk."""
        totals = dict.fromkeys(page, 0.0)
        for chunk in _pages(sorted(of_member)):
            for member, total in self._db.execute(
                    f"SELECT target, SUM(COALESCE(share, share_min, 0.0)) FROM relations WHERE target IN "
                    f"({marks(chunk)}) AND +type = ? GROUP BY target", [*chunk, RelationType.OWNS.value]):
                for company in of_member[member]:
                    totals[company] += total
        kept = [c for c in page if may_exceed(totals[c])]
        wanted = set(kept)
        return kept, {m: held for m, companies in of_member.items() if (held := [c for c in companies if c in wanted])}

    def _keys_of(self, ids: list[str]) -> dict[str, list[str]]:
        """The identifier keys of each id, as the transaction holds them."""
        out: dict[str, list[str]] = {}
        for chunk in _pages(ids):
            for id, key in self._db.execute(f"SELECT entity_id, key FROM identifiers WHERE entity_id IN "
                                            f"({marks(chunk)}) ORDER BY entity_id, key", chunk):
                out.setdefault(id, []).append(key)
        return out

    def _merged(self, page: list[str]) -> dict[str, list[str]]:
        """Every id that shares an identifier with a company of the page, as the transaction holds them (the
        company itself included), with the companies it merges with (graph.allocation's rule)."""
        out: dict[str, list[str]] = {c: [c] for c in page}
        rows = self._db.execute(f"SELECT DISTINCT a.entity_id, b.entity_id FROM identifiers a JOIN identifiers b "
                                f"ON a.key = b.key WHERE a.entity_id IN ({marks(page)}) AND b.entity_id != a.entity_id",
                                page).fetchall()
        for company, member in rows:
            out.setdefault(member, []).append(company)
        return out

    def _last_native_origins(self, stored: list[EdgeRow]) -> dict[str, Origin]:
        """Where the file's last record of each stored relation came from, when it is a native OWNS of the file
        (Stakes, by hash; the rest of an origin that is more than a line from `load_origins`)."""
        seq, line = self._stakes.last(hashes([row.id for row in stored]), hashes([row.target for row in stored]))
        found = np.flatnonzero(seq >= 0).tolist()
        more: dict[int, tuple[str, str | None, str | None]] = {}
        for page in _pages([int(seq[n]) for n in found]):
            more.update((n, (file, pointer, fields)) for n, file, pointer, fields in self._db.execute(
                f"SELECT seq, file, pointer, fields FROM load_origins WHERE seq IN ({marks(page)})", page))
        out: dict[str, Origin] = {}
        for n in found:
            file, pointer, fields = more.get(int(seq[n]), (self._label, None, None))
            out[stored[n].id] = _origin(file, int(line[n]), pointer, fields)
        return out


def _record(kind: str, source: str, target: str, incident: str | None) -> SimpleNamespace:
    """A relation as the rules read it (graph.write.rules reads its fields by vars(), which a stand-in has not)."""
    return SimpleNamespace(type=kind, source=source, target=target, incident=incident)


def _columns(where: Where) -> tuple[str, int, str | None, str | None]:
    """Where a record came from as its TEMP-table columns (file, line, pointer, fields as JSON)."""
    file, line, pointer, fields = where
    return file, line, pointer, json.dumps(dict(fields)) if fields else None


def _origin(file: str, line: int, pointer: str | None, fields: str | None) -> Origin:
    """An Origin back from its load_rels columns."""
    return Origin(file, line, pointer, json.loads(fields) if fields else None)


def _pages(items: list[T]) -> Iterator[list[T]]:
    """Split an id list into pages under SQLite's bound-parameter limit."""
    for start in range(0, len(items), _PAGE):
        yield items[start:start + _PAGE]


def marks(items: Collection[object]) -> str:
    """Placeholders for an IN list (never values: those are bound)."""
    return ", ".join("?" * len(items))  # "?, ?, ?": joined over a string's characters, no generator
