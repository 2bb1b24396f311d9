"""A file streamed into an empty Neo4j database with loader memory bounded by the batch (neo4j_loads.Loads.stream).

Neo4jStore.write_stream takes this path for a file of more than `batch_size` records when the database holds no
entity once the load is named (nobody else writes then: writes take turns with an unpublished load). One pass over
the file's batches, none of them kept:
- what the checks read of each batch goes into the bulk import's arrays (graph.stores.bulk_staging.BulkChecks:
  hashed ids, types, lines, shares, identifier keys, a few dozen bytes a record, in a scratch file until the end);
- its entities are written at once as the load's hidden chunk transactions (Loads._write_chunks); a later record of
  an id re-states the node this load wrote (relabelled if its type changed: a placeholder giving way), a placeholder
  never replaces one: as the checks take them, a placeholder counts only as the first record of its id, and the last
  real record of an id wins;
- its relations go to a second scratch file: one may name an entity of a later batch, and one whose endpoint is
  missing could not be written before the checks report it with every other problem.
At the end of the file the checks run once (BulkChecks.finish: what graph.write.ingest reports into an empty store,
word for word); any problem removes the load's records and reports them all; otherwise the relations are written
from the scratch file in chunks of one type (endpoints sought by `:Entity(id)`: their labels are settled only now),
and the load is published as every batched load is.

Into a database that already holds entities (StoredFacts), each batch also reads what was stored before the load of
the ids it names (types, placeholders, identifier keys; and the stored entities sharing an identifier with them), in
pages of batch_size ids, hidden records of the load left out; at the end of the file the checks put those records,
and the stored stakes into the companies a native OWNS of the file points at, before the file's
(bulk_staging.Stored), so they read the store as the joined check does. A stored record the file changes is not
touched until publication: its rows wait in a third scratch file (AsideSteps), and those stored as they are count as
unchanged; a load that changes nothing is dropped without a revision, as a joined one.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import pickle
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

import numpy as np

from corpgraph.schema.batch import Batch, Origin, WriteSummary
from corpgraph.schema.declaration import EDGE_FIELDS, relation_id
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity

from corpgraph.graph.stores import cypher, cypher_loads
from corpgraph.graph.stores.base import ChangeRecorder, EdgeRow, TypeLookup, edge_values, refuse_problems
from corpgraph.graph.stores.bulk_columns import Columns, Gathered, document_hashes
from corpgraph.graph.stores.bulk_staging import STORED_LABEL, BulkChecks
from corpgraph.graph.stores.codec import encode
from corpgraph.graph.stores.id_hashes import hashes, ints
from corpgraph.graph.stores.neo4j_known import Known
from corpgraph.graph.stores.neo4j_steps import Step
from corpgraph.graph.write.retype import StoredRecords
from corpgraph.graph.write.rules import referenced_ids
from corpgraph.graph.stores.sqlite_prepare import native_owns  # the share check's one test of a native OWNS

Row = dict[str, Any]


class Store(StoredRecords, Protocol):
    """What a streamed load reads of the database it goes into (a Neo4jStore)."""

    batch_size: int

    def entity_types(self, ids: Iterable[str]) -> dict[str, EntityType]:
        """Stored type per existing id."""
        ...

    def edges_into(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[EdgeRow]:
        """The analytic scalars of the relations of these types into the ids."""
        ...

    def _read(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        """One read statement's rows (published records only)."""
        ...


