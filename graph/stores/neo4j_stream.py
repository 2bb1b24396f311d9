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
"""
from __future__ import annotations

import ctypes
import ctypes.util
import pickle
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from corpgraph.schema.batch import Batch
from corpgraph.schema.declaration import EDGE_FIELDS, relation_id
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity

from corpgraph.graph.stores import cypher, cypher_loads
from corpgraph.graph.stores.base import ChangeRecorder, edge_values, refuse_problems
from corpgraph.graph.stores.bulk_columns import Gathered, document_hashes
from corpgraph.graph.stores.bulk_staging import BulkChecks
from corpgraph.graph.stores.codec import encode
from corpgraph.graph.stores.neo4j_steps import Step
from corpgraph.graph.stores.sqlite_prepare import native_owns  # the share check's one test of a native OWNS

Row = dict[str, Any]


class Streamed:
    """One streamed load's scratch state: the checks' arrays, the relations waiting for the checks, the change log."""

    def __init__(self, batch_size: int, row: Callable[[Entity], Row]) -> None:
        self.batch_size = batch_size
        self._row = row  # an entity's node properties (the store's: neo4j._entity_row)
        self._folder = Path(tempfile.mkdtemp(prefix="corpgraph-load-"))  # TMPDIR says where
        self._checks = BulkChecks(self._folder / "checks.spill")
        self._relations = (self._folder / "relations.spill").open("w+b")
        self._parts: list[tuple[int, int]] = []  # each batch's relation rows in the file: offset, length
        self.log = ChangeRecorder()  # lists ids up to CHANGE_LOG_IDS, then one bulk entry: bounded

    def __enter__(self) -> Streamed:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._checks.close()
        self._relations.close()
        shutil.rmtree(self._folder, ignore_errors=True)

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
        self._relations.flush()
        for offset, length in self._parts:
            self._relations.seek(offset)
            part: dict[RelationType, list[Row]] = pickle.loads(self._relations.read(length))
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
            data = pickle.dumps({kind: list(kept.values()) for kind, kept in rows.items()}, pickle.HIGHEST_PROTOCOL)
            self._parts.append((self._relations.tell(), len(data)))
            self._relations.write(data)
        self.log.wrote([rec.id for rec, _ in batch.entities], [id for kept in rows.values() for id in kept])
        for kind, row in real.values():
            yield from waiting.add((kind, False), row)
        for id, (kind, row) in placeholders.items():
            if id not in real:
                yield from waiting.add((kind, True), row, first=True)


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

