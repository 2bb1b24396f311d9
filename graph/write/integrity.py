"""`corpgraph check`: find the records of an existing store that cannot be read back or break an invariant.

Stores written by corpgraph hold only valid records, but a store edited by hand (SQL, Cypher) or written by
an older version may not. Every row is read raw (never decoded on trust) and checked:
- an entity: a known type, a document that parses and validates, whose id and type match the row's;
- a relation: a known type, a valid document whose identity, endpoints and analytic scalars (share,
  valid_from, valid_to, incident) match the row's; finite shares; endpoints that exist, of the kinds the
  relation type declares; an `incident` that names an Incident.
Problems are reported one per line, `entity 'x': field: reason`, and nothing is changed.
"""
from __future__ import annotations

import json
import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from corpgraph.schema.declaration import EDGE_FIELDS, ENTITIES, RELATIONS, relation_id
from corpgraph.schema.errors import UnreadableRecord
from corpgraph.schema.kinds import EntityType, RelationType

from corpgraph.graph.write.rules import STORED, endpoint_problems
from corpgraph.graph.stores.base import GraphStore, RawEntity, RawRelation, edge_row

M = TypeVar("M", bound=BaseModel)

PAGE = 1_000


@dataclass(frozen=True)
class StoredProblem:
    """One thing wrong with a stored record: which record (kind and id), which field, and why."""

    kind: str  # "entity" or "relation"
    id: str
    field: str
    reason: str

    def __str__(self) -> str:
        """Render as `entity 'x': field: reason`."""
        return f"{self.kind} {self.id!r}: {self.field}: {self.reason}"


def check_store(store: GraphStore) -> Iterator[StoredProblem | tuple[str, int]]:
    """Every problem of the store's records, then ("entities", n) and ("relations", m): how many were read."""
    count = 0
    for row in _pages(store.raw_entities):
        count += 1
        yield from _entity_problems(row)
    yield "entities", count
    count = 0
    for page in _page_lists(store.raw_relations):
        count += len(page)
        ends = {end for row in page for end in (row.source, row.target, row.incident) if isinstance(end, str)}
        kinds = _kinds(store, ends)
        for row in page:
            yield from _relation_problems(row, kinds)
    yield "relations", count


def _pages(read: Any) -> Iterator[Any]:
    """Rows of a paged raw read, one at a time."""
    for page in _page_lists(read):
        yield from page


def _page_lists(read: Any) -> Iterator[list[Any]]:
    """Pages of a raw read (`read(after, limit)`), keyed on the last id seen."""
    after = ""
    while page := read(after, PAGE):
        yield page
        after = page[-1].id


def _entity_problems(row: RawEntity) -> Iterator[StoredProblem]:
    """Problems of one stored entity row."""
    kind = _member(EntityType, row.type)
    if kind is None:
        yield StoredProblem("entity", row.id, "type", f"unknown entity type {row.type!r}")
        return
    record = yield from _record("entity", row.id, row.doc, kind.value, ENTITIES[kind].model)
    if record is None:
        return
    if record.id != row.id:
        yield StoredProblem("entity", row.id, "id", f"the document's id is {record.id!r}")


def _kinds(store: GraphStore, ids: set[str]) -> dict[str, EntityType | None]:
    """Stored type per existing id; None for an entity stored with an unknown type (reported with the entity)."""
    try:
        return dict(store.entity_types(ids))
    except UnreadableRecord:  # one of them has an unknown type: look them up one by one to find which
        out: dict[str, EntityType | None] = {}
        for id in ids:
            try:
                out.update(store.entity_types([id]))
            except UnreadableRecord:
                out[id] = None
        return out


def _relation_problems(row: RawRelation, kinds: dict[str, EntityType | None]) -> Iterator[StoredProblem]:
    """Problems of one stored relation row (its endpoints' kinds looked up beforehand)."""
    kind = _member(RelationType, row.type)
    if kind is None:
        yield StoredProblem("relation", row.id, "type", f"unknown relation type {row.type!r}")
        return
    if isinstance(row.share, (int, float)) and not (math.isfinite(row.share) and 0 <= row.share <= 1):
        yield StoredProblem("relation", row.id, "share", f"the stored share is {row.share}, not a number 0..1")
    record = yield from _record("relation", row.id, row.doc, kind.value, RELATIONS[kind].model)
    if record is None:
        return
    expected = {**edge_row(relation_id(record), record), "type": kind.value}
    for field in (name for name in EDGE_FIELDS if name != "type"):
        stored = getattr(row, field)
        if stored != expected[field] and not (field == "share" and _same_number(stored, expected[field])):
            yield StoredProblem("relation", row.id, field,
                                f"the row holds {stored!r}, its document {expected[field]!r}")
    unknown = {ref for ref, found in kinds.items() if found is None}  # stored with an unknown type
    for field in ("source", "target"):
        if getattr(record, field) in unknown:
            yield StoredProblem("relation", row.id, field, f"{getattr(record, field)!r} is stored with an unknown type")
    known = {ref: found for ref, found in kinds.items() if found is not None}
    for field, reason in endpoint_problems(record, known, STORED, failed=unknown):
        yield StoredProblem("relation", row.id, field, reason)


def _record(kind: str, id: str, doc: str | None, type_name: str, model: type[M]
            ) -> Generator[StoredProblem, None, M | None]:
    """The record a row's document holds (`yield from` it): its problems yielded and None when it has any."""
    data = yield from _document(kind, id, doc)
    if data is None:
        return None
    if data.get("type", type_name) != type_name:
        yield StoredProblem(kind, id, "type", f"the row says {type_name}, its document {data.get('type')!r}")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        yield from _invalid(kind, id, exc)
        return None


def _document(kind: str, id: str, doc: str | None) -> Generator[StoredProblem, None, dict[str, Any] | None]:
    """The parsed document of a row (`yield from` it: yields its problem and returns None when it has none)."""
    if doc is None:
        yield StoredProblem(kind, id, "doc", "the row has no document")
        return None
    try:
        data = json.loads(doc)
    except (ValueError, RecursionError) as exc:
        yield StoredProblem(kind, id, "doc", f"the document is not JSON: {str(exc)[:200]}")
        return None
    if not isinstance(data, dict):
        yield StoredProblem(kind, id, "doc", "the document is not a JSON object")
        return None
    return data


def _invalid(kind: str, id: str, exc: ValidationError) -> Iterator[StoredProblem]:
    """One problem per validation error of a document."""
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "(record)"
        yield StoredProblem(kind, id, field, str(err["msg"]).removeprefix("Value error, "))


def _member(enum: Any, value: object) -> Any:
    """The enum member with that value, or None."""
    try:
        return enum(value)
    except ValueError:
        return None


def _same_number(a: object, b: object) -> bool:
    """Two shares that are the same number (a store may hand back 0.5 for 0.5 of another float type)."""
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)
