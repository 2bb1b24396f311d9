"""The in-memory projection analytics run on: numpy/scipy arrays built from any store's analytic relations.

One function (`build_projection`) reads `store.iter_edges(ANALYTIC_RELATIONS)` and turns it into flat
per-edge columns (endpoints as indices, share, validity as day numbers, incident, relation id) plus
adjacency per relation type. Everything that depends on `as_of` lives in an `AsOfView`, built with
vectorised masks and cached per date, so a query touches only the part of the graph it needs.

Memory: ids live in a `NodeIds` table (a few bytes an id, graph.projection.nodeids), relation ids
are derived from the columns on demand (graph.projection.relation_ids), node and edge indices and day numbers are
int32 while they fit, the columns few edges use (incident, kind) are sparse, and the adjacency of a type is
built on first use, with rows only for the nodes that have edges of that type.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from itertools import chain, repeat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from operator import attrgetter
from typing import TYPE_CHECKING, cast

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from corpgraph.schema.declaration import ANALYTIC_RELATIONS, EDGE_FIELDS
from corpgraph.schema.kinds import RelationType

from corpgraph.graph.identity.clusters import IdentityMap
from corpgraph.graph.precision import FULL
from corpgraph.graph.identity.merge import Statements, merge_columns
from corpgraph.graph.projection.bits import Bits
from corpgraph.graph.projection.coded_column import CodedColumn
from corpgraph.graph.projection.distinct import distinct
from corpgraph.graph.projection.nodeids import NodeIds
from corpgraph.graph.projection.relation_ids import EdgeColumns, RelationIds
from corpgraph.graph.projection.sparse_column import SparseColumn
from corpgraph.graph.projection.shares import EdgeShares, edge_shares
from corpgraph.graph.stores.base import ColumnPage, EdgeRow, GraphStore

if TYPE_CHECKING:  # analytics.linalg imports this module
    from corpgraph.graph.projection.linalg import Factors

_NEVER = np.iinfo(np.int32).max  # open-ended valid_to (day numbers are int32: +-5.8 million years)
_ALWAYS = np.iinfo(np.int32).min  # open-ended valid_from
_TYPE_CODE = {t: i for i, t in enumerate(ANALYTIC_RELATIONS)}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_CACHED_DATES = 8  # as_of views kept; queries mostly ask about today or a handful of dates
_FEW_ROWS, _FEW_SLOTS = 16, 512  # csr_slots walks the ranges in Python up to this many rows and slots
_FEW_PAIRS = 16  # pair_slots searches up to this many pairs one by one (a vectorised bisection costs ~13 steps)
_FEW_REACHED = 64  # Adjacency.reach walks in Python ints while it has seen at most this many nodes


def day_number(value: date) -> int:
    """Days since 1970-01-01, the unit validity columns are stored in."""
    return value.toordinal() - _EPOCH_ORDINAL  # numpy's datetime64 conversion cost every query ~3 us


def index_type(count: int) -> type[np.signedinteger]:
    """The integer type of indices into `count` items: int32 while they fit (halves the arrays), else int64."""
    return np.int32 if count < 2**31 - 1 else np.int64


def csr_slots(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Positions of the rows of `nodes` in CSR arrays, row after row (no Python loop but for a few short rows)."""
    if nodes.size <= _FEW_ROWS:  # the frontiers of most searches: ~8 numpy calls cost 14 us here, ranges ~3 us
        starts, ends = indptr[nodes].tolist(), indptr[nodes + 1].tolist()
        if sum(ends) - sum(starts) <= _FEW_SLOTS:
            return np.fromiter(chain.from_iterable(map(range, starts, ends)), np.int64)
    starts = indptr[nodes].astype(np.int64)
    sizes = indptr[nodes + 1] - starts
    total = int(sizes.sum())
    # position k of the output reads slot starts[j] + (k - offset[j]) for the row j it belongs to
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)  # int64, as starts
    offsets += np.arange(total)  # in place: a copy of the slots is a pass too many (a large holder's BFS gathers 10^6)
    return offsets


