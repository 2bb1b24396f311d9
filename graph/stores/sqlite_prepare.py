"""What the embedded store writes of each record, worked out before the write: its document, its row and its index
keys, in small stand-ins that replace the pydantic records in the batch.

Everything here needs one record alone, so a streamed load (`corpgraph load`) can do it in the processes that
validate the file (loaders.validate's `iter_batches` with `work=prepare`, loaders.workers) while the writing process
only runs SQL and the checks that read the file so far (graph.stores.sqlite_stream). What travels is the strings
the store writes, never a pydantic record (unpickling one costs about what validating its line does): a batch
pickles its stand-ins and their origins as plain tuples (PreparedBatch.__reduce__), so unpickling it constructs
nothing a record in Python. The checks read the stand-ins' fields under the records' own names (id, type,
placeholder; type, source, target, incident, sources); the rules that read a record's fields by vars() are given
a view of the few relations they check (sqlite_stream).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.batch import Batch, Origin
from corpgraph.schema.declaration import relation_id
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Entity, Relation

from corpgraph.graph.identity.identifiers import entity_identifier_keys
from corpgraph.graph.identity.topics import entity_topic_keys
from corpgraph.graph.write.allocation import imported
from corpgraph.graph.stores.base import edge_values
from corpgraph.graph.stores.codec import encode, entity_keys
from corpgraph.graph.stores.id_hashes import I64, RELATION_KINDS, check_hashes, hashes

_RELATION_CODES = {kind.value: code for code, kind in enumerate(RELATION_KINDS)}


class PreparedEntity(NamedTuple):
    """An entity as the store writes it: id, type, name, document, search keys, identifier and topic keys."""

    id: str
    type: str
    placeholder: bool
    name: str
    doc: str
    keys: list[str]
    idkeys: list[str]
    topics: list[str]


class PreparedRelation(NamedTuple):
    """A relation as the store writes it (its row: edge_values and document) and as the checks read it: the row's
    id, type, endpoints and document stand beside it as fields (the same strings: pickled once, read in C)."""

    id: str
    type: str
    source: str
    target: str
    doc: str
    row: tuple[Any, ...]  # edge_values then the document: the relations table's row, in its columns' order
    incident: str | None  # only data supplies name one
    imported: bool

    @property
    def sources(self) -> tuple[_Imported, ...]:
        """What graph.write.allocation.imported reads: one source carrying a record id when imported."""
        return _IMPORTED if self.imported else ()


class _Imported:
    """A source carrying its record's own id (graph.write.allocation.imported reads only that)."""

    record_id = "(imported)"


_IMPORTED = (_Imported(),)
Where = tuple[str, int, str | None, Mapping[str, str] | None]  # an Origin's fields, in its order
_entity = partial(tuple.__new__, PreparedEntity)  # a stand-in from its plain tuple, no Python frame a record
_relation = partial(tuple.__new__, PreparedRelation)


@dataclass
class RelationEnds:
    """A batch's relations as the load's endpoint check reads them, in the batch's order: type codes
    (id_hashes.RELATION_KINDS), the endpoints' two hashes, which are native OWNS, and the incidents named (where,
    and their hashes), the relations' own ids hashed, and the line each came from (`plain` where its origin is just
    the batch's file and that line). Made where the batch is prepared: hashing is per id work a validating worker
    takes over."""

    id: I64
    kind: NDArray[np.int8]
    source: I64
    source_check: I64
    target: I64
    target_check: I64
    native_owns: NDArray[np.bool_]
    incident_at: NDArray[np.int64]
    incident: I64
    incident_check: I64
    line: I64
    plain: NDArray[np.bool_]