class Streamed:
    """One streamed load's scratch state: the checks' arrays, the relations waiting for the checks, the stored
    records it changes waiting for publication, the change log."""

    def __init__(self, batch_size: int, row: Callable[[Entity], Row], store: Store | None = None) -> None:
        self.batch_size = batch_size
        self._row = row  # an entity's node properties (the store's: neo4j._entity_row)
        self._folder = Path(tempfile.mkdtemp(prefix="corpgraph-load-"))  # TMPDIR says where
        self.known = Known()  # which of a chunk's ids its transaction probes
        # None: the database held no entity when the load was named, so none of the file's ids is stored
        self._stored = StoredFacts(store, self._folder, self.known) if store is not None else None
        self._checks = BulkChecks(self._folder / "checks.spill", self._stored)
        self._relations = ScratchLog(self._folder / "relations.spill")  # each batch's relation rows, by type
        self.aside = AsideSteps(self._folder / "aside.spill")
        # each chunk's stored records, hashed: found unchanged (False) or kept aside (True), with their types
        self._stored_seen: list[tuple[np.ndarray, bool, list[str]]] = []
        self._aside_ids = ints([])  # the hashed ids of those kept aside so far, sorted
        self.log = ChangeRecorder()  # lists ids up to CHANGE_LOG_IDS, then one bulk entry: bounded

    def __enter__(self) -> Streamed:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._checks.close()
        self._relations.close()
        self.aside.close()
        if self._stored is not None:
            self._stored.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def wrote(self, step: Step, kept: list[Step], same: set[str]) -> None:
        """One chunk committed (Loads._write_chunks): the stored records it would change go aside for publication
        (retyped placeholders relabelled first), those stored as they are are counted unchanged, the rest logged.

        A stored record kept aside and re-stated later as it is stored goes aside again: the file's last record of
        an id wins, as when it is joined."""
        rows: list[Row] = step.params["rows"]
        if same and len(self._aside_ids):
            again = [row for row, seen in zip(rows, np.isin(hashes(row["id"] for row in rows), self._aside_ids))
                     if seen and row["id"] in same]
            if again:  # written again as stored, and counted unchanged (as its last record is)
                self.aside.add(Step(step.statement, {"rows": again, "load": None}, len(again)))
        if same:
            self._stored_seen.append((hashes(same), False, []))
        for held in kept:
            ids = [row["id"] for row in held.params["rows"]]
            if step.relabel:  # a stored placeholder the file retypes keeps its old label until now
                self.aside.add(Step(step.relabel, {"ids": ids}, len(ids)))
            self.aside.add(held)
            self._stored_seen.append((hashes(ids), True, [row["type"] for row in held.params["rows"]]))
            self._aside_ids = np.union1d(self._aside_ids, hashes(ids))
        written = [row["id"] for row in rows if row["id"] not in same]
        if step.probe == cypher_loads.EXISTING_ENTITIES:
            self.log.wrote(written, [])
        else:
            self.log.wrote([], written)

    def summary(self, written: WriteSummary) -> WriteSummary:
        """What the load changed: the records it wrote (`written`, counted by the server) and the stored records it
        changes, per type; how many it found stored as they are."""
        if not self._stored_seen:
            return written
        ids = np.concatenate([h for h, _, _ in self._stored_seen])
        changed = np.concatenate([np.full(len(h), aside) for h, aside, _ in self._stored_seen])
        kinds = [kind for h, aside, types in self._stored_seen for kind in (types if aside else [""] * len(h))]
        order = np.argsort(ids, kind="stable")  # in chunk order within an id: its last record decides
        last = order[np.r_[ids[order][1:] != ids[order][:-1], True]]
        written.unchanged = int((~changed[last]).sum())
        for n in last[changed[last]].tolist():
            (written.entities if kinds[n] in _ENTITY_TYPES else written.relations)[kinds[n]] += 1
        return written

    def entity_steps(self, batches: Iterable[Batch], on_batch: Callable[[Batch], None] | None) -> Iterator[Step]:
        """Each batch taken as it is read; the entity chunks, each written once it is full (batch_size rows of one
        label: a batch holds entities of several), the rest at the end of the file."""
        waiting = _Waiting(self.batch_size)
        for batch in batches:
            for (kind, placeholder), chunk in self._take(batch, waiting):
                yield _entity_step(kind, placeholder, chunk)
            if on_batch is not None:
                on_batch(batch)
            _give_back()
        for (kind, placeholder), chunk in waiting.rest():
            yield _entity_step(kind, placeholder, chunk)

    def check(self) -> int:
        """Every problem of the file, as InvalidInput (BulkChecks.finish); else how many placeholders are left."""
        problems, placeholders, _ = self._checks.finish()
        refuse_problems(problems)
        return placeholders

    def relation_steps(self) -> Iterator[Step]:
        """The file's relations in chunks of up to batch_size of one type, read back from the scratch file in file
        order (a chunk holds the last row of each of its ids; a later chunk re-states an earlier one's)."""
        waiting = _Waiting(self.batch_size)
        part: dict[RelationType, list[Row]]
        for part in self._relations:
            for kind, rows in part.items():
                for row in rows:
                    for _, chunk in waiting.add((kind, False), row):
                        yield _relation_step(kind, chunk)
            _give_back()
        for (rest, _), chunk in waiting.rest():
            yield _relation_step(rest, chunk)

    def _take(self, batch: Batch, waiting: _Waiting) -> Iterator[tuple[Key, list[Row]]]:
        """Keep what the checks read of a batch, put its relation rows aside, note its ids; its entities wait by label
        (the last real record of each id, the first placeholder of an id with no real record in the batch): the
        chunks it fills."""
        real: dict[str, tuple[EntityType, Row]] = {}
        placeholders: dict[str, tuple[EntityType, Row]] = {}
        gathered = Gathered(batch.label)  # no CSV rows: each record's row number is 0
        for rec, origin in batch.entities:
            row = self._row(rec)
            gathered.entity(rec.id, rec.type, rec.placeholder, row["idkeys"], 0, origin)  # type: ignore[attr-defined]
            if rec.placeholder:
                placeholders.setdefault(rec.id, (EntityType(rec.type), row))  # type: ignore[attr-defined]
            else:
                real[rec.id] = (EntityType(rec.type), row)  # type: ignore[attr-defined]
        if self._stored is not None:  # what the database held of the ids the batch names, before the load
            named = set(real) | set(placeholders)
            keys = {key for _, row in itertools.chain(real.values(), placeholders.values()) for key in row["idkeys"] or ()}
            for relation, _ in batch.relations:
                named.update(referenced_ids(relation))
            self._stored.look(named, keys)
        rows = defaultdict[RelationType, dict[str, Row]](dict)
        for relation, origin in batch.relations:
            rel_id = relation_id(relation)
            values, doc, fields = edge_values(rel_id, relation), encode(relation), vars(relation)
            gathered.relation(values, (fields.get("valid_from"), fields.get("valid_to")), 0, document_hashes(doc),
                              native_owns(relation), origin)
            rows[RelationType(values[1])][rel_id] = {**dict(zip(EDGE_FIELDS, values)), "doc": doc}
        count = len(batch.entities), len(batch.relations)
        self._checks.take(gathered.columns(), batch.problems, batch.failed_ids,
                          np.zeros(count[0], np.int64), np.zeros(count[1], np.int64))  # no CSV rows
        if rows:
            self._relations.add({kind: list(kept.values()) for kind, kept in rows.items()})
        for kind, row in real.values():
            yield from waiting.add((kind, False), row)
        for id, (kind, row) in placeholders.items():
            if id not in real:
                yield from waiting.add((kind, True), row, first=True)


