"""An as-of view patched for a delta (graph.projection.delta): only the columns of W whose companies' OWNS edges changed.

Given the previous view and the new projection (old edges and nodes keep their indices, new ones come after),
the companies T that a written OWNS edge points at are the only columns of W that can change: their valid
OWNS edges are de-duplicated again (latest per pair), their shares read (the free part of an unknown share
is per company, so all of a column is read), scaled, and put in place of the old column entries. The OWNS
adjacency is patched in the rows those edges leave and enter. Nothing else is read, and nothing sized by the
graph is computed: the valid bits are copied packed and written at the touched edges, the per-node sets are
spliced at positions found by binary search, and each CSR array is copied once with its changed rows spliced
in (patched_rows) or, when only new nodes' rows grow, appended to in its spare capacity; an array no changed row
touches is shared with the old view (a memcpy is cheap; the sorts, hashes and scipy conversions were not).

What is derived from the whole of W is carried over only when it provably stays the same, else left to be
rebuilt lazily by the first query that needs it:
- components (and the cached inverses of cyclic ones): kept when every changed entry of W joins two
  different components in topological order (then no cycle is made or broken, and the rank stays a
  topological order); new nodes become components of their own, ranked last;
- control (and may_control at the maximums), when it was built: kept when no CONTROLS edge changed, nobody
  controlled a company of T before, and nobody reaches more than half of one with the old control relation
  (then the fixed-point iteration runs exactly as before, so its least fixed point is the same); else
  updated in the columns downstream of T (graph.projection.control.updated), here in the builder thread, so
  that no query after the write pays for it (a full rebuild of it cost the first liability chain 2.7 s at 1M);
- the whole graph's factors: always rebuilt lazily (they are only used for blocks over 1/16 of the graph).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from corpgraph.schema.kinds import RelationType

from corpgraph.graph.projection import control
from corpgraph.graph.projection.control import CONTROL, Control
from corpgraph.graph.precision import FULL, TOLERANCE
from corpgraph.graph.projection.build import (
    _TYPE_CODE,
    Adjacency,
    AsOfView,
    Components,
    Projection,
    _latest_per_pair,
    _later_wins,
    csr_slots,
)
from corpgraph.graph.projection.shares import EdgeShares
from corpgraph.graph.projection.fresh_pages import fresh_empty
from corpgraph.graph.projection.spare import appended, spare_empty

_OWNS = _TYPE_CODE[RelationType.OWNS]
_CONTROLS = _TYPE_CODE[RelationType.CONTROLS]
_EMPTY = np.zeros(0, dtype=np.int64)


def patched_adjacency(adj: Adjacency, n: int, ends: np.ndarray, add: tuple[np.ndarray, np.ndarray] | None = None,
                      drop: tuple[np.ndarray, np.ndarray] | None = None) -> Adjacency:
    """The adjacency over n nodes (n >= its own) without the `drop` edges (rows, edges) and with `add` (rows,
    edges), its neighbours read from the new projection's column `ends`.

    The rows touched are rebuilt in edge order, as Adjacency.build orders them; the others are copied.
    """
    frm, edges = add if add is not None else (_EMPTY, _EMPTY)
    drop_rows, drop_edges = drop if drop is not None else (_EMPTY, _EMPTY)
    rows = np.unique(np.concatenate((frm, drop_rows)).astype(np.int64))
    if rows.size == 0:
        return Adjacency(_grown_ptr(adj.indptr, n), adj.edge, ends)
    ptr = _grown_ptr(adj.indptr, n)
    slots = csr_slots(ptr, rows)
    indptr, (edge,) = patched_rows(ptr, (adj.edge,), rows, ~np.isin(adj.edge[slots], drop_edges), frm, (edges,), key=0)
    return Adjacency(indptr, edge, ends)


def patched_rows(ptr: np.ndarray, arrays: tuple[np.ndarray, ...], rows: np.ndarray, keep: np.ndarray,
                 add_rows: np.ndarray, added: tuple[np.ndarray, ...], key: int
                 ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Compressed rows (indptr `ptr`, already over the new number of rows, and parallel arrays of their entries)
    with the sorted `rows` rebuilt: their entries where `keep` (a mask over those rows' entries, in order) and
    the `added` entries of `add_rows` (each in `rows`), each rebuilt row in the order of arrays[key]. The other
    rows are copied as they are, in one pass (a delta touches a few rows of millions). Rows rebuilt as they were
    are left out first (an array no row changes is shared, not copied); when every changed row keeps its entries'
    positions and arrays[key], only the other arrays are copied, with those rows written in; when every changed
    row comes after the last entry (new nodes), their entries are appended in the arrays' spare capacity."""
    starts, ends = ptr[rows], ptr[rows + 1]
    slots = csr_slots(ptr, rows)
    all_rows = np.concatenate((np.repeat(rows, ends - starts)[keep], add_rows.astype(np.int64)))
    entries = [np.concatenate((a[slots][keep], b.astype(a.dtype))) for a, b in zip(arrays, added)]
    order = np.lexsort((entries[key], all_rows))
    entries = [e[order] for e in entries]
    sizes = np.bincount(np.searchsorted(rows, all_rows), minlength=rows.size)
    same = _unchanged_rows(arrays, entries, slots, sizes, ends - starts)
    if same.all():
        return ptr, arrays
    if same.any():
        entries = [e[np.repeat(~same, sizes)] for e in entries]
        rows, starts, ends, sizes = rows[~same], starts[~same], ends[~same], sizes[~same]
        slots = csr_slots(ptr, rows)
    if np.array_equal(sizes, ends - starts) and np.array_equal(entries[key], arrays[key][slots]):
        return ptr, tuple(a if k == key else _written(a, slots, e) for k, (a, e) in enumerate(zip(arrays, entries)))
    out_ptr = _shifted_ptr(ptr, rows, sizes - (ends - starts))
    if int(starts[0]) == int(ptr[-1]) == arrays[0].size:  # only rows past every entry grow: nothing moves
        return out_ptr, tuple(appended(a, e) for a, e in zip(arrays, entries))
    offsets = np.concatenate(([0], np.cumsum(sizes))).tolist()
    cuts = list(zip(np.concatenate(([0], ends[:-1])).tolist(), starts.tolist()))  # the copied stretch before each row
    out = []
    for array, entry in zip(arrays, entries):
        pieces = []
        for k, (copied_from, copied_to) in enumerate(cuts):
            pieces += [array[copied_from:copied_to], entry[offsets[k]:offsets[k + 1]]]
        pieces.append(array[int(ends[-1]):])
        out.append(np.concatenate(pieces, out=fresh_empty(sum(p.size for p in pieces), array.dtype)))
    return out_ptr, tuple(out)


