"""The in-memory projection analytics run on: numpy/scipy arrays built from any store's analytic relations.

One function (`build_projection`) reads `store.iter_edges(ANALYTIC_RELATIONS)` and turns it into flat
per-edge columns (endpoints as indices, share, validity as day numbers, incident, relation id) plus
adjacency per relation type. Everything that depends on `as_of` lives in an `AsOfView`, built with
vectorised masks and cached per date, so a query touches only the part of the graph it needs.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from operator import attrgetter
from typing import TYPE_CHECKING, cast

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from schema.declaration import ANALYTIC_RELATIONS, EDGE_FIELDS
from schema.kinds import RelationType

from graph.identity import IdentityMap
from graph.merge import Statements, merge_columns
from graph.packed import PackedStrings
from graph.shares import EdgeShares, edge_shares
from graph.stores.base import EdgeRow, GraphStore

if TYPE_CHECKING:  # analytics.linalg imports this module
    from graph.analytics.linalg import Factors

_NEVER = np.iinfo(np.int64).max  # open-ended valid_to
_ALWAYS = np.iinfo(np.int64).min  # open-ended valid_from
_TYPE_CODE = {t: i for i, t in enumerate(ANALYTIC_RELATIONS)}
TOLERANCE = 1e-9  # shares are compared with this slack: 0.17 + 0.28 + 0.05 is 0.5000000000000001 in floats
FULL = 1.0 + TOLERANCE  # a company's owners holding more than this hold more than all of it
_CACHED_DATES = 8  # as_of views kept; queries mostly ask about today or a handful of dates


def day_number(value: date) -> int:
    """Days since 1970-01-01, the unit validity columns are stored in."""
    return int(np.datetime64(value, "D").astype(np.int64))


def csr_slots(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Positions of the rows of `nodes` in CSR arrays, row after row (no Python loop)."""
    starts = indptr[nodes]
    sizes = indptr[nodes + 1] - starts
    total = int(sizes.sum())
    # position k of the output reads slot starts[j] + (k - offset[j]) for the row j it belongs to
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
    return (offsets + np.arange(total)).astype(np.int64)