class StoredFacts:
    """What a load into a database in use reads of what the database held before it (bulk_staging.Stored): the
    stored records of the ids each batch names and of the entities sharing an identifier key with them, read as the
    batch is taken (pages of batch_size ids or keys, one statement each) and kept in a scratch file; the stakes and
    the owners' identifier keys the share check needs, read at the end. Every read leaves the load's own hidden
    records out (cypher.HIDDEN), and nobody else writes while the load is unpublished: one state, before the load."""

    def __init__(self, store: Store, folder: Path, known: Known) -> None:
        self._store = store
        self._known = known  # told every stored id found, so the chunks probe those only
        self.records: StoredRecords = store
        self.types: TypeLookup = store.entity_types
        self._found = ScratchLog(folder / "stored.spill")  # each batch's stored facts

    def close(self) -> None:
        """Close the scratch file (the caller deletes it)."""
        self._found.close()

    def look(self, ids: set[str], keys: set[str]) -> None:
        """Keep the stored records of the ids, and of the entities holding one of the keys or of those ids' keys."""
        found = self._facts(cypher.STORED_ENTITIES, "ids", sorted(ids))
        needles = {f"\n{key}\n" for key in keys} | {f"\n{key}\n" for *_, held in found for key in held or ()}
        found += self._facts(cypher.IDENTIFIER_HOLDERS, "needles", sorted(needles))
        self._known.stored(fact[0] for fact in found)
        if found:
            self._found.add(found)

    def entities(self) -> Columns:
        """Every record kept, one an id (bulk_staging.Stored)."""
        facts: dict[str, tuple[str, str, bool, list[str] | None]] = {}
        for found in self._found:
            for fact in found:
                facts.setdefault(fact[0], fact)
        gathered = Gathered(STORED_LABEL)
        for id, kind, placeholder, keys in facts.values():
            gathered.entity(id, kind, placeholder, keys, 0, Origin(STORED_LABEL, 0))
        return gathered.columns()

    def stakes(self, ids: list[str]) -> list[EdgeRow]:
        """The stored OWNS into the ids (bulk_staging.Stored)."""
        return self._store.edges_into(ids, [RelationType.OWNS])

    def keys(self, ids: list[str]) -> dict[str, list[str]]:
        """The stored identifier keys of the ids that have any (bulk_staging.Stored)."""
        return {id: held for id, _, _, held in self._facts(cypher.STORED_ENTITIES, "ids", ids) if held}

    def _facts(self, statement: str, name: str, values: list[str]) -> list[tuple[str, str, bool, list[str] | None]]:
        """(id, type, placeholder, identifier keys) of the stored entities a statement finds, `values` paged."""
        out = []
        for start in range(0, len(values), self._store.batch_size):
            page = values[start:start + self._store.batch_size]
            out += [(row["id"], row["type"], row["placeholder"], row["idkeys"]) for row in
                    self._store._read(statement, **{name: page, "placeholder": cypher.PLACEHOLDER_MARK})]
        return out


