"""What the embedded store writes of each record, worked out before the write: its document, its row and its index
keys, in small stand-ins that replace the pydantic records in the batch.

Everything here needs one record alone, so a streamed load (`corpgraph load`) can do it in the processes that
validate the file (loaders.validate's `iter_batches` with `work=prepare`, loaders.workers) while the writing process
only runs SQL and the checks that read the file so far (graph.stores.sqlite_stream). A stand-in pickles as its
constructor's arguments: what travels is the strings the store writes, never a pydantic record (unpickling one costs
about what validating its line does). The checks read the stand-ins' fields under the records' own names (id,
type, placeholder; type, source, target, incident, sources), so the same checks serve both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.batch import Batch
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


class PreparedEntity:
    """An entity as the store writes it: id, type, name, document, search keys, identifier and topic keys."""

    __slots__ = ("id", "type", "placeholder", "name", "doc", "keys", "idkeys", "topics")

    def __init__(self, id: str, type: str, placeholder: bool, name: str, doc: str, keys: list[str],
                 idkeys: list[str], topics: list[str]) -> None:
        self.id, self.type, self.placeholder, self.name, self.doc = id, type, placeholder, name, doc
        self.keys, self.idkeys, self.topics = keys, idkeys, topics

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its fields (a worker sends it to the writing process)."""
        return PreparedEntity, (self.id, self.type, self.placeholder, self.name, self.doc, self.keys, self.idkeys,
                                self.topics)


class PreparedRelation:
    """A relation as the store writes it (its row: edge_values and document) and as the checks read it."""

    def __init__(self, row: tuple[Any, ...], incident: str | None, imported: bool) -> None:
        self.row = row  # edge_values then the document: the relations table's row, in its columns' order
        self.id, self.type, self.source, self.target, self.doc = row[0], row[1], row[2], row[3], row[-1]
        if incident is not None:  # read as vars(rec).get("incident"), as on the records (only data supplies have one)
            self.incident = incident
        self.sources = _IMPORTED if imported else ()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its fields (a worker sends it to the writing process)."""
        return PreparedRelation, (self.row, vars(self).get("incident"), bool(self.sources))


class _Imported:
    """A source carrying its record's own id (graph.write.allocation.imported reads only that)."""

    record_id = "(imported)"


_IMPORTED = (_Imported(),)


@dataclass
class RelationEnds:
    """A batch's relations as the load's endpoint check reads them, in the batch's order: type codes
    (id_hashes.RELATION_KINDS), the endpoints' two hashes, which are native OWNS, and the incidents named (where,
    and their hashes). Made where the batch is prepared: hashing is per id work a validating worker takes over."""

    kind: NDArray[np.int8]
    source: I64
    source_check: I64
    target: I64
    target_check: I64
    native_owns: NDArray[np.bool_]
    incident_at: NDArray[np.int64]
    incident: I64
    incident_check: I64


@dataclass
class PreparedBatch(Batch):
    """A batch of stand-ins, with its relations' RelationEnds."""

    ends: RelationEnds = field(default_factory=lambda: relation_ends([]))


def prepare(batch: Batch) -> PreparedBatch:
    """The batch with its records replaced by stand-ins holding what the store writes (the same batch when it holds
    stand-ins already); problems, warnings and failed ids as they were."""
    if isinstance(batch, PreparedBatch):
        return batch
    out = PreparedBatch(batch.label, problems=batch.problems, warnings=batch.warnings, failed_ids=batch.failed_ids,
                        format=batch.format, retyped=batch.retyped)
    out.entities = [(prepared_entity(rec), origin) for rec, origin in batch.entities]  # type: ignore[misc]
    relations = [prepared_relation(rec) for rec, _ in batch.relations]
    out.relations = [(rec, origin) for rec, (_, origin) in zip(relations, batch.relations)]  # type: ignore[misc]
    out.ends = relation_ends(relations)
    return out


def relation_ends(relations: list[PreparedRelation]) -> RelationEnds:
    """The RelationEnds of a batch's stand-ins."""
    sources, targets = [rec.source for rec in relations], [rec.target for rec in relations]
    named = [(n, incident) for n, rec in enumerate(relations) if (incident := vars(rec).get("incident"))]
    incidents = [incident for _, incident in named]
    kind = np.array([_RELATION_CODES[rec.type] for rec in relations], np.int8)
    return RelationEnds(kind, hashes(sources), check_hashes(sources), hashes(targets), check_hashes(targets),
                        np.array([native_owns(rec) for rec in relations], np.bool_),
                        np.array([n for n, _ in named], np.int64), hashes(incidents), check_hashes(incidents))


def prepared_entity(rec: Entity) -> PreparedEntity:
    """An entity record's stand-in."""
    kind: str = rec.type  # type: ignore[attr-defined]
    return PreparedEntity(rec.id, kind, rec.placeholder, rec.name, encode(rec), entity_keys(rec),
                          entity_identifier_keys(rec) if rec.identifiers else [],
                          entity_topic_keys(rec) if rec.topics else [])


def prepared_relation(rec: Relation) -> PreparedRelation:
    """A relation record's stand-in."""
    return PreparedRelation((*edge_values(relation_id(rec), rec), encode(rec)), vars(rec).get("incident"),
                            imported(rec))


def native_owns(rec: object) -> bool:
    """Whether a relation is a native OWNS (the share check's), told by its type name: the checks read stand-ins
    holding the fields read here (these, and a bulk import's: graph.stores.neo4j_bulk), not the records."""
    return rec.type == RelationType.OWNS.value and not imported(rec)  # type: ignore[attr-defined, arg-type]