@dataclass(frozen=True)
class Adjacency:
    """CSR-shaped adjacency: for node i, neighbours nbr[indptr[i]:indptr[i+1]] reached by edges edge[...]."""

    indptr: np.ndarray
    nbr: np.ndarray
    edge: np.ndarray

    @classmethod
    def build(cls, n: int, frm: np.ndarray, to: np.ndarray, edges: np.ndarray) -> "Adjacency":
        """Adjacency from `frm[k] -> to[k]` for the given edge indices (a stable sort by `frm`)."""
        order = np.argsort(frm, kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(frm, minlength=n), out=indptr[1:])
        return cls(indptr, to[order].astype(np.int64), edges[order].astype(np.int64))

    def of(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of one node and the edges leading to them."""
        lo, hi = self.indptr[node], self.indptr[node + 1]
        return self.nbr[lo:hi], self.edge[lo:hi]

    def gather(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of many nodes at once (no Python loop), and the edges leading to them."""
        slots = csr_slots(self.indptr, nodes)
        return self.nbr[slots], self.edge[slots]

    def reach(self, starts: Sequence[int] | np.ndarray, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Breadth-first closure from the start nodes (within `limit` hops): every reached node and its distance."""
        n = len(self.indptr) - 1
        seen = np.zeros(n, dtype=bool)
        frontier = np.unique(np.asarray(starts, dtype=np.int64))
        seen[frontier] = True
        levels = [frontier]
        while frontier.size and (limit is None or len(levels) <= limit):
            nbr, _ = self.gather(frontier)
            fresh = nbr[~seen[nbr]]
            if fresh.size > n >> 6:  # a big level: a mask pass is cheaper than sorting out duplicates
                mark = np.zeros(n, dtype=bool)
                mark[fresh] = True
                frontier = np.flatnonzero(mark)
            else:
                frontier = np.unique(fresh)
            seen[frontier] = True
            levels.append(frontier)
        dist = np.repeat(np.arange(len(levels)), [lv.size for lv in levels])
        return np.concatenate(levels), dist


@dataclass
class Projection:
    """Analytic relations as arrays: id <-> index, per-edge columns, adjacency per relation type."""

    revision: int
    ids: list[str]
    index: dict[str, int]
    type: np.ndarray  # int8 code into ANALYTIC_RELATIONS
    src: np.ndarray
    dst: np.ndarray
    share: np.ndarray  # float64, NaN where the share is unknown (and for non-OWNS relations)
    valid_from: np.ndarray  # int64 day numbers; _ALWAYS when open
    valid_to: np.ndarray  # int64 day numbers; _NEVER when open
    incident: np.ndarray  # node index of SUPPLIED_DATA_TO's incident, -1 when none
    relation_ids: PackedStrings  # one relation id per edge, packed: a str each would cost ~50 bytes more
    out: dict[RelationType, Adjacency]
    into: dict[RelationType, Adjacency]
    kind: np.ndarray  # int16 code into `kinds` (CONTROLS' interest, DECLARED_INTEREST's kind), -1 when none
    kinds: list[str]
    bounded: np.ndarray  # the few edges with a reported range (sorted), so 3M edges carry no range columns
    bound_min: np.ndarray  # share_min of those edges, NaN when absent
    bound_max: np.ndarray  # share_max of those edges, NaN when absent
    # Relations merged by identity (graph.merge): the statements behind each edge, and which disagree.
    statements: Statements = field(default_factory=Statements)
    _views: OrderedDict[int, "AsOfView"] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def size(self) -> int:
        """Number of nodes (entities that take part in an analytic relation)."""
        return len(self.ids)

    def view(self, as_of: date) -> "AsOfView":
        """The arrays valid at `as_of`, built once per date and kept in a small LRU cache."""
        key = day_number(as_of)
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
                return found
        built = AsOfView.build(self, key)
        with self._lock:
            self._views[key] = built
            while len(self._views) > _CACHED_DATES:
                self._views.popitem(last=False)
        return built

    def cached_days(self) -> list[date]:
        """The dates whose views are cached, most recently used last."""
        with self._lock:
            keys = list(self._views)
        return [date(1970, 1, 1) + timedelta(days=key) for key in keys]

    def nodes(self, indices: Iterable[int]) -> list[str]:
        """Ids of node indices."""
        return [self.ids[int(i)] for i in indices]

    def ranges(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """share_min and share_max of the edges, NaN where absent."""
        low, high = np.full(edges.size, np.nan), np.full(edges.size, np.nan)
        if self.bounded.size:
            at = np.minimum(np.searchsorted(self.bounded, edges), self.bounded.size - 1)
            hit = self.bounded[at] == edges
            low[hit], high[hit] = self.bound_min[at[hit]], self.bound_max[at[hit]]
        return low, high

    def edge_shares(self, edges: np.ndarray) -> EdgeShares:
        """Point value and bounds of a set of edges (graph.shares), the free part taken per target company."""
        low, high = self.ranges(edges)
        return edge_shares(self.share[edges], low, high, self.dst[edges], self.size)

    def kind_of(self, edge: int) -> str | None:
        """The interest type (CONTROLS) or kind (DECLARED_INTEREST) of an edge."""
        code = int(self.kind[edge])
        return None if code < 0 else self.kinds[code]


@dataclass
class AsOfView:
    """What is valid at one date: an edge mask, the OWNS adjacency both ways and the share matrix W.

    Two OWNS records for the same owner and company that are both valid are two statements of one
    holding (registers keep history rows like this): never summed, the one with the latest valid_from
    wins (a later filing supersedes an earlier one), then the latest-ending one; `overlaps` keeps the
    pair's valid edges so answers can flag the holding as conflicting.
    W[i, j] holds exact shares and the midpoints of reported ranges; unknown shares count 0 in W and are
    found through `down`/`up`. `lower()` and `upper()` are the same view with every share at its minimum
    and at its maximum (graph.shares); they are this view itself when nothing is uncertain.
    """

    projection: Projection
    day: int
    valid: np.ndarray  # bool per edge
    down: Adjacency  # owner -> owned, every valid OWNS edge (unknown shares included)
    up: Adjacency  # owned -> owner
    W: sp.csr_matrix
    unknown_src: np.ndarray  # owners on OWNS edges whose share is unknown (sorted, distinct)
    unknown_dst: np.ndarray  # companies on OWNS edges whose share is unknown (sorted, distinct)
    over_allocated: np.ndarray  # companies whose owners' shares summed above 100%, scaled to 100% in W (sorted)
    ranged_src: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # owners on range edges
    ranged_dst: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # companies on range edges
    midpoints: dict[int, float] = field(default_factory=dict)  # point value (midpoint) of each range edge
    inverses: dict[int, np.ndarray] = field(default_factory=dict)  # (I - W_S)^-1 per cyclic component, lazily
    whole: Factors | None = None  # the whole graph's factors for integrated ownership (analytics.linalg), lazily
    control: object | None = None  # who controls whom at the minimums (analytics.control.control), lazily
    may_control: object | None = None  # who may control whom at the maximums (analytics.control.may_control), lazily
    overlaps: dict[int, tuple[int, ...]] = field(default_factory=dict)  # kept OWNS edge -> the pair's valid edges
    bounds: dict[str, "AsOfView"] = field(default_factory=dict)  # the lower and upper views, lazily

    @classmethod
    def build(cls, proj: Projection, day: int) -> "AsOfView":
        """Mask, de-duplicate and index the OWNS edges valid at `day`."""
        valid = (proj.valid_from <= day) & (proj.valid_to > day)
        owns = np.flatnonzero(valid & (proj.type == _TYPE_CODE[RelationType.OWNS]))
        owns, overlaps = _latest_per_pair(proj, owns)
        n, src, dst = proj.size, proj.src[owns], proj.dst[owns]
        shares = proj.edge_shares(owns)
        W, over = scaled_to_full(_share_matrix(n, src, dst, shares.point))
        down, up = Adjacency.build(n, src, dst, owns), Adjacency.build(n, dst, src, owns)
        unknown, ranged = shares.unknown, shares.ranged
        midpoints = dict(zip(owns[ranged].tolist(), shares.point[ranged].tolist()))
        return cls(proj, day, valid, down, up, W, np.unique(src[unknown]), np.unique(dst[unknown]), over,
                   np.unique(src[ranged]), np.unique(dst[ranged]), midpoints, overlaps=overlaps)

    def lower(self) -> "AsOfView":
        """This view with every share at its minimum (ranges at share_min, unknown at 0), scaled like W."""
        if self.ranged_dst.size == 0:
            return self  # exact and unknown shares only: the minimums are W itself
        if "lower" not in self.bounds:
            shares = self.projection.edge_shares(self.down.edge)
            W, over = scaled_to_full(_share_matrix(self.projection.size, *self._ends(), shares.low))
            self.bounds["lower"] = self._with(W, over)
        return self.bounds["lower"]

    def upper(self) -> "AsOfView":
        """This view with every share at its maximum (share_max, or the part the others' minimums leave free)."""
        if self.ranged_dst.size == 0 and self.unknown_dst.size == 0:
            return self
        if "upper" not in self.bounds:
            shares = self.projection.edge_shares(self.down.edge)
            W = _share_matrix(self.projection.size, *self._ends(), shares.high)  # not scaled: each at its maximum
            self.bounds["upper"] = self._with(W, np.zeros(0, np.int64))
        return self.bounds["upper"]

    def point_share(self, edge: int) -> float | None:
        """The share an OWNS edge counts with: exact, a range's midpoint, or None when unknown."""
        share = float(self.projection.share[edge])
        if share == share:
            return share
        return self.midpoints.get(edge)

    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        """Owner and company of every valid OWNS edge, in the order of `down.edge`."""
        proj = self.projection
        return proj.src[self.down.edge], proj.dst[self.down.edge]

    def _with(self, W: sp.csr_matrix, over: np.ndarray) -> "AsOfView":
        """The same edges with another share matrix (its own components, inverses, factors and control)."""
        return replace(self, W=W, over_allocated=over, inverses={}, whole=None, control=None, may_control=None,
                       bounds={})

    def submatrix(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """W restricted to `nodes` (any order, distinct) as (row, col, share), positions in `nodes`.

        Unlike scipy's fancy indexing, the cost is in the block's edges, not in the size of the graph.
        """
        entries = csr_slots(self.W.indptr, nodes)
        cols = self.W.indices[entries]
        which = np.repeat(np.arange(nodes.size), self.W.indptr[nodes + 1] - self.W.indptr[nodes])
        if nodes.size * 64 > self.projection.size:  # a big block: a position table beats binary search
            table = np.full(self.projection.size, -1, dtype=np.int64)
            table[nodes] = np.arange(nodes.size)
            where = table[cols]
            hit = where >= 0
            return which[hit], where[hit], self.W.data[entries[hit]]
        sorter = np.argsort(nodes, kind="stable")
        at = np.minimum(np.searchsorted(nodes, cols, sorter=sorter), nodes.size - 1)
        hit = nodes[sorter[at]] == cols
        return which[hit], sorter[at[hit]], self.W.data[entries[hit]]

    @cached_property
    def components(self) -> "Components":
        """Strongly connected components of W and a topological rank of the nodes (built on first use)."""
        return Components.of(self.W)

    def edges(self, type: RelationType, node: int, outgoing: bool) -> np.ndarray:
        """Edges of one type leaving (or entering) a node that are valid at this date."""
        adj = (self.projection.out if outgoing else self.projection.into)[type]
        _, edges = adj.of(node)
        valid: np.ndarray = edges[self.valid[edges]]  # numpy types fancy indexing of an untyped array as Any
        return valid

    def edges_of_many(self, type: RelationType, nodes: np.ndarray, outgoing: bool) -> np.ndarray:
        """Valid edges of one type leaving (or entering) any of the nodes."""
        adj = (self.projection.out if outgoing else self.projection.into)[type]
        _, edges = adj.gather(nodes)
        valid: np.ndarray = edges[self.valid[edges]]
        return valid


@dataclass(frozen=True)
class Components:
    """Strongly connected components of W: labels, sizes, a topological rank, and the edges inside each.

    rank orders the nodes so that every edge between two components goes from a lower to a higher
    rank, and the members of a component have consecutive ranks (order[first[c]:first[c] + sizes[c]]).
    """

    labels: np.ndarray
    sizes: np.ndarray
    rank: np.ndarray
    order: np.ndarray  # nodes by rank
    first: np.ndarray  # first rank of each component
    inner: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # label, local row, local col, share; by label

    @classmethod
    def of(cls, W: sp.csr_matrix) -> "Components":
        """Components, topological rank and inner edges of a share matrix."""
        _, labels = connected_components(W, directed=True, connection="strong")
        coo = W.tocoo()
        rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
        level = labels.astype(np.int64)
        # scipy (Pearce's algorithm) numbers components sinks first, so -label is a topological key;
        # checked here, with longest-path levels of the condensation as the fallback should that change
        if (level[rows] < level[cols]).any():
            level = -_levels(labels, rows, cols)
        order = np.lexsort((labels, -level))
        rank = np.empty(labels.size, dtype=np.int64)
        rank[order] = np.arange(labels.size)
        in_order = labels[order]
        starts = np.flatnonzero(np.r_[True, in_order[1:] != in_order[:-1]])
        first = np.zeros(labels.max() + 1 if labels.size else 0, dtype=np.int64)
        first[in_order[starts]] = starts
        inside = np.flatnonzero(labels[rows] == labels[cols])
        by_label = inside[np.argsort(labels[rows[inside]], kind="stable")]
        lab = labels[rows[by_label]]
        inner = (lab, rank[rows[by_label]] - first[lab], rank[cols[by_label]] - first[lab], coo.data[by_label])
        return cls(labels, np.bincount(labels), rank, order, first, inner)

    def block(self, label: int) -> tuple[np.ndarray, sp.csr_matrix]:
        """Members of a component (in rank order) and W restricted to them."""
        size, start = int(self.sizes[label]), int(self.first[label])
        lab, i, j, share = self.inner
        lo, hi = np.searchsorted(lab, label, "left"), np.searchsorted(lab, label, "right")
        ws = sp.csr_matrix((share[lo:hi], (i[lo:hi], j[lo:hi])), shape=(size, size))
        return self.order[start:start + size], ws


def _share_matrix(n: int, src: np.ndarray, dst: np.ndarray, values: np.ndarray) -> sp.csr_matrix:
    """W from per-edge values: NaN (unknown) and 0 are left out (a 0% stake links nothing, not even a cycle)."""
    keep = ~np.isnan(values) & (values != 0)
    return sp.csr_matrix((values[keep], (src[keep], dst[keep])), shape=(n, n))


def scaled_to_full(W: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """W with every column summing above 100% scaled to 100%, and those columns (sorted).

    Only imported data can hold such sums (native loads refuse them, graph.allocation): the shares cannot
    all be true, and unscaled they make integrated shares above 1 (a 90%/90% loop gives 3.16).
    """
    sums = np.asarray(W.sum(axis=0)).ravel()
    over = np.flatnonzero(sums > FULL)
    if over.size == 0:
        return W, over
    factor = np.ones(sums.size)
    factor[over] = 1.0 / sums[over]
    return (W @ sp.diags(factor)).tocsr(), over


def _levels(labels: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Longest-path level of each node's component in the condensation (a topological key)."""
    across = labels[rows] != labels[cols]
    frm, to = labels[rows[across]], labels[cols[across]]
    level = np.zeros(labels.max() + 1, dtype=np.int64)
    while True:
        pushed = level.copy()
        np.maximum.at(pushed, to, level[frm] + 1)
        if np.array_equal(pushed, level):
            per_node: np.ndarray = level[labels]
            return per_node
        level = pushed


def build_projection(store: GraphStore, identity: IdentityMap | None = None) -> Projection:
    """Read every analytic relation of the store (in pages) into a Projection, merged by identity if given."""
    revision = store.revision()  # read first: a write racing the scan makes the next query rebuild
    columns = _Columns()
    for page in store.iter_edges(ANALYTIC_RELATIONS):
        columns.add(page)
    statements = columns.merge(identity, store) if identity else Statements()
    return columns.finish(revision, statements)


_FIELD_NAMES = EDGE_FIELDS  # id, type, endpoints, then the analytic scalars (schema.declaration)
_FIELDS = attrgetter(*_FIELD_NAMES)
_FIELD_AT = {name: at for at, name in enumerate(_FIELD_NAMES)}


class _Columns:
    """Accumulates edge pages column by column; ids are interned into indices once, at the end."""

    def __init__(self) -> None:
        self.cols: list[list[object]] = [[] for _ in _FIELD_NAMES]

    def add(self, page: Sequence[EdgeRow]) -> None:
        """Append one page of edges (transposed in C: no per-field Python loop)."""
        if page:
            for col, values in zip(self.cols, zip(*map(_FIELDS, page))):
                col.extend(values)

    def merge(self, identity: IdentityMap, store: GraphStore) -> Statements:
        """Apply identity (graph.merge): canonical endpoints, one edge per fact stated by several sources."""
        keep, statements = merge_columns(identity, store, self.cols, _FIELD_AT)
        if keep is not None:
            self.cols = [[col[k] for k in keep] for col in self.cols]
        return statements

    def finish(self, revision: int, statements: Statements | None = None) -> Projection:
        """Intern ids, turn the columns into arrays and build the adjacency."""
        rel_ids, types, sources, targets, shares, starts, ends, incidents, lows, highs, kinds = self.cols
        index: dict[str, int] = {}
        # The columns hold EdgeRow's fields (ids str, incident str | None, type RelationType), typed object here.
        # setdefault's default is evaluated before the insert, so a new id gets the next index
        ends_ = [index.setdefault(x, len(index)) for x in cast(list[str], sources + targets)]
        src, dst = np.array(ends_[: len(sources)], dtype=np.int64), np.array(ends_[len(sources):], dtype=np.int64)
        inc = np.array([-1 if x is None else index.setdefault(x, len(index)) for x in cast(list[str | None], incidents)],
                       dtype=np.int64)
        n, codes = len(index), np.fromiter(map(_TYPE_CODE.__getitem__, cast(list[RelationType], types)), np.int8,
                                        len(types))
        edges = np.arange(len(src), dtype=np.int64)
        out, into = {}, {}
        for rel_type, code in _TYPE_CODE.items():
            mine = edges[codes == code]
            out[rel_type] = Adjacency.build(n, src[mine], dst[mine], mine)
            into[rel_type] = Adjacency.build(n, dst[mine], src[mine], mine)
        share = np.array(shares, dtype=np.float64)  # None becomes NaN: the unknown share
        names = sorted({k for k in kinds if k is not None})  # type: ignore[type-var]
        table: dict[object, int] = {None: -1, **{k: i for i, k in enumerate(names)}}
        kind = np.fromiter(map(table.__getitem__, kinds), np.int16, len(kinds))
        low, high = np.array(lows, dtype=np.float64), np.array(highs, dtype=np.float64)
        bounded = np.flatnonzero(~(np.isnan(low) & np.isnan(high)))
        return Projection(revision, list(index), index, codes, src, dst, share, _days(starts, _ALWAYS),
                          _days(ends, _NEVER), inc, PackedStrings(rel_ids), out, into,  # type: ignore[arg-type]
                          kind, names, bounded, low[bounded], high[bounded],  # type: ignore[arg-type]
                          statements or Statements())


def _days(values: list[object], missing: int) -> np.ndarray:
    """ISO date strings (or None) as int64 day numbers, `missing` where there is no date."""
    distinct = [v for v in dict.fromkeys(values) if v is not None]  # few distinct dates: parse each once
    table: dict[object, int] = dict(zip(distinct, np.array(distinct, dtype="datetime64[D]").astype(np.int64).tolist()))
    table[None] = missing
    return np.fromiter(map(table.__getitem__, values), np.int64, len(values))


def _latest_per_pair(proj: Projection, owns: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[int, ...]]]:
    """Keep, per (owner, company) pair, the valid OWNS edge with the latest valid_from, then the latest valid_to.

    Also returns, for the pairs with more than one valid edge (rare), the kept edge -> every valid edge of
    the pair, the kept one first.
    """
    if owns.size < 2:
        return owns, {}
    order = np.lexsort((proj.valid_to[owns], proj.valid_from[owns], proj.dst[owns], proj.src[owns]))
    ranked = owns[order]
    s, d = proj.src[ranked], proj.dst[ranked]
    last = np.ones(ranked.size, dtype=bool)
    last[:-1] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
    ends = np.flatnonzero(last)
    starts = np.r_[0, ends[:-1] + 1]
    overlaps = {int(ranked[e]): tuple(int(x) for x in ranked[b:e + 1][::-1])
                for b, e in zip(starts[ends > starts].tolist(), ends[ends > starts].tolist())}
    return np.sort(ranked[last]), overlaps