class ScratchLog:
    """Objects pickled one after another into a scratch file and read back in order, as often as asked (the
    streamed load's relations, stored facts and steps kept aside): loader memory holds none of them."""

    def __init__(self, path: Path) -> None:
        self._disk: IO[bytes] = path.open("w+b")
        self._parts: list[tuple[int, int]] = []  # each object's place in the file: offset, length

    def add(self, value: Any) -> None:
        """Keep one object, after the others."""
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        self._disk.seek(0, 2)  # after a read: append, not overwrite
        self._parts.append((self._disk.tell(), len(data)))
        self._disk.write(data)

    def __len__(self) -> int:
        return len(self._parts)

    def __iter__(self) -> Iterator[Any]:
        self._disk.flush()
        for offset, length in self._parts:
            self._disk.seek(offset)
            yield pickle.loads(self._disk.read(length))

    def close(self) -> None:
        """Close the scratch file (the caller deletes it)."""
        self._disk.close()


class AsideSteps:
    """The statements that write the stored records a load changes, kept in a scratch file until its publishing
    transaction reads them back, in order (as often as that transaction is run again): loader memory holds none."""

    def __init__(self, path: Path) -> None:
        self._steps = ScratchLog(path)

    def add(self, step: Step) -> None:
        """Keep one step."""
        self._steps.add((step.statement, step.params, step.expected))

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[Step]:
        return (Step(statement, params, expected) for statement, params, expected in self._steps)

    def close(self) -> None:
        """Close the scratch file (the caller deletes it)."""
        self._steps.close()


_ENTITY_TYPES = {kind.value for kind in EntityType}


def _give_back() -> None:
    """Return the C heap's free memory to the system (glibc's malloc_trim; elsewhere nothing).

    Why: a batch's records are made on this thread and its chunks' rows freed on the writer threads, whose glibc
    arenas keep what they freed: the loader's RSS grew by about 1.5 KB a record with no Python object alive
    (tracemalloc: +0.4 MB between the 5th and 12th batch of a 128,607-record file, RSS 277 -> 358 -> 465 MB), and
    stayed at 200 MB with malloc_trim(0) after each batch (or MALLOC_ARENA_MAX=2). One call a batch costs nothing
    measurable."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has malloc_trim), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()
Key = tuple[EntityType | RelationType, bool]  # a label or relation type, and whether its rows are placeholders


class _Waiting:
    """Rows waiting for their chunk, by key, the last row of an id kept (or, `first`, the first of any key of its kind):
    at most batch_size rows a key, so memory holds a chunk a label or type at most."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._rows: dict[Key, dict[str, Row]] = defaultdict(dict)

    def add(self, key: Key, row: Row, first: bool = False) -> Iterator[tuple[Key, list[Row]]]:
        """Add a row; the chunk it fills, if it does."""
        chunk = self._rows[key]
        if first:  # of any label: a placeholder waiting under another one came first
            if not any(row["id"] in rows for other, rows in self._rows.items() if other[1] == key[1]):
                chunk[row["id"]] = row
        else:
            chunk[row["id"]] = row
        if len(chunk) == self._size:
            yield key, list(chunk.values())
            chunk.clear()

    def rest(self) -> Iterator[tuple[Key, list[Row]]]:
        """The chunks not full, at the end."""
        for key, chunk in self._rows.items():
            if chunk:
                yield key, list(chunk.values())


def _entity_step(kind: EntityType | RelationType, placeholder: bool, rows: list[Row]) -> Step:
    """A chunk of entities of one label: new ids created; ids this load wrote before re-stated (relabelled first),
    but for placeholders, which leave them as they are (no statement)."""
    label = EntityType(kind)
    return Step("" if placeholder else cypher.merge_entities(label), {"rows": rows, "load": None}, len(rows),
                cypher_loads.EXISTING_ENTITIES, cypher_loads.CHANGED_ENTITIES, cypher.merge_entities(label, create=True),
                "" if placeholder else cypher.relabel_entities(label))


def _relation_step(kind: EntityType | RelationType, rows: list[Row]) -> Step:
    """A chunk of relations of one type, its endpoints sought whatever their labels."""
    kind = RelationType(kind)
    return Step(cypher.merge_relations(kind, None, None), {"rows": rows, "load": None}, len(rows),
                cypher_loads.existing_relations(kind), cypher_loads.changed_relations(kind),
                cypher.merge_relations(kind, None, None, create=True))

