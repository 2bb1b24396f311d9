"""The neighbourhood of an entity: a breadth-first walk over relations, bounded in depth and size."""
from __future__ import annotations

from collections.abc import Sequence

from corpgraph.schema.errors import NotFound
from corpgraph.schema.kinds import RelationType

from corpgraph.graph.analytics.results import Subgraph
from corpgraph.graph.stores.base import StoreReader, StoredRelation
from corpgraph.graph.subgraph import subgraph_from
from corpgraph.graph import budget


DEFAULT_MAX_NODES = 500


def neighborhood(
    store: StoreReader,
    id: str,
    depth: int = 1,
    relation_types: Sequence[RelationType] | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Subgraph:
    """Entities within `depth` relations of `id` (of the given types, all by default) and the relations between them.

    The walk stops adding entities once `max_nodes` are reached (lowest ids first, so answers are
    stable); relations are kept only when both ends were kept, and `more_nodes` says how many entities
    of the last step were left out (at least that many more lie within `depth`). Raises NotFound for an
    unknown id.

    Example: with a -OWNS-> b -OWNS-> c, depth 1 from b gives {a, b, c}; depth 1 from a gives {a, b}.
    """
    if not store.entity_types([id]):
        raise NotFound(f"no entity with id {id!r}; find ids with the search query")
    types = list(relation_types) if relation_types else list(RelationType)
    kept = {id}
    frontier = [id]
    relations: dict[str, StoredRelation] = {}
    left_out = 0
    for _ in range(depth):
        if not frontier or len(kept) >= max_nodes:
            break
        budget.check()  # each step reads the store for the whole frontier
        touching = store.relations_touching(frontier, types)
        candidates = _new_ids(touching, kept)
        frontier = _admit(candidates, kept, max_nodes)
        left_out = len(candidates) - len(frontier)
        relations.update((rel.id, rel) for rel in touching)
    inside = [rel for rel in relations.values() if {rel.record.source, rel.record.target} <= kept]
    graph = subgraph_from(store, kept, inside)
    graph.more_nodes = left_out
    return graph


def _new_ids(relations: list[StoredRelation], known: set[str]) -> list[str]:
    """Endpoints of the relations not seen before, sorted."""
    ends = {end for rel in relations for end in (rel.record.source, rel.record.target)}
    return sorted(ends - known)


def _admit(candidates: list[str], kept: set[str], max_nodes: int) -> list[str]:
    """Add as many candidates as the size bound allows to `kept`; return those added (the next frontier)."""
    admitted = candidates[: max(0, max_nodes - len(kept))]
    kept.update(admitted)
    return admitted
