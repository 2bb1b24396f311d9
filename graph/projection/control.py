"""The control rule: who controls whom at one date, through shares and through CONTROLS interests.

controls(X, Y): X's direct share in Y plus the direct shares in Y of every company X controls is
strictly greater than 0.5 (compared as > 0.5 + 1e-9), to a fixed point; the same for votes: X's
votingRights in Y plus the votingRights in Y of every company X controls is strictly greater than half
of the votes (votes held through a controlled undertaking are added to its parent's, as the EU
Accounting Directive 2013/34/EU art. 22(3) and the UK PSC rules, Companies Act 2006 Sch. 1A paras 18-19,
attribute them); and X controls Y when X, or a company X controls, holds a CONTROLS interest in Y that
gives control by itself: appointmentOfBoard, or GLEIF's accounting_consolidation (consolidation means
control). Shares and votes are two counts, never added to each other. CONTROLS never adds to integrated
ownership; only to who controls whom.

`control` holds at the minimums (every range at share_min, unknown shares and votes at 0);
`may_control` at the maximums (share_max, or the part the other minimums leave free), so X "may
control" Y when some reading of the reported ranges gives it control.

Example: P holds 60% of H; H has appointmentOfBoard over Y: P controls H, H controls Y, so P controls Y
(though P's integrated share in Y is 0). X holds 30% of T's votes and 60% of S, which holds another 30%
of T's votes: X controls S, so X counts 30% + 30% = 60% of T's votes and controls T.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from corpgraph.schema.kinds import RelationType

from corpgraph.graph.precision import TOLERANCE
from corpgraph.graph.projection.build import Adjacency, AsOfView, csr_slots, pair_slots
from corpgraph.graph.projection.bits import Bits
from corpgraph.graph.projection.spare import appended

CONTROL = 0.5  # controls: strictly more than this (plus TOLERANCE)
_OPEN = 2 * TOLERANCE  # an exclusive minimum counts this much above its bound in the control rule (only there)
# Interest types (normalised: lower case, no separators) that give control by themselves.
_BY_ITSELF = frozenset({"appointmentofboard", "accountingconsolidation"})
_VOTES = "votingrights"
_FEW_MET = 64  # Control.controlled_by walks in Python ints while it has met at most this many companies


@dataclass(frozen=True)
class Control:
    """Who controls whom at one date: the pairs (X, Y) where X controls Y, by columns (Y), and a flag per node telling
    whether it controls anything.

    The relation is kept one way only: what an owner controls is found by walking down from it (`controlled_by`),
    so the rows' copy (an int32 a pair and one a node, 11 MB at 1M companies) is neither built nor saved.
    """

    indptr: np.ndarray  # the controllers of Y are indices[indptr[Y]:indptr[Y + 1]]
    indices: np.ndarray
    controls: Bits  # per node: it controls something

    @classmethod
    def of(cls, found: sp.spmatrix) -> "Control":
        """The relation of a matrix whose stored entries are the pairs."""
        columns = found.tocsc()
        return cls(columns.indptr, columns.indices, Bits.of(np.diff(found.tocsr().indptr) > 0))

    @property
    def size(self) -> int:
        """Number of nodes."""
        return self.indptr.size - 1

    @property
    def by_row(self) -> sp.csr_matrix:
        """The relation as a boolean CSR matrix (built when asked: the fixed point's update after a write)."""
        by_column = sp.csc_matrix((np.ones(self.indices.size, dtype=bool), self.indices, self.indptr),
                                  shape=(self.size, self.size))
        return by_column.tocsr()

    def controllers_of(self, company: int) -> np.ndarray:
        """Sorted nodes that control the company."""
        return np.sort(self.indices[self.indptr[company]:self.indptr[company + 1]])

    def controlled_by(self, owner: int, view: AsOfView) -> np.ndarray:
        """Sorted nodes the owner controls (`view`: the view this relation is of, or one with its holdings).

        X controls Y only through stakes, votes and interests held in Y by X or by companies X controls (see the
        module): so Y is held by X, or by a company X controls that X holds or that is held by one X controls,
        and so on down. The walk goes down from X along OWNS (the view's `down`) and CONTROLS edges (of any
        date: a superset), on only from the companies X controls, each company met checked in its column: the
        cost is in what X controls and holds, never in the whole relation.
        """
        if not self.controls.at(owner):
            return np.zeros(0, dtype=np.int64)  # most nodes control nothing
        interests = view.projection.out[RelationType.CONTROLS]
        steps = (view.down,) if interests.edge.size == 0 else (view.down, interests)
        few = self._few_controlled(owner, steps)
        if few is not None:
            return few
        seen, frontier, found = np.array([owner], dtype=np.int64), np.array([owner], dtype=np.int64), []
        while frontier.size:
            held = np.concatenate([step.gather(frontier)[0] for step in steps]).astype(np.int64)
            held = np.setdiff1d(held, seen)  # sorted, distinct
            seen = np.union1d(seen, held)
            bosses = self.indices[csr_slots(self.indptr, held)]
            frontier = np.repeat(held, self.indptr[held + 1] - self.indptr[held])[bosses == owner]
            found.append(frontier)
        return np.sort(np.concatenate(found))

    def _few_controlled(self, owner: int, steps: tuple[Adjacency, ...]) -> np.ndarray | None:
        """controlled_by's walk in Python ints while it meets at most _FEW_MET companies (None past that).

        Most controllers hold a few companies: ~10 numpy calls a level cost such a walk ~40 us, ints ~10."""
        indptr, indices = self.indptr, self.indices
        met, frontier, found = {owner}, [owner], []
        while frontier:
            held: set[int] = set()
            for node in frontier:
                for step in steps:
                    held.update(step.of(node)[0].tolist())
            held -= met
            met |= held
            if len(met) > _FEW_MET:
                return None
            frontier = [y for y in sorted(held) if owner in indices[indptr[y]:indptr[y + 1]].tolist()]
            found += frontier
        return np.array(sorted(found), dtype=np.int64)

    def with_columns(self, columns: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> "Control":
        """This relation with the pairs of the sorted `columns` replaced by the pairs (rows[k], cols[k]) (each col one
        of them): one splice copy of the arrays, each column's controllers in ascending order, as `of` keeps them."""
        ptr, indices, n = self.indptr, self.indices, self.size
        order = np.lexsort((rows, cols))
        rows, cols = rows[order].astype(indices.dtype), cols[order]
        dropped = csr_slots(ptr, columns)
        keep = np.ones(indices.size, dtype=bool)
        keep[dropped] = False
        sizes = np.diff(ptr).astype(np.int64)
        sizes[columns] = 0
        before = np.concatenate(([0], np.cumsum(sizes)))  # kept entries before each column
        out = np.insert(indices[keep], before[cols], rows)
        sizes += np.bincount(cols, minlength=n)
        out_ptr = np.concatenate(([0], np.cumsum(sizes))).astype(ptr.dtype)
        lost = np.setdiff1d(indices[dropped], rows)  # controlled something in those columns only, maybe
        still = np.isin(lost, out, kind="table") if lost.size else np.zeros(0, dtype=bool)
        changed = np.concatenate((np.unique(rows), lost)).astype(np.int64)
        flags = np.concatenate((np.ones(changed.size - lost.size, dtype=bool), still))
        return Control(out_ptr, out.astype(indices.dtype, copy=False), self.controls.written(n, changed, flags))

    def grown(self, n: int) -> "Control":
        """The same relation over n nodes (n >= its own): the new nodes control nothing and nobody controls them."""
        ptr = appended(self.indptr, np.full(n - self.size, self.indptr[-1], dtype=self.indptr.dtype))
        return Control(ptr, self.indices, self.controls.grown(n))


def control(view: AsOfView) -> Control:
    """The control relation at the minimums (built on first use, then cached with the view).

    Semi-naive fixed point: power[X] = W[X] + the rows W[c] of every c that X controls; each round adds
    the rows of the companies controlled since the last round, and the companies those control through
    CONTROLS interests, until nothing new is controlled. Only nodes with a direct majority stake or a
    controlling interest somewhere can control anything, so only their rows are computed.
    """
    if view.control is None:
        view.control = _relation(_strict(view.lower()), control_links(view, at_max=False), votes(view, at_max=False))
    return view.control  # type: ignore[return-value]


def may_control(view: AsOfView) -> Control:
    """The control relation at the maximums: who may control whom under some reading of the ranges."""
    if view.may_control is None:
        view.may_control = _relation(view.upper().W, control_links(view, at_max=True), votes(view, at_max=True))
    return view.may_control  # type: ignore[return-value]


def controlled_by(view: AsOfView, owner: int) -> np.ndarray:
    """Sorted nodes `owner` controls."""
    return control(view).controlled_by(owner, view)


def controllers_of(view: AsOfView, company: int) -> np.ndarray:
    """Sorted nodes that control `company`."""
    return control(view).controllers_of(company)


def control_links(view: AsOfView, at_max: bool) -> sp.csr_matrix:
    """K[X, Y] = 1 when a CONTROLS interest of X in Y valid at this date gives control by itself (not votes:
    those add up, see `votes`). `at_max` is the same for both readings (such an interest has no size)."""
    proj, n = view.projection, view.projection.size
    edges = _interest_edges(view)
    chosen = edges[np.isin(_kinds(view, edges), list(_BY_ITSELF))]
    links = sp.csr_matrix((np.ones(chosen.size), (proj.src[chosen], proj.dst[chosen])), shape=(n, n))
    links.data[:] = 1.0  # two interests of one holder in one company are one link
    return links


def votes(view: AsOfView, at_max: bool) -> sp.csr_matrix:
    """V[X, Y] = the part of Y's votes X holds directly (votingRights valid at this date; at their minimum or,
    with `at_max`, their maximum: the free part is taken among the votes in the same company). Two interests
    of one holder in one company count once, at the larger."""
    proj, n = view.projection, view.projection.size
    edges = _interest_edges(view)
    edges = edges[_kinds(view, edges) == _VOTES]
    shares = proj.edge_shares(edges)
    held = shares.high if at_max else shares.low + _OPEN * (proj.open_minimum(edges) & shares.ranged)
    out = sp.csr_matrix((n, n))
    if edges.size:
        key = proj.src[edges].astype(np.int64) * n + proj.dst[edges]
        order = np.lexsort((held, key))  # per pair, the largest last
        last = np.r_[key[order][1:] != key[order][:-1], True]
        pick = order[last]
        out = sp.csr_matrix((held[pick], (proj.src[edges][pick], proj.dst[edges][pick])), shape=(n, n))
    return out


def _strict(lower: AsOfView) -> sp.csr_matrix:
    """The minimums' W for the control rule: a range whose minimum is exclusive ("more than 50%") counts a hair
    above it, so that every reading of it, all above the bound, is seen as such (its integrated minimum stays
    the bound itself: the infimum)."""
    proj, edges = lower.projection, lower.down.edge
    if not proj.bound_open.any():  # no exclusive minimum anywhere: not a pass over every valid stake
        return lower.W
    opened = edges[proj.open_minimum(edges) & np.isnan(proj.share[edges])]
    if opened.size == 0:
        return lower.W
    nudge = sp.csr_matrix((np.full(opened.size, _OPEN), (proj.src[opened], proj.dst[opened])), shape=lower.W.shape)
    return (lower.W + nudge).tocsr()


def _interest_edges(view: AsOfView) -> np.ndarray:
    """The CONTROLS edges valid at this date."""
    edges = view.projection.out[RelationType.CONTROLS].edge
    found: np.ndarray = edges[view.valid[edges]]
    return found


def _kinds(view: AsOfView, edges: np.ndarray) -> np.ndarray:
    """The normalised interest type of each edge ("" where it has none)."""
    proj = view.projection
    names = np.array([normal_kind(k) for k in proj.kinds] + [""], dtype=object)  # code -1 reads ""
    found: np.ndarray = names[proj.kind[edges]]
    return found


def closure(W: sp.csr_matrix, links: sp.csr_matrix, V: sp.csr_matrix, owners: np.ndarray) -> sp.csr_matrix:
    """The control rule's fixed point from the given owners only: C[X, Y] = 1 when owner X controls Y (n x n)."""
    return _closure(W, links, V, owners)


def normal_kind(kind: str) -> str:
    """An interest type compared without case or separators (votingRights, voting-rights, VOTING_RIGHTS)."""
    return "".join(ch for ch in kind.lower() if ch.isalnum())


def controlling_parent(view: AsOfView, company: int, share_of: Callable[[int], float]) -> int | None:
    """The controller of `company` that no other controller controls (ties: highest integrated, then id)."""
    rel = control(view)
    bosses = rel.controllers_of(company)
    if bosses.size == 0:
        return None
    inner = among(rel, bosses)  # inner[i, j]: boss i controls boss j
    # top: every controller above it is one it controls back (mutual control in a cross-holding)
    tops = [i for i in range(bosses.size) if not (inner[:, i] & ~inner[i, :]).any()] or list(range(bosses.size))
    ids = view.projection.ids
    if len(tops) == 1:
        return int(bosses[tops[0]])
    return int(bosses[min(tops, key=lambda i: (-share_of(int(bosses[i])), ids[int(bosses[i])]))])


def among(rel: Control, nodes: np.ndarray) -> np.ndarray:
    """A relation restricted to sorted nodes, dense: out[i, j] when nodes[i] relates to nodes[j].

    Read from the columns' compressed arrays: scipy's fancy indexing of an n x n matrix costs far more than the few
    columns.
    """
    slots = csr_slots(rel.indptr, nodes)
    rows = rel.indices[slots]
    cols = np.repeat(np.arange(nodes.size), rel.indptr[nodes + 1] - rel.indptr[nodes])
    at = np.minimum(np.searchsorted(nodes, rows), nodes.size - 1)
    hit = nodes[at] == rows
    out = np.zeros((nodes.size, nodes.size), dtype=bool)
    out[at[hit], cols[hit]] = True
    return out


def updated(old: Control, view: AsOfView, changed: np.ndarray, at_max: bool) -> Control:
    """The control relation of `view` (at the maximums with at_max, as may_control) from `old`, the relation of
    a view whose shares, votes and interests differ only in the columns `changed` (the companies a delta's
    edges point at; graph.projection.view_delta), so that no query builds it again after a write.

    Who controls a company depends only on the stakes, votes and interests into it and on who controls its
    holders; so the companies D reachable from `changed` through stakes, votes and interests (`changed`
    included) are the only columns that can change, and the others of `old` are the new relation's. The fixed
    point is then iterated over the columns of D alone, from the old relation outside D, and for the rows that
    can reach them: the holders of a company of D and whoever controls one of those outside D (a controller
    of a company of D is one of these, by induction on how it came to control it). When D holds more than
    REACH of the nodes, the whole relation is computed again (about as quick).

    What it costs is in D and those rows: D's entries of W are found through the view's `up` adjacency (a binary
    search each in its owner's row), the fixed point runs on matrices over those nodes alone (renumbered), and the
    new columns are spliced into the old relation's arrays (one copy of them). Before, each update transposed the
    whole relation twice, passed over every entry of W and ran scipy's products on n x n matrices (a stake that
    crossed a half in a 200k-company world: 30-36 ms of CPU, now 17-29 ms, most of it D's own).
    """
    W = view.upper().W if at_max else _strict(view.lower())
    links, V = control_links(view, at_max), votes(view, at_max)
    n = W.shape[0]
    inside = _downstream((W, links, V), changed)
    columns = np.flatnonzero(inside)
    if columns.size > REACH * n:
        return _relation(W, links, V)
    old = old.grown(n)
    owners, edges = view.up.gather(columns)
    companies = view.projection.dst[edges].astype(np.int64)
    slots = pair_slots(W, owners, companies)
    found = slots >= 0
    into = [(owners[found].astype(np.int64), companies[found], W.data[slots[found]])]
    into += [_entries(_columns(M, inside)) for M in (links, V)]  # CONTROLS edges: few, read whole
    holders = np.unique(np.concatenate([rows for rows, _, _ in into]))
    outside = holders[~inside[holders]]
    bosses = old.indices[csr_slots(old.indptr, outside)].astype(np.int64)
    rows = np.union1d(holders, bosses)
    capable = rows[_capable(W[rows], links[rows], V[rows])]
    held = np.repeat(outside, old.indptr[outside + 1] - old.indptr[outside])  # bosses[k] controls held[k], outside D
    lending = np.isin(bosses, capable)
    nodes = np.union1d(rows, columns)  # the fixed point's nodes, renumbered by their rank here

    def at(x: np.ndarray) -> np.ndarray:
        """Ranks of nodes among `nodes`."""
        found: np.ndarray = np.searchsorted(nodes, x)
        return found

    m = nodes.size
    small = [sp.csr_matrix((values, (at(r), at(c))), shape=(m, m)) for r, c, values in into]
    known = sp.csr_matrix((np.ones(int(lending.sum())), (at(bosses[lending]), at(held[lending]))), shape=(m, m))
    fresh = _closure(small[0], small[1], small[2], at(capable), known).tocoo()
    return old.with_columns(columns, nodes[fresh.row], nodes[fresh.col])


def _entries(M: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, value) of every stored entry of M."""
    coo = M.tocoo()
    return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data


REACH = 0.25  # past this share of the nodes downstream of a delta, `updated` computes the whole relation again


def _downstream(graphs: tuple[sp.csr_matrix, ...], starts: np.ndarray) -> np.ndarray:
    """A mask of the nodes reachable from `starts` along any graph's entries (row -> column), starts included."""
    seen = np.zeros(graphs[0].shape[0], dtype=bool)
    frontier = np.unique(starts.astype(np.int64))
    while frontier.size:
        seen[frontier] = True
        reached = np.concatenate([G.indices[csr_slots(G.indptr, frontier)] for G in graphs])
        frontier = np.unique(reached[~seen[reached]]).astype(np.int64)
    return seen


def _columns(M: sp.csr_matrix, mask: np.ndarray) -> sp.csr_matrix:
    """M with only the entries of the columns the mask holds (the others dropped), in one pass over its entries
    (scipy's copy, multiply and eliminate_zeros make three, each with its own allocations)."""
    M = M.tocsr()
    keep = mask[M.indices]
    before = np.zeros(keep.size + 1, dtype=np.int64)
    np.cumsum(keep, out=before[1:])  # kept entries before each position: the new indptr at each row start
    return sp.csr_matrix((M.data[keep], M.indices[keep], before[M.indptr]), shape=M.shape)


def _capable(W: sp.csr_matrix, links: sp.csr_matrix, V: sp.csr_matrix) -> np.ndarray:
    """The nodes that can control anything: a direct majority of shares or votes somewhere, or a controlling
    interest."""
    if W.shape[0] == 0:  # an empty store: scipy's max refuses a zero-size axis
        return np.zeros(0, dtype=np.int64)
    majority = (np.asarray(W.max(axis=1).toarray()).ravel() > CONTROL + TOLERANCE) | \
        (np.asarray(V.max(axis=1).toarray()).ravel() > CONTROL + TOLERANCE)
    capable: np.ndarray = np.flatnonzero(majority | (np.diff(links.indptr) > 0))
    return capable


def _relation(W: sp.csr_matrix, links: sp.csr_matrix, V: sp.csr_matrix) -> Control:
    """The fixed point of the control rule over shares W, controlling interests `links` and votes V."""
    return Control.of(_closure(W, links, V, _capable(W, links, V)))


def _closure(W: sp.csr_matrix, links: sp.csr_matrix, V: sp.csr_matrix, capable: np.ndarray,
             known: sp.csr_matrix | None = None) -> sp.csr_matrix:
    """The control fixed point for the capable rows, returned as an n x n matrix.

    known: control already known in other columns than W's, links' and V's (see `updated`): what those
    companies hold lends from the start; the result holds only the new pairs.
    """
    n = W.shape[0]
    power, via, voice = W[capable], links[capable], V[capable]
    if known is not None:
        lent = known[capable]
        power, via, voice = power + lent @ W, via + lent @ links, voice + lent @ V
    held = sp.csr_matrix(power.shape)
    while True:
        crossed = ((power > CONTROL + TOLERANCE).astype(np.float64) + (voice > CONTROL + TOLERANCE).astype(np.float64)
                   + via).tocsr()
        crossed.data[:] = 1.0
        crossed = crossed - crossed.multiply(held)  # pairs already known drop out
        crossed.eliminate_zeros()
        fresh = crossed.tocoo()
        keep = fresh.col != capable[fresh.row]  # controlling oneself through a subsidiary is not control
        if not keep.any():
            break
        delta = sp.csr_matrix((np.ones(int(keep.sum())), (fresh.row[keep], fresh.col[keep])), shape=power.shape)
        held = held + delta
        power = power + delta @ W  # the newly controlled companies lend their direct stakes
        voice = voice + delta @ V  # and their votes
        via = via + delta @ links  # and whatever they control through their interests
    full = held.tocoo()
    return sp.csr_matrix((full.data, (capable[full.row], full.col)), shape=(n, n))
