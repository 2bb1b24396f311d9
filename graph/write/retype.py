"""A real record replaces a stored placeholder of another type; any other change of type is refused.

A placeholder is an entity an importer made for a reference its file left open, its type a guess (STIX: an
Organization of kind `unknown`; BODS and FtM: a Person or a Company). When a later real record with that id
has another type, the guess gives way: the record retypes the stored entity. The relations already stored
on it stay, so each must still join the new type; one that would not (a Person placeholder holding shares,
defined as an Incident) is reported at the real record's line, and nothing is written. A real record stored
under one type keeps the old rule: it cannot change type.

Decided inside the store's write transaction, by graph.write.ingest (a batch in memory) and by the embedded
store's streamed load (graph.stores.sqlite_stream), so a concurrent load cannot slip in between.

Example: file 1 holds `attributed-to` from actor T to identity G, which it leaves open: G is stored as a
placeholder Organization. File 2 defines G as a Company: G becomes a Company, and ATTRIBUTED_TO (T, G) still
holds (an Actor may be attributed to a Company).
"""
from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import NamedTuple, Protocol

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity, Relation

from corpgraph.graph.write.rules import STORED, endpoint_problems, referenced_ids
from corpgraph.graph.stores.base import StoredRelation, TypeLookup

# What decides whether a relation joins the right kinds: its type, endpoints and incident.
Endpoints = tuple[str, str, str, str | None]


class TypeChange(NamedTuple):
    """A real record whose id is stored under another type, and where the record was read."""

    id: str
    old: EntityType
    new: EntityType
    origin: Origin


class StoredRecords(Protocol):
    """What the check reads of a store besides types (every GraphStore has it)."""

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """Entity records by id (missing ids are absent)."""
        ...

    def relations_touching(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[StoredRelation]:
        """Relations of the given types with either endpoint among ids."""
        ...


def endpoints(rec: Relation) -> Endpoints:
    """The fields of a relation its endpoint rules read."""
    return rec.type, rec.source, rec.target, vars(rec).get("incident")  # type: ignore[attr-defined]


def retype(changes: Sequence[TypeChange], store: StoredRecords, stored_types: TypeLookup,
           known: Mapping[str, EntityType], checked: Container[Endpoints] = ()
           ) -> tuple[dict[str, EntityType], list[Problem]]:
    """The placeholders the changes retype (id -> stored type), and the problems: a change of a real record,
    and a stored relation of a retyped placeholder that would not join its new type.

    `known`: the types the write gives (over the store's), the new ones of `changes` among them. Stored
    relations with Endpoints in `checked` are left out: the write checks its own relations apart.
    """
    if not changes:
        return {}, []
    stored = store.get_entities(sorted({change.id for change in changes}))
    retyped: dict[str, TypeChange] = {}
    problems: list[Problem] = []
    for change in changes:
        if stored[change.id].placeholder:
            retyped.setdefault(change.id, change)  # the first record of the id says where a problem is
        else:
            problems.append(change.origin.problem("type", f"id {change.id!r} is stored as a {change.old.value}; "
                                                          "an entity cannot change type"))
    problems += _relation_problems(retyped, store, stored_types, known, checked)
    return {i: change.old for i, change in retyped.items()}, problems


def _relation_problems(retyped: Mapping[str, TypeChange], store: StoredRecords, stored_types: TypeLookup,
                       known: Mapping[str, EntityType], checked: Container[Endpoints]) -> list[Problem]:
    """Each stored relation of a retyped placeholder that its new type would make invalid, at the record's line."""
    if not retyped:
        return []
    relations = [found for found in store.relations_touching(sorted(retyped), list(RelationType))
                 if endpoints(found.record) not in checked]
    others = {ref for found in relations for ref in referenced_ids(found.record)} - known.keys()
    types = {**stored_types(others), **known}
    problems: list[Problem] = []
    for found in relations:
        for field, reason in endpoint_problems(found.record, types, STORED):
            change = retyped.get(getattr(found.record, field))
            if change is not None:
                problems.append(change.origin.problem("type", (
                    f"id {change.id!r} replaces a placeholder {change.old.value}, but the stored relation "
                    f"{found.id} would not hold: {reason}; load a record of a type that relation joins")))
    return problems
