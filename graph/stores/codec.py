"""How records travel into and out of a store: one JSON document per record, plus search keys."""
from __future__ import annotations

import json
from typing import Any

from schema.declaration import ENTITIES, RELATIONS
from schema.kinds import EntityType, RelationType
from schema.records import Entity, Relation

from graph.normalize import search_keys


def encode(record: Entity | Relation) -> str:
    """The stored JSON document of a record (nulls dropped; the model restores defaults)."""
    return record.model_dump_json(exclude_none=True)


def decode_entity(type_name: str, doc: str | dict[str, Any]) -> Entity:
    """Rebuild an entity record from its stored document."""
    data = json.loads(doc) if isinstance(doc, str) else doc
    return ENTITIES[EntityType(type_name)].model.model_validate(data)


def decode_relation(type_name: str, doc: str | dict[str, Any]) -> Relation:
    """Rebuild a relation record from its stored document."""
    data = json.loads(doc) if isinstance(doc, str) else doc
    return RELATIONS[RelationType(type_name)].model.model_validate(data)


def entity_keys(record: Entity) -> list[str]:
    """Search keys of an entity: its name and every alias."""
    return search_keys([record.name, *record.aliases])
