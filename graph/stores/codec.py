"""How records travel into and out of a store: one JSON document per record, plus search keys."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError

from corpgraph.schema.declaration import ENTITIES, RELATIONS
from corpgraph.schema.errors import UnreadableRecord
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity, Relation

from corpgraph.graph import damage
from corpgraph.graph.identity.normalize import query_key, search_keys
from corpgraph.graph.identity.topics import topic_keys

M = TypeVar("M", bound=BaseModel)


def encode(record: Entity | Relation) -> str:
    """The stored JSON document of a record (nulls dropped; the model restores defaults)."""
    return record.model_dump_json(exclude_none=True)


def decode_entity(type_name: str, doc: str | dict[str, Any], id: str | None = None) -> Entity:
    """Rebuild an entity record from its stored document; UnreadableRecord (naming the row's id when given, else
    the document's) when it no longer validates."""
    try:
        return _validated(ENTITIES[EntityType(type_name)].model, doc)
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError, as are JSON errors
        raise _unreadable("entity", type_name, doc, exc, id) from exc


def decode_found(rows: Iterable[tuple[str, str, str]]) -> list[Entity]:
    """Entities of the (type, doc, id) rows a search found; an unreadable one is left out, and noted, when the
    caller collects damage (graph.damage), so one damaged row does not fail every search that meets it."""
    out: list[Entity] = []
    for type_name, doc, id in rows:
        try:
            out.append(decode_entity(type_name, doc, id))
        except UnreadableRecord as exc:
            damage.skip(exc)
    return out


def decode_relation(type_name: str, doc: str | dict[str, Any], id: str | None = None) -> Relation:
    """Rebuild a relation record from its stored document; UnreadableRecord when it no longer validates."""
    try:
        return _validated(RELATIONS[RelationType(type_name)].model, doc)
    except (ValueError, TypeError) as exc:
        raise _unreadable("relation", type_name, doc, exc, id) from exc


def stored_type(id: str, type_name: str) -> EntityType:
    """The EntityType of a stored row; UnreadableRecord naming the entity when the row holds an unknown type."""
    try:
        return EntityType(type_name)
    except ValueError:
        raise UnreadableRecord(f"the stored entity {id!r} has the unknown type {type_name!r}; "
                               "`corpgraph check` lists every such record") from None


def _validated(model: type[M], doc: str | dict[str, Any]) -> M:
    """A stored document as a record of the model. JSON text goes through pydantic-core's own parser in one pass
    (json.loads then model_validate took a third more: 11.6 -> 7.8 us of CPU an entity, 9.8 -> 6.5 a relation, at
    200k, the two interleaved); a document it refuses is validated again the old way, so that the error (and its
    message in UnreadableRecord) stays the one json.loads or model_validate gives."""
    if isinstance(doc, str):
        try:
            return model.model_validate_json(doc)
        except ValidationError:
            pass
    return model.model_validate(_data(doc))


def _data(doc: str | dict[str, Any]) -> Any:
    """The fields of a stored document (JSON text or already a mapping)."""
    return json.loads(doc) if isinstance(doc, str) else doc


def _unreadable(kind: str, type_name: str, doc: object, exc: Exception, id: str | None) -> UnreadableRecord:
    """The error for a stored record that cannot be rebuilt, naming it and the way to list all such records."""
    try:
        data = _data(doc)  # type: ignore[arg-type]
        name = id or data.get("id") or f"{data.get('source')} -> {data.get('target')}"
    except (ValueError, TypeError, AttributeError):
        name = id or "?"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        reason = f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    else:
        reason = str(exc) or type(exc).__name__
    return UnreadableRecord(f"the stored {kind} {name!r} ({type_name}) cannot be read: {reason}; "
                            "`corpgraph check` lists every such record")


def entity_keys(record: Entity) -> list[str]:
    """Search keys of an entity: its name and every alias."""
    return search_keys([record.name, *record.aliases])


class SearchTerms(NamedTuple):
    """What a search asks a store for: the folded text, the entity type names, the folded topics (None: any)."""

    key: str
    types: list[str]
    topics: list[str] | None


def search_terms(text: str, types: Sequence[EntityType] | None, topics: Sequence[str] | None) -> SearchTerms | None:
    """A search's terms as every store matches them; None when the text folds to nothing (nothing is found)."""
    key = query_key(text)
    if not key:
        return None
    return SearchTerms(key, [t.value for t in (types or list(EntityType))], topic_keys(topics))
