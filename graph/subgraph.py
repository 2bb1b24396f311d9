"""Build graph payloads (nodes + edges) from ids, reading labels and properties from the store once."""
from __future__ import annotations

from collections.abc import Iterable

from corpgraph.schema.kinds import EntityType

from corpgraph.graph.analytics.results import Edge, Node, Subgraph
from corpgraph.graph.stores.base import StoreReader, StoredRelation

_EDGE_SKIP = {"source", "target", "type"}
_NODE_SKIP = {"id", "type", "name"}


def build_subgraph(store: StoreReader, entity_ids: Iterable[str], relation_ids: Iterable[str]) -> Subgraph:
    """The payload for these entities and relations; relation endpoints are always included as nodes."""
    relations = store.get_relations(sorted(set(relation_ids)))
    return subgraph_from(store, entity_ids, list(relations.values()))


def subgraph_from(store: StoreReader, entity_ids: Iterable[str], relations: list[StoredRelation]) -> Subgraph:
    """The payload for already-read relations plus extra entity ids."""
    ids = set(entity_ids)
    for rel in relations:
        ids.update((rel.record.source, rel.record.target))
    entities = store.get_entities(sorted(ids))
    nodes = [
        # the type as the GraphQL EntityType enum spells it (COMPANY), so clients need no second spelling
        Node(e.id, EntityType(e.type).name, e.name,  # type: ignore[attr-defined]
             e.model_dump(mode="json", exclude_none=True, exclude=_NODE_SKIP))
        for _, e in sorted(entities.items())
    ]
    edges = [
        Edge(rel.id, rel.record.source, rel.record.target, rel.record.type,  # type: ignore[attr-defined]
             rel.record.model_dump(mode="json", exclude_none=True, exclude=_EDGE_SKIP))
        for rel in sorted(relations, key=lambda r: r.id)
    ]
    return Subgraph(nodes, edges)
