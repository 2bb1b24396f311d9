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

from typing import Any

from corpgraph.schema.batch import Batch
from corpgraph.schema.declaration import relation_id
from corpgraph.schema.records import Entity, Relation

from corpgraph.graph.identity.identifiers import entity_identifier_keys
from corpgraph.graph.identity.topics import entity_topic_keys
from corpgraph.graph.write.allocation import imported
from corpgraph.graph.stores.base import edge_values
from corpgraph.graph.stores.codec import encode, entity_keys


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


def prepare(batch: Batch) -> Batch:
    """The batch with its records replaced by stand-ins holding what the store writes (the same batch when it holds
    stand-ins already); problems, warnings and failed ids as they were."""
    if batch.entities and isinstance(batch.entities[0][0], PreparedEntity) or \
            batch.relations and isinstance(batch.relations[0][0], PreparedRelation):
        return batch
    out = Batch(batch.label, problems=batch.problems, warnings=batch.warnings, failed_ids=batch.failed_ids,
                format=batch.format, retyped=batch.retyped)
    out.entities = [(prepared_entity(rec), origin) for rec, origin in batch.entities]  # type: ignore[misc]
    out.relations = [(prepared_relation(rec), origin) for rec, origin in batch.relations]  # type: ignore[misc]
    return out


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
