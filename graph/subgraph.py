"""Build graph payloads (nodes + edges) from ids, reading labels and properties from the store once."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from corpgraph.schema.kinds import EntityType

from corpgraph.graph.analytics.results import Edge, Node, Subgraph
from corpgraph.graph.projection.build import Projection
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
    return _payload(store, ids, relations)


def _payload(store: StoreReader, ids: Iterable[str], relations: list[StoredRelation]) -> Subgraph:
    """The payload of exactly these entities (read now) and already-read relations."""
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


class Unsent:
    """The projection's nodes and edges that no page of one answer has carried yet, one byte each (numpy bools,
    not a set of id strings), so that an answer in pages reads, decodes and writes each of them once."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.nodes = np.ones(len(projection.ids), dtype=bool)
        self.edges = np.ones(projection.src.size, dtype=bool)

    def subgraph(self, store: StoreReader, nodes: np.ndarray, edges: np.ndarray) -> Subgraph:
        """The payload of these nodes and edges (projection indices) and the edges' ends, as build_subgraph gives
        it, less the nodes and edges an earlier call carried."""
        proj = self.projection
        edges = np.unique(edges)
        edges = edges[self.edges[edges]]
        self.edges[edges] = False
        nodes = np.unique(np.concatenate([nodes, proj.src[edges], proj.dst[edges]]))
        nodes = nodes[self.nodes[nodes]]
        self.nodes[nodes] = False
        relations = store.get_relations([proj.relation_ids[e] for e in edges.tolist()])
        return _payload(store, proj.ids.ids(nodes), list(relations.values()))