def _unchanged_rows(arrays: tuple[np.ndarray, ...], entries: list[np.ndarray], slots: np.ndarray, sizes: np.ndarray,
                    old_sizes: np.ndarray) -> np.ndarray:
    """Per rebuilt row, whether it holds what it held: as many entries, equal in every array (`entries`: the rows'
    new entries, row after row; `slots`: their old ones)."""
    same: np.ndarray = sizes == old_sizes
    if not same.any():
        return same
    new_row = np.repeat(np.arange(sizes.size), sizes)
    picked_new, picked_old = same[new_row], np.repeat(same, old_sizes)  # rows of one size align entry by entry
    differ = np.zeros(int(picked_new.sum()), dtype=bool)
    for array, entry in zip(arrays, entries):
        differ |= entry[picked_new] != array[slots[picked_old]]
    unchanged: np.ndarray = same & (np.bincount(new_row[picked_new][differ], minlength=sizes.size) == 0)
    return unchanged


def _written(array: np.ndarray, slots: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A copy of `array` with `values` at `slots` (the old array stays as the older view reads it)."""
    out = fresh_empty(array.size, array.dtype)
    out[:] = array
    out[slots] = values
    return out


def _shifted_ptr(ptr: np.ndarray, rows: np.ndarray, grows: np.ndarray) -> np.ndarray:
    """`ptr` with row rows[k] grown by grows[k] entries: every later row start shifted by the growth before it
    (added in place, one stretch per row between two rebuilt ones, not a cumulative sum over all rows)."""
    n = ptr.size - 1
    out = spare_empty(n + 1, ptr.dtype)
    out[:] = ptr
    ends = (rows + 1).tolist() + [n + 1]
    for k, shift in enumerate(np.cumsum(grows).tolist()):
        if shift:
            out[ends[k]:ends[k + 1]] += shift
    return out


def _grown_ptr(indptr: np.ndarray, n: int) -> np.ndarray:
    """An indptr over n rows (n >= its own): the new rows empty (appended in its spare capacity, graph.projection.spare)."""
    old_n = indptr.size - 1
    return indptr if n == old_n else appended(indptr, np.full(n - old_n, indptr[-1], dtype=indptr.dtype))


@dataclass(frozen=True)
class _Columns:
    """What changed in the view, per company of T: the OWNS edges kept before and now, and the new shares."""

    n: int
    targets: np.ndarray  # T, sorted
    old_kept: np.ndarray  # the valid de-duplicated OWNS edges into T before
    kept: np.ndarray  # the same now
    shares: EdgeShares  # of `kept`
    owners: np.ndarray  # owner of each kept edge
    companies: np.ndarray  # company of each kept edge


def patched_view(old: AsOfView, proj: Projection, touched: np.ndarray, targets: np.ndarray,
                 into: np.ndarray) -> AsOfView:
    """The view at old.day over the new projection, given the edges added or changed, the companies T their OWNS
    edges point at (sorted) and every OWNS edge into T (sorted); see the module."""
    n, day = proj.size, old.day
    at = np.concatenate((touched, into)).astype(np.int64)  # into last: an edge a later one ended may return
    flags = (proj.valid_from[at] <= day) & (proj.valid_to[at] > day)
    kept, overlaps = _latest_per_pair(proj, into[flags[touched.size:]])
    kept, ended = _later_wins(proj, kept)
    valid = old.valid.written(proj.type.size, np.concatenate((at, ended)),
                              np.concatenate((flags, np.zeros(ended.size, dtype=bool))))
    _, old_kept = old.up.gather(targets[targets < old.projection.size])
    cols = _Columns(n, targets, old_kept, kept, proj.edge_shares(kept), proj.src[kept], proj.dst[kept])
    src, dst = proj.src, proj.dst
    down = patched_adjacency(old.down, n, dst, (src[kept], kept), (src[old_kept], old_kept))
    up = patched_adjacency(old.up, n, src, (dst[kept], kept), (dst[old_kept], old_kept))
    W, over = _patched_w(old.W, old.over_allocated, proj, cols, cols.shares.point, scale=True)
    unknown_src, unknown_dst = _flagged(old.unknown_src, old.unknown_dst, proj, cols, down, cols.shares.unknown)
    ranged_src, ranged_dst = _flagged(old.ranged_src, old.ranged_dst, proj, cols, down, cols.shares.ranged)
    midpoints = dict(old.midpoints)
    overlapping = dict(old.overlaps)
    for edge in old_kept.tolist():
        midpoints.pop(edge, None)
        overlapping.pop(edge, None)
    ranged = cols.shares.ranged
    midpoints.update(zip(kept[ranged].tolist(), cols.shares.point[ranged].tolist()))
    overlapping.update(overlaps)
    view = AsOfView(proj, day, valid, down, up, W, unknown_src, unknown_dst, over, ranged_src, ranged_dst,
                    midpoints, overlaps=overlapping)
    _carry_derived(old, view, cols, proj.dst[touched[proj.type[touched] == _CONTROLS]])
    return view


def _patched_w(W: sp.csr_matrix, over: np.ndarray, proj: Projection, cols: _Columns, values: np.ndarray,
               scale: bool) -> tuple[sp.csr_matrix, np.ndarray]:
    """W with the columns of T replaced by the kept edges' values (scaled to 100% like scaled_to_full if asked).

    W's entries in T's columns are exactly the old kept edges' (W is built from the kept edges): their rows
    (the owners) are rebuilt without them and with the new ones; every other row is copied.
    """
    n = cols.n
    s, d, v = proj.src[cols.kept], proj.dst[cols.kept], values
    keep = ~np.isnan(v) & (v != 0)
    s, d, v = s[keep], d[keep], v[keep]
    scaled_columns = _EMPTY
    if scale:  # column sums of T alone (in the kept edges' order, as scaled_to_full sums them), not over all n
        _, column = np.unique(d, return_inverse=True)
        sums = np.bincount(column, weights=v)[column]
        scaled = sums > FULL
        v = np.where(scaled, v * (1.0 / np.where(scaled, sums, 1.0)), v)
        scaled_columns = d[scaled]
    over = _swapped(over, cols.targets, scaled_columns)
    rows = np.unique(np.concatenate((proj.src[cols.old_kept], s)).astype(np.int64))
    ptr = _grown_ptr(W.indptr, n)
    if rows.size == 0:
        return _csr(W, W.data, W.indices, ptr), over
    kept_entries = ~_members(W.indices[csr_slots(ptr, rows)], cols.targets)
    indptr, (indices, data) = patched_rows(ptr, (W.indices, W.data), rows, kept_entries, s, (d, v), key=0)
    return _csr(W, data, indices, indptr), over


def _csr(old: sp.csr_matrix, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> sp.csr_matrix:
    """The n x n matrix of these CSR arrays, without a pass over them: of W's dtypes (scipy copies and scans
    arrays of a wider index type), and canonical when the old W was known to be (patched rows are sorted by
    column and hold one entry per owner and company, by construction), so no later operation checks it again."""
    n = indptr.size - 1
    W = sp.csr_matrix((data, indices.astype(old.indices.dtype, copy=False), indptr.astype(old.indptr.dtype, copy=False)),
                      shape=(n, n))
    if old.__dict__.get("_has_canonical_format"):  # only when scipy already knows it: asking would scan old W
        W.has_canonical_format = True
    return W


def _members(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Whether each value is in `among` (sorted): a binary search each, nothing sized by the graph."""
    if among.size == 0:
        return np.zeros(values.size, dtype=bool)
    at = np.minimum(np.searchsorted(among, values), among.size - 1)
    found: np.ndarray = among[at] == values
    return found