@dataclass(frozen=True)
class Adjacency:
    """CSR-shaped adjacency: for node i, the edges edge[indptr[i]:indptr[i+1]] leave it, to ends[edge[...]].

    `ends` is the projection's column of the far endpoints (dst going down, src going up), shared, so the
    neighbours are read through the edges rather than kept beside them (4 bytes an entry less each way).
    With `rows` (sorted node indices), only the nodes that have neighbours have a row: row r is node rows[r].
    A relation type few nodes take part in then costs nothing per node of the graph.
    """

    indptr: np.ndarray
    edge: np.ndarray
    ends: np.ndarray  # far endpoint of every edge of the projection (its src or dst column)
    rows: np.ndarray | None = None
    nodes: int = -1  # nodes of the graph (with rows; else len(indptr) - 1)

    @classmethod
    def build(cls, n: int, frm: np.ndarray, ends: np.ndarray, edges: np.ndarray, sparse: bool = False) -> "Adjacency":
        """Adjacency from `frm[k] -> ends[edges[k]]` for the given edge indices (a stable sort by `frm`).

        sparse: give rows only to the nodes with neighbours when they are few (under half the nodes).
        """
        itype = index_type(max(n, int(edges.max()) + 1 if edges.size else 0))
        order = np.argsort(frm, kind="stable")
        edge = edges[order].astype(itype)
        if sparse:
            rows, counts = np.unique(frm, return_counts=True)
            if rows.size * 2 < n:
                indptr = np.zeros(rows.size + 1, dtype=itype)
                np.cumsum(counts, out=indptr[1:])
                return cls(indptr, edge, ends, rows.astype(itype), n)
        indptr = np.zeros(n + 1, dtype=itype)
        np.cumsum(np.bincount(frm, minlength=n), out=indptr[1:])
        return cls(indptr, edge, ends)

    @property
    def size(self) -> int:
        """Number of nodes of the graph."""
        return len(self.indptr) - 1 if self.rows is None else self.nodes

    def of(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of one node and the edges leading to them."""
        row = node
        if self.rows is not None:
            row = int(self.rows.searchsorted(self.rows.dtype.type(node)))  # a query of another dtype copies rows
            if row == self.rows.size or self.rows[row] != node:
                return self.ends[:0], self.edge[:0]
        edges = self.edge[self.indptr[row]:self.indptr[row + 1]]
        return self.ends[edges], edges

    def gather(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of many nodes at once (no Python loop), and the edges leading to them."""
        if self.rows is not None:
            if self.rows.size == 0:
                return self.ends[:0], self.edge[:0]
            at = np.minimum(self.rows.searchsorted(np.asarray(nodes).astype(self.rows.dtype)), self.rows.size - 1)
            nodes = at[self.rows[at] == nodes]
        edges = self.edge[csr_slots(self.indptr, nodes)]
        return self.ends[edges], edges

    def reach(self, starts: Sequence[int] | np.ndarray, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Breadth-first closure from the start nodes (within `limit` hops): every reached node and its distance."""
        levels, done = self._few_levels(starts, limit)
        if not done:
            levels, _ = self._levels(levels, limit)
        dist = np.repeat(np.arange(len(levels)), [lv.size for lv in levels])
        return np.concatenate(levels), dist

    def reached(self, starts: Sequence[int] | np.ndarray) -> np.ndarray:
        """The closure from the start nodes as a mask over the graph's nodes (`flatnonzero` gives them sorted).

        A closure's nodes sorted, or a membership test against them, read the mask: sorting the 850k nodes
        the largest holder of a 1M world reaches was a quarter of its integrated ownership, and np.isin sorts.
        """
        frontier = np.asarray(starts, dtype=np.int64)
        return self._levels([frontier if frontier.size < 2 else distinct(frontier)], None)[1]  # a sort of one: ~2 us

    def closure(self, starts: Sequence[int] | np.ndarray) -> np.ndarray:
        """The closure from the start nodes, sorted (flatnonzero of `reached`, the same array).

        A small closure is sorted from its levels (each node is in one level): flatnonzero reads the mask of
        every node of the graph, 0.3 ms at 1M companies, most of a small liability chain's owners block.
        """
        few, done = self._few_levels(starts, None)
        if done:
            return np.sort(np.concatenate(few))
        levels, seen = self._levels(few, None)
        if sum(level.size for level in levels) << 6 < seen.size:
            return np.sort(np.concatenate(levels).astype(np.intp))
        return np.flatnonzero(seen)

    def _few_levels(self, starts: Sequence[int] | np.ndarray, limit: int | None) -> tuple[list[np.ndarray], bool]:
        """_levels' levels while at most _FEW_REACHED nodes are seen, the seen set kept in a Python set, and whether
        they are all of them; past that, the levels found so far (_levels goes on from them, not from the start).

        Most closures are a handful of nodes (a random holder of a 1M world reaches 4): the mask over every node and
        ~12 numpy calls a level cost such a reach ~50 us, ints in a set ~10. The owners of a liability chain's
        responsible company are often hundreds: starting those again from the start was a fifth of their closure.
        """
        frontier = sorted(set(np.asarray(starts, dtype=np.int64).tolist()))
        seen, levels = set(frontier), [frontier]
        done = len(frontier) <= _FEW_REACHED
        while done and frontier and (limit is None or len(levels) <= limit):
            fresh: set[int] = set()
            for node in frontier:
                ends = self.of(node)[0]
                if ends.size > _FEW_REACHED << 2:  # a hub: the numpy walk, without a set of its thousands of ends
                    done = False
                    break
                fresh.update(ends.tolist())
            if not done:
                break
            fresh -= seen
            seen |= fresh
            frontier = sorted(fresh)
            levels.append(frontier)
            done = len(seen) <= _FEW_REACHED
        return [np.array(level, dtype=np.int64) for level in levels], done

    def _levels(self, before: list[np.ndarray], limit: int | None) -> tuple[list[np.ndarray], np.ndarray]:
        """The breadth-first levels on from `before` (levels already found, the first the distinct start nodes;
        within `limit` hops of them), and the mask of the nodes seen."""
        n = self.size
        seen = np.zeros(n, dtype=bool)
        levels = list(before)
        for level in levels:
            seen[level] = True
        frontier = levels[-1]
        while frontier.size and (limit is None or len(levels) <= limit):
            nbr, _ = self.gather(frontier)
            fresh = nbr[~seen[nbr]]
            if fresh.size > n >> 6:  # a big level: a mask pass is cheaper than sorting out duplicates
                mark = np.zeros(n, dtype=bool)
                mark[fresh] = True
                frontier = np.flatnonzero(mark)
            else:
                frontier = fresh if fresh.size < 2 else distinct(fresh)
            seen[frontier] = True
            levels.append(frontier)
        return levels, seen


class Adjacencies(Mapping[RelationType, Adjacency]):
    """Adjacency per relation type in one direction, each built on first use and kept.

    OWNS is read through the as-of views (AsOfView.down/up), so its whole-history adjacency is built only if
    something asks for it; the other types are built with the projection (graph.projection.build_projection).
    """

    def __init__(self, n: int, codes: np.ndarray, frm: np.ndarray, to: np.ndarray) -> None:
        self.n, self.codes, self.frm, self.to = n, codes, frm, to  # the projection's columns, shared
        self.built: dict[RelationType, Adjacency] = {}
        self._lock = threading.Lock()

    def __getitem__(self, type: RelationType) -> Adjacency:
        """The adjacency of one relation type (built now if it was not yet)."""
        found = self.built.get(type)
        if found is None:
            mine = np.flatnonzero(self.codes == _TYPE_CODE[type]).astype(index_type(self.codes.size))
            found = Adjacency.build(self.n, self.frm[mine], self.to, mine, sparse=type != RelationType.OWNS)
            with self._lock:
                found = self.built.setdefault(type, found)
        return found

    def __iter__(self) -> Iterator[RelationType]:
        """The analytic relation types."""
        return iter(_TYPE_CODE)

    def __len__(self) -> int:
        """Number of analytic relation types."""
        return len(_TYPE_CODE)


@dataclass
class Projection:
    """Analytic relations as arrays: id <-> index, per-edge columns, adjacency per relation type."""

    revision: int
    ids: NodeIds  # node index -> id (`ids[i]`, `ids.ids(indices)`); `index` maps back
    type: np.ndarray  # int8 code into ANALYTIC_RELATIONS
    src: np.ndarray  # node indices (int32 while they fit)
    dst: np.ndarray
    # The next three are coded (graph.projection.coded_column): a uint16 an edge into a table of the distinct values.
    share: CodedColumn  # float64, NaN where the share is unknown (and for non-OWNS relations)
    valid_from: CodedColumn  # int32 day numbers; _ALWAYS when open
    valid_to: CodedColumn  # int32 day numbers; _NEVER when open
    incident: SparseColumn  # node index of SUPPLIED_DATA_TO's incident, -1 when none
    relation_ids: RelationIds  # one relation id per edge, derived from the columns when read
    out: Mapping[RelationType, Adjacency]
    into: Mapping[RelationType, Adjacency]
    kind: SparseColumn  # code into `kinds` (CONTROLS' interest, DECLARED_INTEREST's kind), -1 when none
    kinds: list[str]
    bounded: np.ndarray  # the few edges with a reported range (sorted), so 3M edges carry no range columns
    bound_min: np.ndarray  # share_min of those edges, NaN when absent
    bound_max: np.ndarray  # share_max of those edges, NaN when absent
    bound_open: np.ndarray  # bool: share_min of those edges is exclusive ("more than")
    # Relations merged by identity (graph.identity.merge): the statements behind each edge, and which disagree.
    statements: Statements = field(default_factory=Statements)
    # Rows of the store left out because they cannot be right (a share outside [0, 1]): reported, never served.
    damaged: tuple["DamagedRelation", ...] = ()
    _views: OrderedDict[int, "AsOfView"] = field(default_factory=OrderedDict, repr=False)
    # Where a view missing here is asked for before it is built here: a worker that maps its builder's snapshots
    # gets the builder's ready view of the day from them (graph.service), shared rather than built privately.
    # Called with the projection that misses the view: a state made from this one by a delta carries the hook,
    # and must get the view of its own revision, never one over the projection it was made from.
    published: Callable[["Projection", int], "AsOfView | None"] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def size(self) -> int:
        """Number of nodes (entities that take part in an analytic relation)."""
        return len(self.ids)

    @property
    def index(self) -> IdIndex:
        """id -> node index, read like a dict (`index[id]`, `index.get(id)`, `id in index`)."""
        return IdIndex(self.ids)

    def view(self, as_of: date) -> "AsOfView":
        """The arrays valid at `as_of`, built once per date and kept in a small LRU cache."""
        key = day_number(as_of)
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
                return found
        built = (self.published(self, key) if self.published is not None else None) or AsOfView.build(self, key)
        self.keep_view(built)
        return built

    def keep_view(self, view: "AsOfView") -> None:
        """Cache a view of this projection built elsewhere (read from a snapshot), as `view` caches its own."""
        with self._lock:
            self._views[view.day] = view
            while len(self._views) > _CACHED_DATES:
                self._views.popitem(last=False)

    def forget_views(self) -> None:
        """Drop the cached views (they refer back to this projection: without them it is no reference cycle)."""
        with self._lock:
            self._views.clear()

    def cached_views(self) -> list[tuple[int, "AsOfView"]]:
        """The cached views by day number, most recently used last."""
        with self._lock:
            return list(self._views.items())

    def cached_days(self) -> list[date]:
        """The dates whose views are cached, most recently used last."""
        with self._lock:
            keys = list(self._views)
        return [date(1970, 1, 1) + timedelta(days=key) for key in keys]

    def nodes(self, indices: Iterable[int]) -> list[str]:
        """Ids of node indices."""
        return self.ids.ids(indices)

    def ranges(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """share_min and share_max of the edges, NaN where absent."""
        low, high = np.full(edges.size, np.nan), np.full(edges.size, np.nan)
        if self.bounded.size:
            at = np.minimum(np.searchsorted(self.bounded, edges), self.bounded.size - 1)
            hit = self.bounded[at] == edges
            low[hit], high[hit] = self.bound_min[at[hit]], self.bound_max[at[hit]]
        return low, high

    def open_minimum(self, edges: np.ndarray) -> np.ndarray:
        """Per edge: its share_min is exclusive ("more than 50%")."""
        out = np.zeros(edges.size, dtype=bool)
        if self.bounded.size:
            at = np.minimum(np.searchsorted(self.bounded, edges), self.bounded.size - 1)
            hit = self.bounded[at] == edges
            out[hit] = self.bound_open[at[hit]]
        return out

    def edge_shares(self, edges: np.ndarray) -> EdgeShares:
        """Point value and bounds of a set of edges (graph.projection.shares), the free part taken per target company."""
        low, high = self.ranges(edges)
        return edge_shares(self.share[edges], low, high, self.dst[edges], self.size)

    def kind_of(self, edge: int) -> str | None:
        """The interest type (CONTROLS) or kind (DECLARED_INTEREST) of an edge."""
        code = int(self.kind[edge])
        return None if code < 0 else self.kinds[code]


class IdIndex(Mapping[str, int]):
    """A NodeIds table read as a mapping id -> node index (what the projection's `index` dict was)."""

    def __init__(self, ids: NodeIds) -> None:
        self.table = ids

    def __getitem__(self, id: str) -> int:
        """The node index of an id; KeyError when it is not a node."""
        return self.table.index(id)

    def get(self, id: str, default: int | None = None) -> int | None:  # type: ignore[override]
        """The node index of an id, or `default`."""
        return self.table.get(id, default)

    def __contains__(self, id: object) -> bool:
        """Whether the id is a node."""
        return id in self.table

    def __iter__(self) -> Iterator[str]:
        """Every id, in node order."""
        return iter(self.table)

    def __len__(self) -> int:
        """Number of nodes."""
        return len(self.table)


@dataclass
class AsOfView:
    """What is valid at one date: an edge mask, the OWNS adjacency both ways and the share matrix W.

    Two OWNS records for the same owner and company that are both valid are two statements of one
    holding (registers keep history rows like this): never summed, the one with the latest valid_from
    wins (a later filing supersedes an earlier one), then the latest-ending one; `overlaps` keeps the
    pair's valid edges so answers can flag the holding as conflicting.
    W[i, j] holds exact shares and the midpoints of reported ranges; unknown shares count 0 in W and are
    found through `down`/`up`. `lower()` and `upper()` are the same view with every share at its minimum
    and at its maximum (graph.projection.shares); they are this view itself when nothing is uncertain.
    """

    projection: Projection
    day: int
    valid: Bits  # a flag per edge (packed: read as `valid[edges]`, `valid.at(edge)`)
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
    inverses_built: bool = False  # every cyclic component's (but a singular one's) is in `inverses`
    whole: Factors | None = None  # the whole graph's factors for integrated ownership (analytics.linalg), lazily
    control: object | None = None  # who controls whom at the minimums (analytics.control.control), lazily
    may_control: object | None = None  # who may control whom at the maximums (analytics.control.may_control), lazily
    overlaps: dict[int, tuple[int, ...]] = field(default_factory=dict)  # kept OWNS edge -> the pair's valid edges
    bounds: dict[str, "AsOfView"] = field(default_factory=dict)  # the lower and upper views, lazily

    @classmethod
    def build(cls, proj: Projection, day: int) -> "AsOfView":
        """Mask, de-duplicate and index the OWNS edges valid at `day`."""
        valid = proj.valid_from.where(lambda start: start <= day) & proj.valid_to.where(lambda end: end > day)
        owns = np.flatnonzero(valid & (proj.type == _TYPE_CODE[RelationType.OWNS]))
        owns, overlaps = _latest_per_pair(proj, owns)
        owns, ended = _later_wins(proj, owns)
        valid[ended] = False  # ended at the later statement's date: not valid on this day, for paths too
        n, src, dst = proj.size, proj.src[owns], proj.dst[owns]
        shares = proj.edge_shares(owns)
        W, over = scaled_to_full(_share_matrix(n, src, dst, shares.point))
        down, up = Adjacency.build(n, src, proj.dst, owns), Adjacency.build(n, dst, proj.src, owns)
        unknown, ranged = shares.unknown, shares.ranged
        midpoints = dict(zip(owns[ranged].tolist(), shares.point[ranged].tolist()))
        return cls(proj, day, Bits.of(valid), down, up, W, _nodes(src[unknown]), _nodes(dst[unknown]), over,
                   _nodes(src[ranged]), _nodes(dst[ranged]), midpoints, overlaps=overlaps)

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
        return replace(self, W=W, over_allocated=over, inverses={}, inverses_built=False, whole=None, control=None,
                       may_control=None, bounds={})

    def submatrix(self, nodes: np.ndarray, upstream: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """W restricted to `nodes` (any order, distinct) as (row, col, share), positions in `nodes`.

        Unlike scipy's fancy indexing, the cost is in the block's edges, not in the size of the graph.
        upstream: the block holds every owner of its nodes (what reaches a company), so W is read by columns
        (the `up` adjacency and each entry's share, `_shares_in_w`) and a holder with 10^4 stakes costs only its
        stakes inside the block.
        """
        if nodes.size <= _FEW_ROWS:
            few = self._few_entries(nodes, upstream)
            if few is not None:
                return few
        if upstream:
            entries = csr_slots(self.up.indptr, nodes)
            other = self.projection.src[self.up.edge[entries]]
            which = np.repeat(np.arange(nodes.size), self.up.indptr[nodes + 1] - self.up.indptr[nodes])
        else:
            slots = csr_slots(self.W.indptr, nodes)
            other = self.W.indices[slots]
            which = np.repeat(np.arange(nodes.size), self.W.indptr[nodes + 1] - self.W.indptr[nodes])
        if nodes.size * 64 > self.projection.size:  # a big block: a position table beats binary search
            table = np.full(self.projection.size, -1, dtype=np.int64)
            table[nodes] = np.arange(nodes.size)
            where = table[other]
            hit = where >= 0
            found = which[hit], where[hit]
        else:
            sorter = np.argsort(nodes, kind="stable")
            at = np.minimum(np.searchsorted(nodes, other, sorter=sorter), nodes.size - 1)
            hit = nodes[sorter[at]] == other
            found = which[hit], sorter[at[hit]]
        if not upstream:
            return found[0], found[1], self.W.data[slots[hit]]
        shares, in_w = self._shares_in_w(self.up.edge[entries[hit]], other[hit], nodes[found[0]])
        return found[1][in_w], found[0][in_w], shares[in_w]

        if not upstream:
            return found[0], found[1], self.W.data[slots[hit]]
        shares, in_w = self._shares_in_w(self.up.edge[entries[hit]], other[hit], nodes[found[0]])
        return found[1][in_w], found[0][in_w], shares[in_w]

    def _few_entries(self, nodes: np.ndarray, upstream: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """submatrix of a block of a few nodes with few entries, read in Python ints: the same entries in the same
        order (node after node, each in W's or up's order), without its ~15 numpy calls (29 us of a random holder's
        4-node solve, under load). None when the rows hold more than _FEW_SLOTS entries."""
        indptr = self.up.indptr if upstream else self.W.indptr
        listed = nodes.tolist()
        starts, ends = indptr[nodes].tolist(), indptr[nodes + 1].tolist()
        if sum(ends) - sum(starts) > _FEW_SLOTS:
            return None
        place = {node: k for k, node in enumerate(listed)}
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        if upstream:  # the owners on the companies' up entries that have a share in W, read at once
            edges = self.up.edge[[p for start, end in zip(starts, ends) for p in range(start, end)]]
            owners = self.projection.src[edges]
            companies = np.array([node for node, start, end in zip(listed, starts, ends) for _ in range(end - start)],
                                 dtype=np.int64)
            shares, in_w = self._shares_in_w(edges, owners, companies)
            read = list(zip(owners.tolist(), shares.tolist(), in_w.tolist()))
        offset = 0  # where the node's entries start in `read`
        for k, start, end in zip(range(len(listed)), starts, ends):
            if upstream:
                pairs = [(o, v) for o, v, w in read[offset:offset + end - start] if w]
                offset += end - start
            else:
                pairs = list(zip(self.W.indices[start:end].tolist(), self.W.data[start:end].tolist()))
            for other, value in pairs:
                at = place.get(other)
                if at is not None:
                    rows.append(k)
                    cols.append(at)
                    values.append(value)
        if upstream:
            rows, cols = cols, rows
        return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(values, dtype=np.float64)

    def _shares_in_w(self, edges: np.ndarray, owners: np.ndarray, companies: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """W's share of each valid OWNS edge (owner -> company) and whether W holds one (W read by companies).

        An exact share is W's entry bit for bit in this view and in its lower and upper views (graph.projection.
        shares: exact shares are their own point, minimum and maximum), unless its company's column was scaled
        (over_allocated) or the share is 0 (no entry); the other entries (ranges, unknown shares: a few) are
        searched in their owner's row of W (pair_slots). So nothing is kept per entry for it: before, W by
        company was one int32 an `up` entry (2.1 MB of a 200k world's 33), built with the view and saved in its
        snapshot.
        """
        shares = np.asarray(self.projection.share[edges], dtype=np.float64)
        exact = ~np.isnan(shares)
        if self.over_allocated.size:
            exact &= ~np.isin(companies, self.over_allocated)
        in_w = exact & (shares != 0)
        rest = np.flatnonzero(~exact)
        if rest.size:
            slots = pair_slots(self.W, owners[rest], companies[rest])
            in_w[rest] = slots >= 0
            shares[rest[slots >= 0]] = self.W.data[slots[slots >= 0]]
        return shares, in_w

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


def pair_slots(W: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Where W.data holds each entry (rows[k], cols[k]), -1 where W has none: a binary search in each pair's row.

    W's rows are sorted by column, as scipy's canonical CSR has them (a W that is not, scaled by scipy's product,
    is searched row by row). A few pairs are searched one by one; more, all at once a step at a time (a row of
    m entries takes log2(m) steps, each a few numpy calls over all the pairs).
    """
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols)
    ptr, indices = W.indptr, W.indices
    if rows.size <= _FEW_PAIRS or not W.has_sorted_indices:
        out = np.full(rows.size, -1, dtype=np.int64)
        for k, (row, col) in enumerate(zip(rows.tolist(), cols.tolist())):
            start, end = int(ptr[row]), int(ptr[row + 1])
            found = np.flatnonzero(indices[start:end] == col)
            if found.size:
                out[k] = start + int(found[0])
        return out
    lo, end = ptr[rows].astype(np.int64), ptr[rows + 1].astype(np.int64)
    hi = end.copy()
    while True:  # lo: the first position of the row whose column is not below the pair's
        live = lo < hi
        if not live.any():
            break
        mid = (lo + hi) >> 1
        below = indices[np.where(live, mid, 0)] < cols
        lo = np.where(live & below, mid + 1, lo)
        hi = np.where(live & ~below, mid, hi)
    hit = lo < end
    hit[hit] = indices[lo[hit]] == cols[hit]
    return np.where(hit, lo, -1)


@dataclass(frozen=True)
class Components:
    """Strongly connected components of W: labels, sizes, a topological rank, and the edges inside each.

    rank orders the nodes so that every edge between two components goes from a lower to a higher
    rank, and the members of a component have consecutive ranks, in node order. A component's label is its first
    rank, so a node alone in its component (nearly every node) has its label as its rank: only the members of
    cyclic components are listed apart (`cyclic_ranks`, `cyclic_nodes`), which tells loops (`cyclic`) and their
    sizes too. `rank` and `order` (nodes by rank), which only the whole graph's factors read
    (graph.projection.linalg), are derived from those when first read: four int32 a node less in every view (rank,
    order, and a component's first rank and size, which labels and the loops' list now tell).
    """

    labels: np.ndarray  # per node: the first rank of its component
    cyclic_ranks: np.ndarray  # the ranks of the members of components of two nodes or more, ascending
    cyclic_nodes: np.ndarray  # the node at each of those ranks
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
        itype = index_type(labels.size)  # per-node arrays: int32 while they fit (half of int64 at 1M nodes)
        order = np.lexsort((labels, -level)).astype(itype)
        rank = np.empty(labels.size, dtype=itype)
        rank[order] = np.arange(labels.size, dtype=itype)
        in_order = labels[order]
        starts = np.flatnonzero(np.r_[True, in_order[1:] != in_order[:-1]]) if in_order.size else in_order
        first = np.zeros(labels.max() + 1 if labels.size else 0, dtype=itype)
        first[in_order[starts]] = starts
        cyclic = np.flatnonzero(np.bincount(labels)[in_order] > 1).astype(itype)
        labels = first[labels]  # each component named by its first rank
        inside = np.flatnonzero(labels[rows] == labels[cols])
        by_label = inside[np.argsort(labels[rows[inside]], kind="stable")]
        lab = labels[rows[by_label]]
        inner = (lab, rank[rows[by_label]] - lab, rank[cols[by_label]] - lab, coo.data[by_label])
        return cls(labels, cyclic, order[cyclic], inner)

    @cached_property
    def rank(self) -> np.ndarray:
        """The topological rank of every node (built on first read: only the whole graph's factors read it)."""
        rank = self.labels.copy()
        rank[self.cyclic_nodes] = self.cyclic_ranks
        return rank

    @cached_property
    def order(self) -> np.ndarray:
        """The nodes by rank (built on first read, as `rank`)."""
        order = np.empty_like(self.labels)
        order[self.rank] = np.arange(self.labels.size, dtype=self.labels.dtype)
        return order

    def ranks_of(self, nodes: np.ndarray) -> np.ndarray:
        """The ranks of a few nodes, without building `rank` for all of them (a cyclic component's members are
        ranked in node order)."""
        ranks: np.ndarray = self.labels[nodes].astype(np.int64)
        for k in np.flatnonzero(self.cyclic(ranks)).tolist():
            ranks[k] += int(np.searchsorted(self.members(int(ranks[k])), nodes[k]))
        return ranks

    def cyclic(self, labels: np.ndarray) -> np.ndarray:
        """Per label: whether its component is a loop (two nodes or more); a loop's label is its first member's rank,
        a lone node's label no loop member's rank."""
        if self.cyclic_ranks.size == 0:
            return np.zeros(np.shape(labels), dtype=bool)
        at = np.minimum(np.searchsorted(self.cyclic_ranks, labels), self.cyclic_ranks.size - 1)
        found: np.ndarray = self.cyclic_ranks[at] == labels
        return found

    def block(self, label: int) -> tuple[np.ndarray, sp.csr_matrix]:
        """Members of a component (in rank order) and W restricted to them."""
        members = self.members(label)
        size = members.size
        lab, i, j, share = self.inner
        lo, hi = np.searchsorted(lab, label, "left"), np.searchsorted(lab, label, "right")
        ws = sp.csr_matrix((share[lo:hi], (i[lo:hi], j[lo:hi])), shape=(size, size))
        return members, ws

    def members(self, label: int) -> np.ndarray:
        """Members of a component, in rank order."""
        named = self.labels[self.cyclic_nodes]  # the loops' labels, ascending with their ranks
        lo, hi = np.searchsorted(named, label, "left"), np.searchsorted(named, label, "right")
        if lo == hi:  # a node alone: the one labelled so (no caller asks in practice; this builds nothing)
            return np.flatnonzero(self.labels == label).astype(self.labels.dtype)
        return self.cyclic_nodes[lo:hi]


def _nodes(found: np.ndarray) -> np.ndarray:
    """Distinct node indices, sorted, as int64 (queries search them with int64 nodes: no copy per search)."""
    return np.unique(found).astype(np.int64)


def _share_matrix(n: int, src: np.ndarray, dst: np.ndarray, values: np.ndarray) -> sp.csr_matrix:
    """W from per-edge values: NaN (unknown) and 0 are left out (a 0% stake links nothing, not even a cycle)."""
    keep = ~np.isnan(values) & (values != 0)
    return sp.csr_matrix((values[keep], (src[keep], dst[keep])), shape=(n, n))


def scaled_to_full(W: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """W with every column summing above 100% scaled to 100%, and those columns (sorted).

    Only imported data can hold such sums (native loads refuse them, graph.write.allocation): the shares cannot
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
    damaged = columns.drop_damaged()
    statements = columns.merge(identity, store) if identity else Statements()
    built = columns.finish(revision, statements)
    return replace(built, damaged=damaged) if damaged else built


@dataclass(frozen=True)
class DamagedRelation:
    """A stored relation row the projection left out, and why (`corpgraph check` lists it too)."""

    relation: str
    source: str
    target: str
    reason: str

    def message(self) -> str:
        """What an answer that involves it says."""
        return (f"the stored relation {self.relation!r} is damaged ({self.reason}) and was left out of this answer; "
                "`corpgraph check` lists every such record")


_FIELD_NAMES = EDGE_FIELDS  # id, type, endpoints, then the analytic scalars (schema.declaration)
_FIELDS = attrgetter(*_FIELD_NAMES)
_FIELD_AT = {name: at for at, name in enumerate(_FIELD_NAMES)}


class _Columns:
    """Accumulates edge pages column by column, and turns each page into arrays as it arrives.

    A store reads the next page while this one is handled (Neo4jStore.iter_edges), so numbering the endpoints,
    parsing dates and converting shares page by page overlaps the server's reads; `finish` only joins the
    arrays and renumbers the nodes (before, all of it ran after the last page: 2.3 of 6.1 s at 640k relations).
    Leaving rows out (drop_damaged) or rewriting endpoints (merge) turns the columns into arrays again, whole.
    """

    def __init__(self) -> None:
        self.cols: list[list[object]] = [[] for _ in _FIELD_NAMES]
        self._restart()

    def _restart(self) -> None:
        """Forget the arrays made so far (the columns changed under them)."""
        self.nodes = _Numbering()
        self.days: dict[object, int] = {}  # ISO date -> day number, valid_from and valid_to alike
        self.parts: list[_Part] = []

    def add(self, page: Sequence[EdgeRow]) -> None:
        """Append one page of edges (a ColumnPage's columns as they are, rows transposed in C), then its arrays."""
        start = len(self.cols[0])
        if isinstance(page, ColumnPage):
            for col, name in zip(self.cols, _FIELD_NAMES):
                col.extend(page.columns[name])
        elif page:
            for col, values in zip(self.cols, zip(*map(_FIELDS, page))):
                col.extend(values)
        if len(self.cols[0]) > start:
            self.parts.append(self._arrays(start))

    def _arrays(self, start: int) -> "_Part":
        """The rows from `start` on as arrays: endpoints and incidents numbered, dates as days, shares as floats."""
        def column(name: str) -> list[object]:
            return self.cols[_FIELD_AT[name]][start:]
        starts, ends = column("valid_from"), column("valid_to")
        self.days.update(_day_table(list(set(chain(starts, ends)).difference(self.days))))
        # None (an unknown share) becomes NaN
        low, high = (np.array(column(name), dtype=np.float64) for name in ("share_min", "share_max"))
        return _Part(self.nodes.of(column("source")), self.nodes.of(column("target")), self.nodes.of(column("incident")),
                     np.array(column("share"), dtype=np.float64), low, high,
                     _days(starts, self.days, _ALWAYS), _days(ends, self.days, _NEVER))

    def joined(self, name: str) -> np.ndarray:
        """One array of the pages' arrays (a _Part field) for every row."""
        return np.concatenate([getattr(part, name) for part in self.parts or [self._arrays(0)]])

    def drop_damaged(self) -> tuple[DamagedRelation, ...]:
        """Leave out the rows whose share, share_min or share_max is a number outside [0, 1] (a table edited by
        hand: SQLite keeps 9e999 as Infinity); an unknown share (None) is fine. Vectorised: no loop per row."""
        bad: dict[int, str] = {}
        for name, field_name in (("share", "share"), ("low", "share_min"), ("high", "share_max")):
            column = self.joined(name)
            for k in np.flatnonzero(~np.isnan(column) & ~((column >= 0) & (column <= 1))).tolist():
                bad.setdefault(k, f"{field_name} {column[k]:g} is not a number 0..1")
        if not bad:
            return ()
        ids, sources, targets = (self.cols[_FIELD_AT[name]] for name in ("id", "source", "target"))
        damaged = tuple(DamagedRelation(str(ids[k]), str(sources[k]), str(targets[k]), reason)
                        for k, reason in sorted(bad.items()))
        self.cols = [[value for k, value in enumerate(col) if k not in bad] for col in self.cols]
        self._again()
        return damaged

    def merge(self, identity: IdentityMap, store: GraphStore) -> Statements:
        """Apply identity (graph.identity.merge): canonical endpoints, one edge per fact stated by several sources."""
        keep, statements = merge_columns(identity, store, self.cols, _FIELD_AT)
        if keep is not None:
            self.cols = [[col[k] for k in keep] for col in self.cols]
        self._again()  # endpoints may have been rewritten in place
        return statements

    def _again(self) -> None:
        """Turn the (changed) columns into arrays anew, as one page."""
        self._restart()
        if self.cols[0]:
            self.parts.append(self._arrays(0))

    def finish(self, revision: int, statements: Statements | None = None) -> Projection:
        """Renumber the nodes by their ids, join the pages' arrays and build the adjacency."""
        rel_ids, types, sources, targets, _, starts, _, _, _, _, kinds, opens = self.cols
        m = len(sources)
        # The columns hold EdgeRow's fields (ids str, incident str | None, type RelationType), typed object here.
        table, position = NodeIds.build(self.nodes.ids())
        position = self.nodes.spread(position)
        itype = index_type(max(len(table), m))
        src, dst = position[self.joined("src")].astype(itype), position[self.joined("dst")].astype(itype)
        inc = self.joined("incident")
        incident = SparseColumn.of(np.where(inc >= 0, position[np.maximum(inc, 0)], -1).astype(itype))
        codes = np.fromiter(map(_TYPE_CODE.__getitem__, cast(list[RelationType], types)), np.int8, m)
        names = sorted({cast(str, k) for k in kinds if k is not None})
        codes_of: dict[object, int] = {None: -1, **{k: i for i, k in enumerate(names)}}
        kind = SparseColumn.of(np.fromiter(map(codes_of.__getitem__, kinds), np.int16, m))
        low, high = self.joined("low"), self.joined("high")
        bounded = np.flatnonzero(~(np.isnan(low) & np.isnan(high)))
        opened = np.array([bool(x) for x in opens], dtype=bool)
        share, begins, ends = (CodedColumn.of(self.joined(name)) for name in ("share", "valid_from", "valid_to"))
        edges = Edges(codes, src, dst, share, begins, ends, incident, kind, names, bounded, low[bounded], high[bounded],
                      opened[bounded])
        day_of = self.days

        def relation_ids(columns: EdgeColumns) -> RelationIds:
            return RelationIds.build(columns, cast(list[str], rel_ids), cast(list[str], sources),
                                     cast(list[str], targets), cast(list[str | None], starts), day_of.__getitem__)
        return assemble(revision, table, edges, relation_ids, statements or Statements())


class _Numbering:
    """Numbers for node ids as pages arrive, in any order: NodeIds.build renumbers them by id at the end, so
    the final node indices depend neither on the pages' order nor on the numbers. None (no incident) is -1.

    A new id is numbered by its row's place among all the rows numbered so far: one `dict.setdefault` per row
    (in C, through map), where numbering the new ids densely took a set, a difference and an update besides
    the lookups (py-spy of a 640k-relation build: those were half of the page work). The numbers are
    distinct, in the order the ids were first seen, with gaps; `spread` indexes a table by them."""

    def __init__(self) -> None:
        self.number: dict[object, int] = {None: -1}
        self.rows = 0

    def of(self, ids: list[object]) -> np.ndarray:
        """The numbers of these ids, new ones numbered now."""
        numbers = np.fromiter(map(self.number.setdefault, ids, range(self.rows, self.rows + len(ids))), np.int64,
                              len(ids))
        self.rows += len(ids)
        return numbers

    def ids(self) -> list[str]:
        """Every id numbered, in the order first seen (by number)."""
        return cast(list[str], list(self.number)[1:])

    def spread(self, values: np.ndarray) -> np.ndarray:
        """`values` (one per id, in `ids()` order) as a table indexed by the ids' numbers."""
        table = np.zeros(max(self.rows, 1), dtype=values.dtype)
        table[np.fromiter(self.number.values(), np.int64, len(self.number))[1:]] = values
        return table


@dataclass(frozen=True)
class _Part:
    """One page's columns as arrays (node numbers from _Numbering, -1 for no incident)."""

    src: np.ndarray
    dst: np.ndarray
    incident: np.ndarray
    share: np.ndarray
    low: np.ndarray
    high: np.ndarray
    valid_from: np.ndarray
    valid_to: np.ndarray


@dataclass(frozen=True)
class Edges:
    """The per-edge columns a projection is assembled from (built from the store, or read from a snapshot)."""

    type: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    share: CodedColumn
    valid_from: CodedColumn
    valid_to: CodedColumn
    incident: SparseColumn
    kind: SparseColumn
    kinds: list[str]
    bounded: np.ndarray
    bound_min: np.ndarray
    bound_max: np.ndarray
    bound_open: np.ndarray


def assemble(revision: int, ids: NodeIds, edges: Edges, relation_ids: Callable[[EdgeColumns], RelationIds],
             statements: Statements) -> Projection:
    """A projection of these columns: relation ids over them and the adjacency of every type but OWNS.

    OWNS is read through the as-of views (AsOfView.down/up); its whole-history adjacency is built on first use.
    """
    columns = EdgeColumns(ids, edges.type, edges.src, edges.dst, edges.valid_from, edges.incident, edges.kind,
                          edges.kinds, _ALWAYS)
    n = len(ids)
    out, into = Adjacencies(n, edges.type, edges.src, edges.dst), Adjacencies(n, edges.type, edges.dst, edges.src)
    for rel_type in ANALYTIC_RELATIONS:
        if rel_type != RelationType.OWNS:
            out[rel_type], into[rel_type]
    return Projection(revision, ids, edges.type, edges.src, edges.dst, edges.share, edges.valid_from, edges.valid_to,
                      edges.incident, relation_ids(columns), out, into, edges.kind, edges.kinds, edges.bounded,
                      edges.bound_min, edges.bound_max, edges.bound_open, statements)


def _day_table(values: list[object]) -> dict[object, int]:
    """Day number of each distinct ISO date string among the values (few distinct dates: each parsed once)."""
    given = [v for v in dict.fromkeys(values) if v is not None]
    return dict(zip(given, np.array(given, dtype="datetime64[D]").astype(np.int64).tolist()))


def _days(values: list[object], table: dict[object, int], missing: int) -> np.ndarray:
    """ISO date strings (or None) as int32 day numbers, `missing` where there is no date (every date is in
    `table`; a lookup per value in C, not a generator)."""
    return np.fromiter(map(table.get, values, repeat(missing)), np.int32, len(values))


def _later_wins(proj: Projection, owns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The OWNS edges left when, in a company whose owners' shares pass 100%, later statements end earlier ones.

    Owners' stakes (their point values) are taken by valid_from, latest first, one start date at a time: a
    date's stakes are kept while the company holds at most 100% with them; the first date whose stakes
    would pass it, and every earlier date, ends at the latest kept date (as a later filing supersedes an
    earlier one). Stakes of the latest date alone passing 100% are a same-day conflict: kept, and scaled
    with the flag by the caller (scaled_to_full). Returns (kept edges sorted, ended edges).
    Example: B 80% from 2019, A 60% from 2023: on 2024-01-01 B has ended at 2023-01-01; A holds 60%.
    """
    point = np.nan_to_num(proj.edge_shares(owns).point)
    sums = np.bincount(proj.dst[owns], weights=point, minlength=proj.size)
    over = np.flatnonzero(sums > FULL)
    if over.size == 0:
        return owns, np.zeros(0, dtype=owns.dtype)
    ended: list[int] = []
    into = np.isin(proj.dst[owns], over)
    for company in over.tolist():
        mine = np.flatnonzero(into & (proj.dst[owns] == company))
        starts = proj.valid_from[owns[mine]]
        held, latest = 0.0, True
        for start in sorted(set(starts.tolist()), reverse=True):
            group = mine[starts == start]
            if latest or held + point[group].sum() <= FULL:
                held += point[group].sum()  # the latest date always stays (alone over 100%: same day, scaled)
                latest = False
                continue
            ended.extend(owns[mine[starts <= start]].tolist())
            break
    gone = np.array(sorted(ended), dtype=owns.dtype)
    return np.setdiff1d(owns, gone), gone


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
