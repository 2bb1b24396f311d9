"""Write a validated batch into a store after checking every reference against the batch and the store."""
from __future__ import annotations

from schema.batch import Batch, WriteSummary, paused_gc
from schema.declaration import RELATIONS, entity_type
from schema.errors import InvalidInput, Problem
from schema.kinds import EntityType, RelationType

from graph.stores.base import GraphStore


def ingest(store: GraphStore, batch: Batch) -> WriteSummary:
    """Check references, then write the batch all-or-nothing; raises InvalidInput and writes nothing on error."""
    with paused_gc():
        problems = check_references(store, batch)
        if problems:
            raise InvalidInput(problems)
        return store.write(batch)


def check_references(store: GraphStore, batch: Batch) -> list[Problem]:
    """Problems with ids: unknown endpoints, endpoints of the wrong kind, entities changing type."""
    in_batch: dict[str, EntityType] = {}
    problems: list[Problem] = []
    for record, origin in batch.entities:
        kind = entity_type(record)
        if in_batch.get(record.id, kind) != kind:
            problems.append(Problem(origin.file, origin.line, "type",
                                    f"id {record.id!r} is declared earlier as {in_batch[record.id].value}"))
        in_batch[record.id] = kind
    wanted = {rec.id for rec, _ in batch.entities}
    for rec, _ in batch.relations:
        wanted.update(_referenced_ids(rec))
    stored = store.entity_types(wanted)
    for record, origin in batch.entities:
        old = stored.get(record.id)
        if old is not None and old != entity_type(record):
            problems.append(Problem(origin.file, origin.line, "type",
                                    f"id {record.id!r} is stored as a {old.value}; an entity cannot change type"))
    known = {**stored, **in_batch}
    for rec, origin in batch.relations:
        problems.extend(_relation_problems(rec, origin.file, origin.line, known))
    return problems


def _referenced_ids(rec: object) -> list[str]:
    """Ids a relation record points at (endpoints and, for data supplies, the incident)."""
    ids = [rec.source, rec.target]  # type: ignore[attr-defined]
    incident = vars(rec).get("incident")
    return ids + [incident] if incident else ids


def _relation_problems(rec: object, file: str, line: int, known: dict[str, EntityType]) -> list[Problem]:
    """Endpoint problems of one relation record."""
    spec = RELATIONS[RelationType(rec.type)]  # type: ignore[attr-defined]
    out: list[Problem] = []
    for field, allowed in (("source", spec.sources), ("target", spec.targets)):
        ref = getattr(rec, field)
        kind = known.get(ref)
        if kind is None:
            out.append(Problem(file, line, field, f"unknown id {ref!r}: load the entity first or in the same file"))
        elif kind not in allowed:
            names = " or ".join(sorted(k.value for k in allowed))
            out.append(Problem(file, line, field, f"{ref!r} is a {kind.value}; {spec.type.value} {field} must be {names}"))
    incident = vars(rec).get("incident")
    if incident and known.get(incident) != EntityType.INCIDENT:
        out.append(Problem(file, line, "incident", f"{incident!r} is not a known Incident id"))
    return out