def _swapped(old: np.ndarray, out: np.ndarray, add: np.ndarray) -> np.ndarray:
    """`old` (sorted, distinct) without the values of `out` and with those of `add`, sorted and distinct, as int64:
    the few positions found by binary search and one splice of `old`, not a sort or hash of all of it."""
    out = np.asarray(out, dtype=np.int64)
    at = np.searchsorted(old, out)
    inside = at < old.size
    gone = at[inside][old[at[inside]] == out[inside]]
    keep = np.delete(old, gone) if gone.size else old
    add = np.unique(np.asarray(add, dtype=np.int64))
    add = add[~_members(add, keep)]
    if add.size == 0:
        return keep.astype(np.int64, copy=False)
    return np.insert(keep, np.searchsorted(keep, add), add).astype(np.int64, copy=False)


def _entry(W: sp.csr_matrix, row: int, col: int) -> float:
    """W[row, col] (0 when absent), read from the CSR arrays."""
    lo, hi = int(W.indptr[row]), int(W.indptr[row + 1])
    hit = np.flatnonzero(W.indices[lo:hi] == col)
    return float(W.data[lo + hit[0]]) if hit.size else 0.0


def _flagged(old_src: np.ndarray, old_dst: np.ndarray, proj: Projection, cols: _Columns, down: Adjacency,
             flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owners and companies with a flagged (unknown, or ranged) kept OWNS edge, updated for T and its owners."""
    kept = cols.kept
    dst = _swapped(old_dst, cols.targets, proj.dst[kept[flag]])
    owners = np.unique(np.concatenate((proj.src[cols.old_kept], proj.src[kept])))
    _, edges = down.gather(owners)
    exact = ~np.isnan(proj.share[edges])
    low, high = proj.ranges(edges)
    ranged = ~exact & ~(np.isnan(low) & np.isnan(high))
    is_unknown = flag is not cols.shares.ranged
    mark = (~exact & ~ranged) if is_unknown else ranged
    return _swapped(old_src, owners, proj.src[edges[mark]]), dst


def _carry_derived(old: AsOfView, view: AsOfView, cols: _Columns, interests: np.ndarray) -> None:
    """Components, inverses, bounds and control of the old view that stay true in the new one, and control
    updated where it may not (see the module); `interests`: the companies a changed CONTROLS edge points at."""
    controls_changed = interests.size > 0
    changed_columns = np.union1d(cols.targets, interests).astype(np.int64)
    changed = _changed_pairs(old.projection, view.projection, cols)
    _carry_components(old, view, changed)
    shares = cols.shares
    bounds: dict[str, tuple[np.ndarray, bool]] = {"lower": (shares.low, True), "upper": (shares.high, False)}
    for name, (values, scale) in bounds.items():
        before = old.bounds.get(name)
        if before is None or not _needs(view, name):  # never built, or not needed now
            continue
        W, over = _patched_w(before.W, before.over_allocated, view.projection, cols, values, scale)
        view.bounds[name] = patched = view._with(W, over)
        _carry_components(before, patched, changed)
    for field, side, at_max in (("control", "lower", False), ("may_control", "upper", True)):
        relation = getattr(old, field)
        if relation is None:
            continue  # never asked for: built on first use, as before
        same = None if controls_changed else _same_control(relation, getattr(view, side)().W, cols)
        setattr(view, field, same or control.updated(relation, view, changed_columns, at_max))


def _needs(view: AsOfView, side: str) -> bool:
    """Whether the view's lower (upper) bound is a view of its own rather than the view itself (AsOfView.lower)."""
    return bool(view.ranged_dst.size or (side == "upper" and view.unknown_dst.size))


def _changed_pairs(old_proj: Projection, proj: Projection, cols: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """(owner, company) of every W entry that may have changed: the old and new kept edges into T."""
    edges = np.concatenate((cols.old_kept, cols.kept))
    return proj.src[edges], proj.dst[edges]


def _carry_components(old: AsOfView, view: AsOfView, changed: tuple[np.ndarray, np.ndarray]) -> None:
    """Keep the old components (new nodes appended as their own) when no changed entry is inside one or
    against the topological rank; the cached inverses of cyclic components go with them."""
    comps: Components | None = old.__dict__.get("components")
    if comps is None:
        return
    old_n, n = comps.labels.size, view.projection.size
    fresh = np.arange(old_n, n, dtype=np.int64)  # each alone, ranked last in node order: labelled by that rank
    grown = Components(appended(comps.labels, fresh), comps.cyclic_ranks, comps.cyclic_nodes, comps.inner)
    s, d = changed
    if ((grown.labels[s] == grown.labels[d]) | (grown.ranks_of(s) >= grown.ranks_of(d))).any():
        return  # a cycle may be made or broken, or the order no longer topological: rebuilt lazily
    view.__dict__["components"] = grown
    view.inverses.update(old.inverses)


def _same_control(relation: object, W: sp.csr_matrix, cols: _Columns) -> Control | None:
    """The old control relation over n nodes, if the changed columns cannot change it (else None: rebuilt lazily).

    Nobody may have controlled a company of T before, and with the old relation nobody may reach more than
    half of one now: then every step of the fixed point sees the same crossings as before.
    """
    assert isinstance(relation, Control)
    old_n, n = relation.size, cols.n
    known = cols.targets[cols.targets < old_n]
    if known.size and (relation.indptr[known + 1] - relation.indptr[known]).any():
        return None
    power: dict[tuple[int, int], float] = defaultdict(float)
    for owner, target in set(zip(cols.owners.tolist(), cols.companies.tolist())):
        share = _entry(W, owner, target)
        power[(owner, target)] += share
        if owner < old_n:
            for boss in relation.controllers_of(owner).tolist():
                power[(boss, target)] += share
    if any(total > CONTROL + TOLERANCE for total in power.values()):
        return None
    return relation.grown(n)
