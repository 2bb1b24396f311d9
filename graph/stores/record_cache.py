"""Decoded records of one store revision, kept for the requests that read that revision.

A request reads the store's revision first (the facade does, to pick its analytic state); `RecordCache.at(revision,
store)` then gives it the store's reads through the records already decoded at that revision. The cache holds one
revision only: the first request that reads a newer one empties it, so a write, by this process or another, is seen
by the next request at once. A request still on an older revision reads the store itself and keeps nothing. A
record read from the store during a request is kept only if the cache is still at that request's revision (a write
may have moved it meanwhile). Each kind (entity types, entities, relations) keeps at most `limit` entries, the least
recently used going first; entity types, much smaller than records, keep TYPES_PER_RECORD times as many. Only what exists is kept: a missing id is asked of the store again.

Records are shared between the requests that read them: callers treat them as read-only (nothing in graph/ or
api/ changes a record it was given; merged entities are copies, graph.identity.resolved).

Example: at(7, s).get_entities(["a"]) reads "a" from s; at(7, s).get_entities(["a"]) again reads nothing;
at(8, s) empties the cache, so its get_entities(["a"]) reads "a" from s again.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity

from corpgraph.graph.stores.base import StoreReader, StoredRelation

V = TypeVar("V")

# An entity type costs the cache its id and a dict slot (~100 bytes), a decoded record ~1.5-1.8 KB: types are kept
# this many times the limit, so a chain's parties' types (read for every party of every answer) stay found.
TYPES_PER_RECORD = 25


class RecordCache:
    """Entity types, entities and relations of one revision, by id; bounded per kind, shared by a process's threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.revision = -1
        self.types: OrderedDict[str, EntityType] = OrderedDict()
        self.entities: OrderedDict[str, Entity] = OrderedDict()
        self.relations: OrderedDict[str, StoredRelation] = OrderedDict()
        self.misses = 0  # records read from the store through the cache (tests and benchmarks read it)
        self._lock = threading.Lock()

    def at(self, revision: int, store: StoreReader) -> CachedReads:
        """The reads of a request that read `revision` from `store` (a newer revision than the cache's empties it)."""
        with self._lock:
            if revision > self.revision:
                self.revision = revision
                for kept in (self.types, self.entities, self.relations):
                    kept.clear()
        return CachedReads(self, store, revision)

    def lookup(self, kept: OrderedDict[str, V], revision: int, ids: Iterable[str]) -> tuple[dict[str, V], list[str]]:
        """(the ids found in `kept`, the others in order, each once) for a request at `revision`."""
        found: dict[str, V] = {}
        missing: list[str] = []
        with self._lock:
            current = revision == self.revision
            for id in dict.fromkeys(ids):
                value = kept.get(id) if current else None
                if value is None:
                    missing.append(id)
                else:
                    kept.move_to_end(id)
                    found[id] = value
        return found, missing

    def keep(self, kept: OrderedDict[str, V], revision: int, read: dict[str, V]) -> None:
        """Keep records a request at `revision` read from the store, if the cache is still at that revision."""
        with self._lock:
            self.misses += len(read)
            limit = self.limit * TYPES_PER_RECORD if kept is self.types else self.limit
            if revision != self.revision or limit <= 0:
                return
            kept.update(read)
            while len(kept) > limit:
                kept.popitem(last=False)


class CachedReads(StoreReader):
    """A store's reads at one revision through a RecordCache: types, entities and relations; the rest go to the store."""

    def __init__(self, cache: RecordCache, store: StoreReader, revision: int) -> None:
        self.cache, self.store, self.revision = cache, store, revision

    def entity_types(self, ids: Iterable[str]) -> dict[str, EntityType]:
        """Stored type per existing id (from the types and entities already read, else the store)."""
        found, missing = self.cache.lookup(self.cache.types, self.revision, ids)
        if missing:
            known, missing = self.cache.lookup(self.cache.entities, self.revision, missing)
            found.update({id: EntityType(e.type) for id, e in known.items()})  # type: ignore[attr-defined]
        return found | self._read(self.cache.types, missing, self.store.entity_types)

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """Entity records by id (missing ids are absent)."""
        found, missing = self.cache.lookup(self.cache.entities, self.revision, ids)
        return found | self._read(self.cache.entities, missing, self.store.get_entities)

    def get_relations(self, ids: Sequence[str]) -> dict[str, StoredRelation]:
        """Relation records by relation id (missing ids are absent)."""
        found, missing = self.cache.lookup(self.cache.relations, self.revision, ids)
        return found | self._read(self.cache.relations, missing, self.store.get_relations)

    def relations_touching(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[StoredRelation]:
        """The store's own read (not kept: it is a query, not records by id)."""
        return self.store.relations_touching(ids, types)

    def search(self, text: str, types: Sequence[EntityType] | None, limit: int,
               topics: Sequence[str] | None = None) -> list[Entity]:
        """The store's own search."""
        return self.store.search(text, types, limit, topics)

    def list_entities(self, type: EntityType, after: str | None, limit: int) -> list[Entity]:
        """The store's own page."""
        return self.store.list_entities(type, after, limit)

    def _read(self, kept: OrderedDict[str, V], missing: list[str], read: Callable[[list[str]], dict[str, V]]
              ) -> dict[str, V]:
        """Read the missing ids from the store (nothing when none) and keep what was found."""
        if not missing:
            return {}
        found = read(missing)
        self.cache.keep(kept, self.revision, found)
        return found
