"""A store read through identity: what every answer sees, so merged entities look like one everywhere.

`ResolvedStore` wraps a GraphStore. Entity reads return the merged entity under its canonical id (asked
for by any of its ids): the canonical record's fields (or, when that one is a placeholder, the first real
record's), filled in from the others where it has none; names and aliases of every record as aliases;
identifiers, topics, sources and addresses of all. Relation reads have canonical endpoints and one relation per fact
with the sources of every statement (graph.identity.merge). It offers the reads of an answer
(graph.stores.base.StoreReader); writes and everything else go to the store itself (`.store`).
With nothing merged, every read is the store's own. Records by id are read through `records` when given (the
facade passes the decoded records of the request's revision, graph.stores.record_cache), else from the store.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity

from corpgraph.graph.identity.identifiers import identifier_key
from corpgraph.graph.identity.clusters import IdentityMap
from corpgraph.graph.identity.merge import Statements, canonical_record, merge_stored
from corpgraph.graph.stores.base import GraphStore, StoreReader, StoredRelation

_UNION = ("identifiers", "topics", "sources", "addresses")  # list fields whose values add up over the records


class ResolvedStore(StoreReader):
    """Reads of a store with identity applied (canonical ids, merged entities and relations)."""

    def __init__(self, store: GraphStore, identity: IdentityMap, statements: Statements | None = None,
                 records: StoreReader | None = None) -> None:
        self.store, self.identity = store, identity
        self.records: StoreReader = records or store
        self.statements = statements or Statements()
        self.name = store.name

    def entity_types(self, ids: Iterable[str]) -> dict[str, EntityType]:
        """Stored type per existing id (a merged entity's ids all have its type)."""
        return self.records.entity_types(ids)

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """The merged entity of each id that exists, keyed by the id asked for (its `id` is the canonical one)."""
        if not self.identity:
            return self.records.get_entities(ids)
        members = {i: self.identity.ids(i) for i in ids}
        records = self.records.get_entities(sorted({m for ms in members.values() for m in ms}))
        out = {}
        for asked, ms in members.items():
            found = [records[m] for m in ms if m in records]
            if found:
                out[asked] = merged_entity(ms[0], found)
        return out

    def get_relations(self, ids: Sequence[str]) -> dict[str, StoredRelation]:
        """Relations by id, with canonical endpoints and the sources of every statement of the same fact."""
        if not self.identity:
            return self.records.get_relations(ids)
        groups = {i: self.statements.of(i) for i in ids}
        records = self.records.get_relations(sorted({g for group in groups.values() for g in group}))
        out = {}
        for asked, (chosen, *others) in groups.items():
            if chosen in records:
                rest = [records[o].record for o in others if o in records]
                out[asked] = StoredRelation(chosen, canonical_record(self.identity, records[chosen].record, rest))
        return out

    def relations_touching(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[StoredRelation]:
        """Relations touching any id of the given entities, merged (graph.identity.merge.merge_stored)."""
        if not self.identity:
            return self.store.relations_touching(ids, types)
        every = sorted({m for i in ids for m in self.identity.ids(i)})
        return merge_stored(self.identity, self.store.relations_touching(every, types))

    def search(self, text: str, types: Sequence[EntityType] | None, limit: int,
               topics: Sequence[str] | None = None) -> list[Entity]:
        """Search results as merged entities, each once, in the order of their best match (with topics: of
        an id carrying any of them)."""
        if not self.identity:
            return self.store.search(text, types, limit, topics)
        found = self.store.search(text, types, limit + len(self.identity.mapping), topics)
        canonical = list(dict.fromkeys(self.identity.canonical(e.id) for e in found))[:limit]
        merged = self.get_entities(canonical)
        return [merged[i] for i in canonical if i in merged]

    def list_entities(self, type: EntityType, after: str | None, limit: int) -> list[Entity]:
        """One page of merged entities of a type by canonical id; referents are not listed on their own."""
        if not self.identity:
            return self.store.list_entities(type, after, limit)
        kept: list[str] = []
        while len(kept) < limit:
            page = self.store.list_entities(type, after, limit)
            kept.extend(e.id for e in page if e.id not in self.identity.mapping)
            if len(page) < limit:
                break
            after = page[-1].id
        merged = self.get_entities(kept[:limit])
        return [merged[i] for i in kept[:limit]]


def merged_entity(canonical: str, records: list[Entity]) -> Entity:
    """One entity from the records of its ids (canonical first); see the module docstring for the rule."""
    if len(records) == 1:
        return records[0] if records[0].id == canonical else records[0].model_copy(update={"id": canonical})
    primary = next((r for r in records if not r.placeholder), records[0])
    others = [r for r in records if r is not primary]
    update: dict[str, Any] = {"id": canonical}
    for name in type(primary).model_fields:
        if getattr(primary, name) is None:
            update[name] = next((getattr(r, name) for r in others if getattr(r, name, None) is not None), None)
    names = [n for r in records for n in (r.name, *r.aliases)]
    update["aliases"] = [n for n in dict.fromkeys(names) if n != primary.name]
    for name in _UNION:
        values: list[Any] = []
        for r in records:
            values.extend(v for v in getattr(r, name) if v not in values)
        update[name] = values
    update["identifiers"] = _distinct_identifiers(update["identifiers"])
    return primary.model_copy(update=update)


def _distinct_identifiers(identifiers: list[Any]) -> list[Any]:
    """Identifiers without those that normalise to a key already listed (the first spelling is kept)."""
    seen: dict[str | None, Any] = {}
    for ident in identifiers:
        seen.setdefault(identifier_key(ident.scheme, ident.id), ident)
    return list(seen.values())
