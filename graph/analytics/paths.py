"""Explaining paths: the top-k ownership paths between two nodes by product of shares, with their sources.

Paths are simple (no node twice), at most `max_depth` hops, and every hop with a known share keeps at
least `min_hop_share` (a 0% stake never explains anything). An unknown share is not a number: it counts
as "up to 100%" when ranking, so a path through it ranks by the upper bound of its product, and the
path's weight is None. Only nodes that can still reach the target within the remaining depth are
expanded, so the search stays inside the small block between the two nodes.

Example: A holds 50% of B and 10% of C, B holds 60% of C. top_paths(A -> C) gives A->B->C (0.30), then
A->C (0.10).
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

import numpy as np

from schema.declaration import ANALYTIC_RELATIONS
from schema.kinds import RelationType

from graph.analytics.results import Hop, Path, Subgraph
from graph.projection import AsOfView
from graph.stores.base import GraphStore, StoredRelation
from graph.subgraph import subgraph_from

_MAX_POPS = 20_000  # a bound on the search for pathological dense blocks; paths explain, weights stay exact


class PathFinder:
    """Top-k OWNS paths between one anchor and other nodes at one date, reusing the anchor's distance map.

    into_anchor=True finds paths other -> anchor (the owners of a company); False finds anchor -> other
    (what an owner holds), searching backwards from the other end, so one distance map serves every query.
    """

    def __init__(self, view: AsOfView, anchor: int, max_depth: int = 6, min_hop_share: float = 0.0,
                 into_anchor: bool = True) -> None:
        self.view, self.target, self.into_anchor = view, anchor, into_anchor
        self.max_depth, self.min_hop_share = max_depth, min_hop_share
        self.step = view.down if into_anchor else view.up
        nodes, dist = (view.up if into_anchor else view.down).reach([anchor], limit=max_depth)
        # Hops to the anchor per node, max_depth + 1 for "too far": an array, so a hub's thousands of
        # neighbours are filtered in one vectorised step instead of one dict lookup each.
        self.dist = np.full(view.projection.size, max_depth + 1, dtype=np.int32)
        self.dist[nodes] = dist

    def paths(self, other: int, k: int = 3) -> list[list[int]]:
        """Up to k paths (edge indices, in walk order) between `other` and the anchor, highest product first."""
        found = self._search(other, k)
        return found if self.into_anchor else [p[::-1] for p in found]

    def _search(self, source: int, k: int) -> list[list[int]]:
        """Best-first search from `source` toward the anchor: products only shrink, so pops come best first."""
        if source == self.target or self.dist[source] > self.max_depth:
            return []
        found: list[list[int]] = []
        heap: list[tuple[float, int, int, tuple[int, ...], tuple[int, ...]]] = [(-1.0, 0, source, (source,), ())]
        pushed = pops = 0
        while heap and len(found) < k and pops < _MAX_POPS:
            bound, _, node, visited, edges = heapq.heappop(heap)
            pops += 1
            if node == self.target:
                found.append(list(edges))
                continue
            for nxt, edge, share in self._steps(node, len(edges), visited):
                pushed += 1
                heapq.heappush(heap, (bound * share, pushed, nxt, visited + (nxt,), edges + (edge,)))
        return found

    def _steps(self, node: int, depth: int, visited: tuple[int, ...]) -> Iterable[tuple[int, int, float]]:
        """Admissible next hops: (node, edge, share used for ranking)."""
        nbr, edges = self.step.of(node)
        near = self.dist[nbr] <= self.max_depth - depth - 1  # can still reach the anchor in time
        nbr, edges = nbr[near], edges[near]
        shares = self.view.projection.share[edges]
        for nxt, edge, share in zip(nbr.tolist(), edges.tolist(), shares.tolist()):
            if nxt in visited:
                continue
            if share != share:  # NaN: unknown share, ranked as up to 100%
                yield nxt, edge, 1.0
            elif share > 0 and share >= self.min_hop_share:
                yield nxt, edge, share


class Explainer:
    """Turns edge-index paths into Paths whose hops carry share and sources, reading the store once."""

    def __init__(self, store: GraphStore, view: AsOfView) -> None:
        self.store, self.view = store, view
        self.relations: dict[str, StoredRelation] = {}

    def read(self, edges: Iterable[int]) -> None:
        """Fetch the records of these edges (one store call for all that are not read yet)."""
        ids = self.view.projection.relation_ids
        wanted = {ids[e] for e in edges} - self.relations.keys()
        if wanted:
            self.relations.update(self.store.get_relations(sorted(wanted)))

    def path(self, edges: Sequence[int]) -> Path:
        """A Path of already-read edges; weight is the product of its OWNS shares, None if one is unknown."""
        hops = [self.hop(e) for e in edges]
        shares = [h.share for h in hops if h.type == RelationType.OWNS]  # other hops only link, weight 1
        weight = None if any(s is None for s in shares) else float(np.prod(shares))
        return Path(hops, weight)

    def hop(self, edge: int) -> Hop:
        """One hop of an already-read edge."""
        proj = self.view.projection
        rel_id = proj.relation_ids[edge]
        share = float(proj.share[edge])
        stored = self.relations.get(rel_id)
        return Hop(proj.ids[int(proj.src[edge])], proj.ids[int(proj.dst[edge])], ANALYTIC_RELATIONS[int(proj.type[edge])],
                   rel_id, None if share != share else share, list(stored.record.sources) if stored else [])

    def subgraph(self, entity_ids: Iterable[str]) -> Subgraph:
        """The payload of these entities and every relation read so far."""
        return subgraph_from(self.store, entity_ids, list(self.relations.values()))
