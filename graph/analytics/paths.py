"""Explaining paths: the top-k ownership paths between two nodes by product of shares, with their sources.

Paths are simple (no node twice), at most `max_depth` hops, and every hop with a known share keeps at
least `min_hop_share` (a 0% stake never explains anything). An unknown share is not a number: it counts
as "up to 100%" when ranking, so a path through it ranks by the upper bound of its product, and the
path's weight is None. Only nodes that can still reach the target within the remaining depth are
expanded, so the search stays inside the small block between the two nodes.

Example: A holds 50% of B and 10% of C, B holds 60% of C. PathFinder(view, C).paths(A) gives A->B->C (0.30), then
A->C (0.10).
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from corpgraph.schema.declaration import ANALYTIC_RELATIONS
from corpgraph.schema.kinds import RelationType

from corpgraph.graph import budget, damage
from corpgraph.graph.analytics.results import Hop, Path, Subgraph
from corpgraph.graph.precision import TOLERANCE
from corpgraph.graph.projection.build import AsOfView
from corpgraph.graph.stores.base import StoreReader, StoredRelation
from corpgraph.graph.subgraph import subgraph_from

_FEW_NODES = 16  # guides of blocks up to this size are made in Python floats (Guide._few)
_BUDGET_EVERY = 4096  # pops between checks of the request's time budget (graph.budget), not a cap on the search


class PathFinder:
    """Top-k OWNS paths between one anchor and other nodes at one date, all guided by one search from the anchor.

    into_anchor=True finds paths other -> anchor (the owners of a company); False finds anchor -> other
    (what an owner holds), searching backwards from the other end. One search from the anchor against
    the paths' direction, over the nodes within max_depth of it, gives every node its best product to
    the anchor within h hops, for each h <= max_depth (a Guide). A path search from any other node is
    then A* on that exact bound: partial paths pop in the order of the best product they can still
    reach, so complete paths pop best first, with no cap on the steps taken. The guide covers the
    anchor's whole depth-bounded block, built once for every search: the upstream block of a company
    for its owners, the downstream block of an owner for what it holds (one guide over a large holder's
    block costs about what one search's own cone did, and serves a whole page of exposure items).
    """

    def __init__(self, view: AsOfView, anchor: int, max_depth: int = 6, min_hop_share: float = 0.0,
                 into_anchor: bool = True, reached: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """reached: (nodes, distances) of the anchor's whole closure against the paths' direction, when the caller
        has it already (exposure's holdings block): the block is read from it instead of a search of its own."""
        self.view, self.target, self.into_anchor = view, anchor, into_anchor
        self.max_depth, self.min_hop_share = max_depth, min_hop_share
        self.step = view.down if into_anchor else view.up  # the way a search walks: toward the anchor
        self.back = view.up if into_anchor else view.down
        nodes, dist = self.back.reach([anchor], limit=max_depth) if reached is None else reached
        self.near = np.sort(nodes[dist <= max_depth])  # the block: nodes within max_depth of the anchor
        self.explained = 0.0  # the last search's paths: the sum of their products as W counts them
        self._shared: Guide | None = None

    def paths(self, other: int, k: int = 3) -> list[list[int]]:
        """Up to k paths (edge indices, in walk order) between `other` and the anchor, highest product first."""
        self.explained = 0.0
        budget.check()  # one search builds a guide (~10 ms on a large block): abandoned work stops between them
        if other == self.target or not _contains(self.near, other):
            return []
        found, self.explained = self._guide(other).search(other, k)
        return found if self.into_anchor else [p[::-1] for p in found]

    def _guide(self, other: int) -> Guide:
        """The guide every search runs on: the anchor's whole block, built by the first search."""
        if self._shared is None:
            self._shared = Guide(self, self.near)
        return self._shared


class Guide:
    """Best products to the anchor within h hops (h = 0..max_depth) over a sorted node set, and its step edges.

    best[h][u] = max over step edges u -> v inside the set of share * best[h - 1][v] (and best[h - 1][u]),
    best[0] = 1 at the anchor only: a max-product Bellman-Ford of max_depth rounds, vectorised. An
    unknown share ranks as 1 (up to 100%); hops below min_hop_share (or 0%) are not edges at all.
    """

    def __init__(self, finder: PathFinder, nodes: np.ndarray) -> None:
        self.nodes, self.depth, m = nodes, finder.max_depth, nodes.size
        if m <= _FEW_NODES:
            self._few(finder, nodes)
            return
        heads, edges = finder.back.gather(nodes)  # step edges heads[j] -> tails[j] into the set's nodes
        proj = finder.view.projection
        tails = np.searchsorted(nodes, (proj.dst if finder.into_anchor else proj.src)[edges])
        at = np.minimum(np.searchsorted(nodes, heads), m - 1)
        shares = finder.view.projection.share[edges]
        usable = np.isnan(shares) | ((shares > 0) & (shares >= finder.min_hop_share))
        keep = (nodes[at] == heads) & usable & (at != tails)
        u, v, e = at[keep], tails[keep], edges[keep]
        rank = np.where(np.isnan(shares[keep]), 1.0, shares[keep])
        best = np.zeros((self.depth + 1, m))
        best[0, np.searchsorted(nodes, finder.target)] = 1.0
        for h in range(1, self.depth + 1):
            best[h] = best[h - 1]
            np.maximum.at(best[h], u, rank * best[h - 1][v])
            if np.array_equal(best[h], best[h - 1]):  # converged: every later round gives the same again
                best[h + 1:] = best[h]
                break
        order = np.argsort(u, kind="stable")
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(u, minlength=m), out=indptr[1:])
        self.indptr = indptr.tolist()
        self.nbr, self.edge, self.rank = v[order].tolist(), e[order].tolist(), rank[order].tolist()
        self.w = _w_shares(finder.view, nodes, u[order], v[order], finder.into_anchor).tolist()
        self.best = best.tolist()
        self.anchor = int(np.searchsorted(nodes, finder.target))

    def _few(self, finder: PathFinder, nodes: np.ndarray) -> None:
        """The guide of a block of a few nodes in Python floats, the same lists as the numpy rounds give (a max of
        products is the same float in any order; steps ordered by their first end, stably): most exposures explain
        paths in a block of 2 to 8 nodes, where ~25 numpy calls cost ~50 us."""
        m, proj, listed = nodes.size, finder.view.projection, nodes.tolist()
        place = {node: k for k, node in enumerate(listed)}
        heads, edges = finder.back.gather(nodes)  # step edges heads[j] -> tails[j] into the set's nodes
        tails = (proj.dst if finder.into_anchor else proj.src)[edges].tolist()
        steps: list[tuple[int, int, int, float]] = []  # (u, v, edge, rank) in gather order
        for head, tail, edge, share in zip(heads.tolist(), tails, edges.tolist(), proj.share[edges].tolist()):
            u, v = place.get(head), place[tail]
            if u is not None and u != v and (share != share or (share > 0 and share >= finder.min_hop_share)):
                steps.append((u, v, edge, 1.0 if share != share else share))
        previous = [0.0] * m
        previous[place[finder.target]] = 1.0
        best = [previous]
        for _ in range(self.depth):
            current = previous[:]
            for u, v, _edge, rank in steps:
                reached = rank * previous[v]
                if reached > current[u]:  # np.maximum keeps the first of equal values
                    current[u] = reached
            best.append(current)
            if current == previous:  # converged: every later round gives the same again
                best += [current[:] for _ in range(self.depth + 1 - len(best))]
                break
            previous = current
        steps.sort(key=lambda step: step[0])  # stable, as argsort(kind="stable")
        counts = [0] * (m + 1)
        for u, *_ in steps:
            counts[u + 1] += 1
        self.indptr = list(itertools.accumulate(counts))
        self.nbr, self.edge, self.rank = [s[1] for s in steps], [s[2] for s in steps], [s[3] for s in steps]
        rows, cols, shares = finder.view.submatrix(nodes)
        w = dict(zip(zip(rows.tolist(), cols.tolist()), shares.tolist()))
        self.w = [w.get((u, v) if finder.into_anchor else (v, u), 0.0) for u, v, *_ in steps]
        self.best = best
        self.anchor = place[finder.target]

    def search(self, source: int, k: int) -> tuple[list[list[int]], float]:
        """The k best simple paths (edge indices) from `source` to the anchor within the depth, best first, and
        the sum of their products as W counts them (unknown shares 0, ranges at their midpoints)."""
        start, depth, best = int(np.searchsorted(self.nodes, source)), self.depth, self.best
        if best[depth][start] == 0.0:
            return [], 0.0
        found: list[list[int]] = []
        explained = 0.0
        heap: list[tuple[float, int, float, float, int, tuple[int, ...], tuple[int, ...]]] = [
            (-best[depth][start], 0, 1.0, 1.0, start, (start,), ())]
        pushed = 0
        while heap and len(found) < k:
            _, _, product, w, node, visited, edges = heapq.heappop(heap)
            if node == self.anchor:
                found.append(list(edges))
                explained += w
                continue
            left = best[depth - len(edges) - 1]  # only the anchor is ever pushed with no hop left
            for at in range(self.indptr[node], self.indptr[node + 1]):
                nxt = self.nbr[at]
                if left[nxt] == 0.0 or nxt in visited:
                    continue
                pushed += 1
                if pushed % _BUDGET_EVERY == 0:
                    budget.check()
                reached = product * self.rank[at]
                heapq.heappush(heap, (-reached * left[nxt], pushed, reached, w * self.w[at], nxt, visited + (nxt,),
                                      edges + (self.edge[at],)))
        return found, explained


def _w_shares(view: AsOfView, nodes: np.ndarray, u: np.ndarray, v: np.ndarray, down: bool) -> np.ndarray:
    """W's entry of each step edge u -> v (positions in `nodes`): W[u, v] when steps go down to owned companies,
    else W[v, u]; 0 where W has none (an unknown share)."""
    rows, cols, shares = view.submatrix(nodes)
    if rows.size == 0:
        return np.zeros(u.size)
    m = nodes.size
    keys = rows * m + cols
    order = np.argsort(keys)
    keys, shares = keys[order], shares[order]
    wanted = u * m + v if down else v * m + u
    at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    found: np.ndarray = np.where(keys[at] == wanted, shares[at], 0.0)
    return found


def _contains(sorted_nodes: np.ndarray, node: int) -> bool:
    """Whether a node is in a sorted node array."""
    at = int(np.searchsorted(sorted_nodes, node))
    return at < sorted_nodes.size and int(sorted_nodes[at]) == node


def cut_short(found: int, explained: float, weight: float | None, k: int) -> bool:
    """Whether max_depth cut an answer's paths short: fewer than k paths, explaining less than the weight.

    Fewer than k paths means every simple path within max_depth was found; when the sum of their products
    (`explained`, as W counts shares) is below the weight, walks longer than max_depth, or around a
    cross-holding loop, carry the rest. A weight that is no number (an unknown share) is cut short when
    no path was found. Example: A holds 50% of B, B 50% of R, and A 10% of R: at max_depth 1, A's one
    path explains 0.1 of 0.35, cut short; at max_depth 2 its two paths explain all of it.
    """
    if found >= k:
        return False
    if weight is None:
        return found == 0
    return weight - explained > TOLERANCE


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

    def __init__(self, store: StoreReader, view: AsOfView) -> None:
        self.store, self.view = store, view
        self.relations: dict[str, StoredRelation] = {}
        self._ids: dict[int, str] = {}  # relation id by edge, as read: hop() derives none of them again

    def read(self, edges: Iterable[int]) -> None:
        """Fetch the records of these edges (one store call for all that are not read yet)."""
        ids, known = self.view.projection.relation_ids, self._ids
        wanted = {known[e] if e in known else known.setdefault(e, ids[e]) for e in edges} - self.relations.keys()
        if wanted:
            self.relations.update(self.store.get_relations(sorted(wanted)))

    def path(self, edges: Sequence[int]) -> Path:
        """A Path of already-read edges; weight is the product of its OWNS shares as the weights count them
        (W: a range's point value, a same-day over-allocation scaled), None if one is unknown."""
        budget.check()  # an answer may explain thousands of paths
        hops = [self.hop(e) for e in edges]
        owns = [e for e, h in zip(edges, hops) if h.type == RelationType.OWNS]  # incident and data hops: weight 1
        control = any(h.type == RelationType.CONTROLS for h in hops)  # control is not a share: no product
        unknown = any(self.view.point_share(e) is None for e in owns)
        weight = None if control or unknown else float(np.prod([self._effective(e) for e in owns]))
        return Path(hops, weight)

    def _effective(self, edge: int) -> float:
        """The share an OWNS edge counts with in W at this date: W[src, dst] read from the CSR arrays (scipy's
        indexing of one entry cost a quarter of a small exposure's paths), summed as scipy sums duplicates."""
        proj, W = self.view.projection, self.view.W
        row = int(proj.src[edge])
        start, end = int(W.indptr[row]), int(W.indptr[row + 1])
        hit = W.indices[start:end] == int(proj.dst[edge])
        return float(W.data[start:end][hit].sum())

    def hop(self, edge: int) -> Hop:
        """One hop of an already-read edge."""
        proj = self.view.projection
        rel_id = self._ids[edge] if edge in self._ids else proj.relation_ids[edge]
        kind = ANALYTIC_RELATIONS[int(proj.type[edge])]
        share = float(proj.share[edge]) if kind == RelationType.OWNS else float("nan")  # votes are no share
        stored = self.relations.get(rel_id)
        if stored is not None and kind == RelationType.OWNS:
            _check_row(rel_id, share, getattr(stored.record, "share", None))
        return Hop(proj.ids[int(proj.src[edge])], proj.ids[int(proj.dst[edge])], kind,
                   rel_id, None if share != share else share, list(stored.record.sources) if stored else [])

    def subgraph(self, entity_ids: Iterable[str]) -> Subgraph:
        """The payload of these entities and every relation read so far."""
        return subgraph_from(self.store, entity_ids, list(self.relations.values()))


def _check_row(rel_id: str, row: float, document: float | None) -> None:
    """Note (graph.damage) a stake whose row, which the projection computed with, disagrees with its document."""
    if (document is None) != (row != row) or (document is not None and abs(document - row) > 1e-12):
        damage.note(f"the stored relation {rel_id!r} is damaged: its row holds the share "
                    f"{'unknown' if row != row else f'{row:g}'} and its document {document!r}; answers computed "
                    "with the row may be wrong; `corpgraph check` lists every such record")
