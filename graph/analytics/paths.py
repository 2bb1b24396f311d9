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
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from schema.declaration import ANALYTIC_RELATIONS
from schema.kinds import RelationType

from graph.analytics.results import Hop, Path, Subgraph
from graph.projection import AsOfView
from graph.stores.base import GraphStore, StoredRelation
from graph.subgraph import subgraph_from

_QUICK_POPS = 2_000  # plain best-first pops before the search switches to bounds on the rest of the way
_MAX_POPS = 1_000_000  # guided pops before the search stops and says so (`truncated`); never reached in tests
_SLACK = 1.0 + 1e-6  # the bounds' rounding (edge weights get 1e-12 so a 100% hop is still an edge)


class PathFinder:
    """Top-k OWNS paths between one anchor and other nodes at one date, reusing the anchor's distance map.

    into_anchor=True finds paths other -> anchor (the owners of a company); False finds anchor -> other
    (what an owner holds), searching backwards from the other end, so one distance map serves every query.
    The search is best-first on the product so far; when many partial paths rank above every complete
    one (a wide block of 100% stakes), it switches to A*: the product so far times the best product that
    can still reach the anchor (an upper bound, computed once per anchor), so complete paths pop first
    and still in order. `truncated` says whether the last search stopped at _MAX_POPS with fewer than k paths.
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
        self.near = nodes
        self.truncated = False
        self._bound: np.ndarray | None = None

    def paths(self, other: int, k: int = 3) -> list[list[int]]:
        """Up to k paths (edge indices, in walk order) between `other` and the anchor, highest product first."""
        found, done = self._search(other, k, None, _QUICK_POPS)
        if not done:
            found, done = self._search(other, k, self._bounds(), _MAX_POPS)
        self.truncated = not done
        return found if self.into_anchor else [p[::-1] for p in found]

    def _search(self, source: int, k: int, bound: np.ndarray | None, budget: int) -> tuple[list[list[int]], bool]:
        """Best-first search from `source` toward the anchor (keyed by product, times `bound` if given).

        Returns the paths and whether the search finished (k paths, or nothing left) within `budget` pops.
        """
        if source == self.target or self.dist[source] > self.max_depth:
            return [], True
        found: list[list[int]] = []
        start = -1.0 if bound is None else -float(bound[source])
        heap: list[tuple[float, float, int, int, tuple[int, ...], tuple[int, ...]]] = [
            (start, -1.0, 0, source, (source,), ())]
        pushed = pops = 0
        while heap and len(found) < k:
            if pops == budget:
                return found, False
            _, product, _, node, visited, edges = heapq.heappop(heap)
            pops += 1
            if node == self.target:
                found.append(list(edges))
                continue
            for nxt, edge, share in self._steps(node, len(edges), visited):
                pushed += 1
                key = product * share * (1.0 if bound is None else float(bound[nxt]))
                heapq.heappush(heap, (key, product * share, pushed, nxt, visited + (nxt,), edges + (edge,)))
        return found, True

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

    def _bounds(self) -> np.ndarray:
        """Per node: the largest product of admissible hops from it to the anchor (1 at the anchor), at most 1.

        Dijkstra on -log(share) over the nodes within max_depth, from the anchor against the edges' direction.
        """
        if self._bound is None:
            nodes, n = self.near, self.view.projection.size
            frm, edges = self.step.gather(nodes)  # step edges out of the block's nodes (frm: the node stepped to)
            tails = np.repeat(nodes, np.diff(self.step.indptr)[nodes])
            shares = self.view.projection.share[edges]
            usable = np.isnan(shares) | ((shares > 0) & (shares >= self.min_hop_share))
            ok = usable & (self.dist[frm] <= self.max_depth)
            cost = -np.log(np.where(np.isnan(shares[ok]), 1.0, shares[ok])) + 1e-12
            local = np.full(n, -1, dtype=np.int64)
            local[nodes] = np.arange(nodes.size)
            # reversed edges (head -> tail), so distances from the anchor are distances to it
            graph = sp.csr_matrix((cost, (local[frm[ok]], local[tails[ok]])), shape=(nodes.size, nodes.size))
            dist = dijkstra(graph, directed=True, indices=int(local[self.target]))
            self._bound = np.zeros(n)
            self._bound[nodes] = np.minimum(1.0, np.exp(-dist) * _SLACK)
        return self._bound


def control_paths(view: AsOfView, source: int, target: int, max_depth: int = 6) -> list[list[int]]:
    """One shortest chain of OWNS (non-zero) and CONTROLS edges from a controller to what it controls.

    It explains control that shares alone do not carry (a board appointment, a majority of votes), so it
    has no weight: Explainer.path gives a path with a CONTROLS hop the weight None.
    """
    proj = view.projection
    parent: dict[int, tuple[int, int]] = {source: (-1, -1)}
    frontier = [source]
    for _ in range(max_depth):
        nxt = []
        for node in frontier:
            for adjacency in (view.down, proj.out[RelationType.CONTROLS]):
                nbr, edges = adjacency.of(node)
                for other, edge in zip(nbr.tolist(), edges.tolist()):
                    if other in parent or not view.valid[edge] or proj.share[edge] == 0:
                        continue
                    parent[other] = (node, edge)
                    if other == target:
                        return [_unwind(parent, target)]
                    nxt.append(other)
        frontier = nxt
    return []


def _unwind(parent: dict[int, tuple[int, int]], node: int) -> list[int]:
    """The edges leading to `node` in a breadth-first parent map, in walking order."""
    edges = []
    while parent[node][1] >= 0:
        node, edge = parent[node]
        edges.append(edge)
    return edges[::-1]


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
        shares = [h.share for h in hops if h.type == RelationType.OWNS]  # incident and data hops link, weight 1
        control = any(h.type == RelationType.CONTROLS for h in hops)  # control is not a share: no product
        known = [s for s in shares if s is not None]
        weight = None if control or len(known) < len(shares) else float(np.prod(known))
        return Path(hops, weight)

    def hop(self, edge: int) -> Hop:
        """One hop of an already-read edge."""
        proj = self.view.projection
        rel_id = proj.relation_ids[edge]
        kind = ANALYTIC_RELATIONS[int(proj.type[edge])]
        share = float(proj.share[edge]) if kind == RelationType.OWNS else float("nan")  # votes are no share
        stored = self.relations.get(rel_id)
        return Hop(proj.ids[int(proj.src[edge])], proj.ids[int(proj.dst[edge])], kind,
                   rel_id, None if share != share else share, list(stored.record.sources) if stored else [])

    def subgraph(self, entity_ids: Iterable[str]) -> Subgraph:
        """The payload of these entities and every relation read so far."""
        return subgraph_from(self.store, entity_ids, list(self.relations.values()))