@dataclass
class PreparedBatch(Batch):
    """A batch of stand-ins, each with where it came from as a plain tuple (origin_of makes the Origin where a
    problem is reported), and its relations' RelationEnds."""

    entities: list[tuple[PreparedEntity, Where]] = field(default_factory=list)  # type: ignore[assignment]
    relations: list[tuple[PreparedRelation, Where]] = field(default_factory=list)  # type: ignore[assignment]
    ends: RelationEnds = field(default_factory=lambda: relation_ends([], [], ""))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its stand-ins as plain tuples (a worker sends it to the writing process), so unpickling
        runs no constructor a record: the stand-ins are made again from them in C (`_unpickled`)."""
        state = dict(vars(self))
        entities, relations = state.pop("entities"), state.pop("relations")
        return _unpickled, (state, [tuple(rec) for rec, _ in entities], [where for _, where in entities],
                            [tuple(rec) for rec, _ in relations], [where for _, where in relations])


def _unpickled(state: dict[str, Any], entities: list[tuple[Any, ...]], entity_wheres: list[Where],
               relations: list[tuple[Any, ...]], relation_wheres: list[Where]) -> PreparedBatch:
    """A PreparedBatch back from its pickled form (PreparedBatch.__reduce__)."""
    batch = PreparedBatch.__new__(PreparedBatch)
    vars(batch).update(state)
    batch.entities = list(zip(map(_entity, entities), entity_wheres))
    batch.relations = list(zip(map(_relation, relations), relation_wheres))
    return batch


def prepare(batch: Batch) -> PreparedBatch:
    """The batch with its records replaced by stand-ins holding what the store writes (the same batch when it holds
    stand-ins already); problems, warnings and failed ids as they were."""
    if isinstance(batch, PreparedBatch):
        return batch
    out = PreparedBatch(batch.label, problems=batch.problems, warnings=batch.warnings, failed_ids=batch.failed_ids,
                        format=batch.format, retyped=batch.retyped)
    out.entities = [(prepared_entity(rec), where(origin)) for rec, origin in batch.entities]
    relations = [prepared_relation(rec) for rec, _ in batch.relations]
    out.relations = [(rec, where(origin)) for rec, (_, origin) in zip(relations, batch.relations)]
    out.ends = relation_ends(relations, [where for _, where in out.relations], batch.label)
    return out


def where(origin: Origin) -> Where:
    """An Origin as the plain tuple a prepared batch holds."""
    return origin.file, origin.line, origin.pointer, origin.fields


def origin_of(where: Where) -> Origin:
    """The Origin a prepared batch's tuple stands for (made only where a problem is reported)."""
    return Origin(*where)


def relation_ends(relations: list[PreparedRelation], wheres: list[Where], label: str) -> RelationEnds:
    """The RelationEnds of a batch's stand-ins, from where each came (the batch's file: `label`)."""
    sources, targets = [rec.source for rec in relations], [rec.target for rec in relations]
    named = [(n, rec.incident) for n, rec in enumerate(relations) if rec.incident]
    incidents = [incident for _, incident in named]
    kind = np.array([_RELATION_CODES[rec.type] for rec in relations], np.int8)
    return RelationEnds(hashes([rec.id for rec in relations]), kind, hashes(sources), check_hashes(sources),
                        hashes(targets), check_hashes(targets),
                        np.array([native_owns(rec) for rec in relations], np.bool_),
                        np.array([n for n, _ in named], np.int64), hashes(incidents), check_hashes(incidents),
                        np.array([line for _, line, _, _ in wheres], np.int64),
                        np.array([file == label and pointer is None and fields is None
                                  for file, _, pointer, fields in wheres], np.bool_))


def prepared_entity(rec: Entity) -> PreparedEntity:
    """An entity record's stand-in."""
    kind: str = rec.type  # type: ignore[attr-defined]
    return PreparedEntity(rec.id, kind, rec.placeholder, rec.name, encode(rec), entity_keys(rec),
                          entity_identifier_keys(rec) if rec.identifiers else [],
                          entity_topic_keys(rec) if rec.topics else [])


def prepared_relation(rec: Relation) -> PreparedRelation:
    """A relation record's stand-in."""
    row = (*edge_values(relation_id(rec), rec), encode(rec))
    return PreparedRelation(row[0], row[1], row[2], row[3], row[-1], row, vars(rec).get("incident"), imported(rec))


def native_owns(rec: object) -> bool:
    """Whether a relation is a native OWNS (the share check's), told by its type name: the checks read stand-ins
    holding the fields read here (these, and a bulk import's: graph.stores.neo4j_bulk), not the records."""
    return rec.type == RelationType.OWNS.value and not imported(rec)  # type: ignore[attr-defined, arg-type]
