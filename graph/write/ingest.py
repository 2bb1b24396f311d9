"""Write a validated batch into a store; its references are checked inside the store's write transaction."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from corpgraph.schema.batch import Batch, LoadPhase, WriteSummary
from corpgraph.schema.declaration import RELATIONS, entity_type
from corpgraph.schema.errors import Problem
from corpgraph.schema.kinds import EntityType, RelationType

from corpgraph.graph.write.allocation import StoredShares, check_allocation
from corpgraph.graph.write.retype import StoredRecords, TypeChange, endpoints, retype
from corpgraph.graph.write.rules import LOADING, declared_earlier, endpoint_problems, referenced_ids
from corpgraph.graph.stores.base import GraphStore, TypeLookup


def ingest(store: GraphStore, batch: Batch) -> WriteSummary:
    """Check references and native shares, then write the batch all-or-nothing, in one transaction.

    InvalidInput, and nothing written, when a check finds problems.

    The problems the batch carries (reading, validation) and the reference problems of the records that
    did validate are reported together. Placeholders (entities an importer made for references its file
    left open) never replace a stored entity; a real record replaces a stored placeholder, of any type
    (graph.write.retype). Both are decided inside the store's write transaction, so a concurrent load cannot
    slip in between.
    """
    placeholders = 0

    def check(stored_types: TypeLookup) -> list[Problem]:
        """Settle placeholders, then every problem of the batch, read under the write lock.

        The allocation check reads stored shares through the store itself: under the write lock that is the
        transaction's own connection (embedded) or what the previous writers committed (Neo4j).
        """
        nonlocal placeholders
        placeholders, problems = batch_problems(stored_types, store, batch)
        return problems

    summary = store.write(batch, check=check)
    summary.placeholders = placeholders
    return summary


class StoredForChecks(StoredShares, StoredRecords, Protocol):
    """What the checks of a batch read of the store it goes into, besides types (every GraphStore has it)."""


def batch_problems(stored_types: TypeLookup, stored: StoredForChecks, batch: Batch) -> tuple[int, list[Problem]]:
    """Settle the batch's placeholders, then every problem of it in line order (fields, references, types,
    share sums); how many placeholders are new. `stored_types` and `stored` read the store it goes into."""
    placeholders = settle_placeholders(stored_types, batch)
    problems = batch.problems + check_references(stored_types, batch, stored) + check_allocation(stored, batch)
    return placeholders, sorted(problems, key=lambda p: p.line)


def settle_placeholders(stored_types: TypeLookup, batch: Batch) -> int:
    """Drop the batch's placeholders for ids it defines for real or the store already holds; how many are new."""
    if not any(record.placeholder for record, _ in batch.entities):
        return 0
    real = {record.id for record, _ in batch.entities if not record.placeholder}
    open_ids = {record.id for record, _ in batch.entities if record.placeholder and record.id not in real}
    stored = stored_types(open_ids)
    new = open_ids - stored.keys()
    batch.entities = [(record, origin) for record, origin in batch.entities
                      if not record.placeholder or record.id in new]
    return len(new)


def check_references(stored_types: TypeLookup, batch: Batch, stored_records: StoredRecords) -> list[Problem]:
    """Problems with ids: unknown endpoints, endpoints of the wrong kind, entities changing type (but for
    stored placeholders, which the batch retypes: `batch.retyped`, graph.write.retype).

    `stored_types` and `stored_records` read the store; stores call this inside their write transaction
    (GraphStore.write), so a concurrent load cannot change a type between this check and the commit.
    """
    in_batch: dict[str, EntityType] = {}
    problems: list[Problem] = []
    for record, origin in batch.entities:
        kind = entity_type(record)
        if in_batch.get(record.id, kind) != kind:
            problems.append(origin.problem(*declared_earlier(record.id, in_batch[record.id])))
        in_batch[record.id] = kind
    wanted = {rec.id for rec, _ in batch.entities}
    for rec, _ in batch.relations:
        wanted.update(referenced_ids(rec))
    stored = stored_types(wanted)
    changes: list[TypeChange] = []
    for record, origin in batch.entities:
        old = stored.get(record.id)
        if old is not None and old != entity_type(record):
            changes.append(TypeChange(record.id, old, entity_type(record), origin))
    batch.retyped, changed = retype(changes, stored_records, stored_types, in_batch,
                                    {endpoints(rec) for rec, _ in batch.relations} if changes else ())
    problems += changed
    known = {**stored, **in_batch}
    for rec, origin in batch.relations:
        problems.extend(origin.problem(field, reason)
                        for field, reason in endpoint_problems(rec, known, LOADING, batch.failed_ids))
    return problems


def ingest_stream(store: GraphStore, label: str, batches: Iterable[Batch],
                  on_batch: Callable[[Batch], None] | None = None,
                  on_phase: Callable[[LoadPhase], None] | None = None) -> WriteSummary:
    """Write one file's validated batches all-or-nothing (the store's `write_stream`); InvalidInput with every
    problem of every batch. `on_phase` hears what the load is doing (LoadPhase), as the store can tell it."""
    return store.write_stream(label, batches, on_batch, on_phase)


def join_batches(label: str, batches: Iterable[Batch], on_batch: Callable[[Batch], None] | None = None) -> Batch:
    """A file's batches as one, problems in line order: for a store that writes a file in one transaction."""
    whole = Batch(label)
    for batch in batches:
        whole.entities.extend(batch.entities)
        whole.relations.extend(batch.relations)
        whole.problems.extend(batch.problems)
        whole.failed_ids |= batch.failed_ids
        if on_batch is not None:
            on_batch(batch)
    whole.problems.sort(key=lambda p: p.line)
    return whole
