"""Direct and integrated ownership, control and ultimate owners, by sparse linear algebra on a projection view.

Definitions (pinned; docs/analytics.md writes them out). W[i, j] is the share of j held directly by i
(OWNS valid at as_of, unknown shares count 0).

- direct(X, Y) = W[X, Y].
- integrated(X, Y) = the sum over every walk X -> Y not passing through X again of the product of its
  shares = L[X, Y] / L[X, X] with L = (I - W)^-1. Only the nodes that reach Y (or that X reaches) take
  part, so each answer is one sparse solve on that block; L[X, X] != 1 only on cycles and is taken from
  the node's strongly connected component. A loop holding 100% of itself raises SingularOwnership.
- controls(X, Y): the control rule (graph.projection.control: shares and CONTROLS interests, > 0.5 to a
  fixed point), computed once per date for the whole graph, then read by row or by column.
- ultimate owners of Y: owners with integrated >= threshold (0.25) in Y none of whose own owners has
  integrated >= threshold in Y.
- bounds: integrated_min / integrated_max are the same solve with every share at its minimum / maximum
  (graph.projection.shares), done only for blocks that hold a range or an unknown share.

Example: A holds 50% of B, B holds 20% of A and 60% of C. integrated(A, C) = 0.5 * 0.6 = 0.30 (the walks
A->B->A->... pass through A again and do not count), although L[A, C] = 0.30 / (1 - 0.1) = 0.3333.
"""
from __future__ import annotations

from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from operator import attrgetter
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from corpgraph.schema.errors import SingularOwnership
from corpgraph.schema.kinds import RelationType

from corpgraph.graph.projection import linalg
from corpgraph.graph.projection.control import CONTROL, among, control, controlled_by, controllers_of, may_control
from corpgraph.graph.projection.control import controlling_parent as _controlling_parent
from corpgraph.graph.analytics import holding_rows
from corpgraph.graph.analytics.declared import declarations
from corpgraph.graph.analytics.results import Holding
from corpgraph.graph.precision import TOLERANCE
from corpgraph.graph.identity.conflicts import conflicting_stakes
from corpgraph.graph.projection.build import AsOfView
from corpgraph.graph.projection.distinct import distinct

__all__ = ["CONTROL", "ULTIMATE", "Candidates", "Shares", "column", "controlled_by", "controllers_of",
           "controlling_parent", "holding_candidates", "holdings", "owner_candidates", "owners", "placed", "row",
           "ultimate_owners"]

ULTIMATE = 0.25  # ultimate owners: integrated at least this
_SMALL_BLOCK = 4096  # blocks up to this size get their unasked bounds as plain arrays, larger ones as broadcasts
R = TypeVar("R")  # a row of an answer in rank order (Holding; liability's Party)


@dataclass(frozen=True)
class Shares:
    """Integrated shares between one node and a block: `nodes` (sorted), values and exact bounds, and per node
    whether a walk between them carries an unknown share, a range's midpoint (`estimate`), or enters an
    over-allocated company."""

    anchor: int
    nodes: np.ndarray
    integrated: np.ndarray
    unknown: np.ndarray
    over_allocated: np.ndarray
    low: np.ndarray = field(default_factory=lambda: np.zeros(0))  # integrated with every share at its minimum
    high: np.ndarray = field(default_factory=lambda: np.zeros(0))  # ... at its maximum
    estimate: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # True where `high` is 1 only because the maximums close a loop with no convergent sum: a true bound
    # (no feasible reading gives more than all of a company), not the exact maximum.
    loose: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def local(self, node: int) -> int:
        """Position of a node in the block, or -1."""
        at = int(np.searchsorted(self.nodes, node))
        return at if at < self.nodes.size and self.nodes[at] == node else -1

    def value(self, node: int) -> float:
        """Integrated share between the anchor and `node` (0 when outside the block)."""
        at = self.local(node)
        return float(self.integrated[at]) if at >= 0 else 0.0

    def listed(self) -> np.ndarray:
        """Positions worth an answer: a positive share, or one that may be (unknown, a range), not the anchor."""
        return np.flatnonzero(self.possible())

    def possible(self) -> np.ndarray:
        """listed() as a mask over the block."""
        possible: np.ndarray = ((self.integrated > 0) | self.unknown | (self.high > 0)) & (self.nodes != self.anchor)
        return possible


def owners(view: AsOfView, company: int, min_share: float = 0.0, bounds: bool = True) -> list[Holding]:
    """Everyone with a positive (or unknown) direct or integrated share in `company`, and its controllers.

    Indirect-only owners have direct 0. Controllers without a share (through CONTROLS interests) and
    holders of a CONTROLS interest are listed with no share. With min_share, only owners whose integrated
    share reaches it, plus direct owners whose stake is unknown and controllers. Each carries what a
    source declares about the pair (DECLARED_INTEREST), beside the computed figures. Without `bounds`
    the second and third solves are skipped: integrated_min/max are None and may_control is controls.
    """
    return owner_candidates(view, company, min_share, bounds).answer()


def holdings(view: AsOfView, owner: int, bounds: bool = True) -> list[Holding]:
    """Everything `owner` holds a positive (or unknown) share in or controls, with the control flags."""
    return holding_candidates(view, owner, bounds).answer()


@dataclass(frozen=True)
class Candidates:
    """The pairs of an owners or holdings answer before any Holding is built: block positions and how to fill them.

    `without_shares` are the few pairs that hold no share (controllers through CONTROLS interests,
    interest holders, declared holders): pages carry them with the first page. Nothing here changes once
    made, so the facade keeps a large holder's candidates for its later pages (graph.analytics.solves).
    """

    view: AsOfView
    shares: Shares
    positions: np.ndarray
    direct: dict[int, float | None]
    sides: Sides
    owner_side: bool

    def other(self, at: int) -> str:
        """Id of the other end of the pair at a block position (the owner of owners, the company of holdings)."""
        return self.view.projection.ids[int(self.shares.nodes[at])]

    def answer(self) -> list[Holding]:
        """The whole answer: every holding, and the pairs without shares in their places, in rank order."""
        return placed(self.holdings(), self.without_shares(), _rank(self.owner_side))

    def holdings(self, positions: np.ndarray | None = None, cursors: bool = False) -> list[Holding]:
        """Holding rows for the given block positions (default all), largest integrated share first, then id;
        with `cursors`, each carries the cursor of its rank key (graph.analytics.pages)."""
        chosen = self.ranked if positions is None else positions[self._order(positions)]
        return holding_rows.rows(self.view, self.shares, chosen, self.direct, self.sides, self.owner_side, cursors)

    def columns(self) -> dict[str, Any]:
        """The columns of every holding row in rank order, by Holding field (holding_rows.columns): for answers
        that make objects of their own from them, with no Holding in between."""
        return holding_rows.columns(self.view, self.shares, self.ranked, self.direct, self.sides, self.owner_side)

    @cached_property
    def ranked(self) -> np.ndarray:
        """Every position in rank order (sorted once, then kept with the candidates)."""
        ranked: np.ndarray = self.positions[self._order(self.positions)]
        return ranked

    def without_shares(self) -> list[Holding]:
        """Controllers, interest holders and declared holders with no share, by id."""
        inside = np.zeros(self.shares.nodes.size, dtype=bool)  # a mask, not a set of 10^5 nodes
        inside[self.positions] = True
        return _without_shares(self.view, self.shares, inside, self.sides, self.owner_side)

    def _order(self, positions: np.ndarray) -> np.ndarray:
        """The permutation putting these positions in rank order."""
        return holding_rows.rank_order(self.view.projection.ids, self.shares.nodes[positions],
                                       self.shares.integrated[positions])


def owner_candidates(view: AsOfView, company: int, min_share: float = 0.0, bounds: bool = True) -> Candidates:
    """The owners of `company` (see owners) as candidates."""
    col = column(view, company, bounds)
    direct = _direct(view, company, incoming=True)
    # listed() with the integrated share at least min_share, and direct owners on unknown stakes: one mask, not
    # intersect1d and union1d (their sorts were a tenth of a liability chain of 500 owners)
    wanted = col.possible() & (col.integrated >= min_share)
    wanted[[col.local(o) for o, share in direct.items() if share is None]] = True
    keep = np.flatnonzero(wanted)
    bosses = controllers_of(view, company)
    sides = Sides(bosses, may_control(view).controllers_of(company) if bounds else bosses,
                   _interests(view, company, incoming=True), declarations(view, company, incoming=True))
    return Candidates(view, col, keep.astype(np.int64), direct, sides, owner_side=True)


def holding_candidates(view: AsOfView, owner: int, bounds: bool = True) -> Candidates:
    """The holdings of `owner` (see holdings) as candidates: a positive (or unknown) direct or integrated share."""
    row_ = row(view, owner, bounds)
    direct = _direct(view, owner, incoming=False)
    held = controlled_by(view, owner)
    sides = Sides(held, may_control(view).controlled_by(owner, view) if bounds else held,
                   _interests(view, owner, incoming=False), declarations(view, owner, incoming=False))
    return Candidates(view, row_, row_.listed(), direct, sides, owner_side=False)


def column(view: AsOfView, company: int, bounds: bool = True) -> Shares:
    """integrated(X, company) for every X that reaches the company (one solve on that upstream block)."""
    nodes = view.up.closure([company])  # sorted
    at = int(np.searchsorted(nodes, company))
    values = _integrated(view, nodes, at, transpose=False)
    unknown = _walk_flags(view, nodes, upstream=True, ranged=False)
    estimate = _walk_flags(view, nodes, upstream=True, ranged=True)
    over = _over_allocated_upstream(view, nodes, company)
    low, high, loose = _bounds(view, nodes, at, values, transpose=False) if bounds else _no_bounds(nodes)
    return Shares(company, nodes, values, unknown, over, low, high, estimate, loose)


def row(view: AsOfView, owner: int, bounds: bool = True, reached: np.ndarray | None = None) -> Shares:
    """integrated(owner, Z) for every Z the owner reaches (one transposed solve on that downstream block).

    reached: the nodes view.down.reach([owner]) gives, when the caller has them already.
    """
    nodes = np.flatnonzero(view.down.reached([owner])) if reached is None else np.sort(reached)  # sorted
    at = int(np.searchsorted(nodes, owner))
    values = _integrated(view, nodes, at, transpose=True)
    unknown = _walk_flags(view, nodes, upstream=False, ranged=False)
    estimate = _walk_flags(view, nodes, upstream=False, ranged=True)
    scaled = _over_allocated_among(view, nodes)
    scaled = scaled[scaled != owner]  # walks from the owner never re-enter it
    over = view.down.reached(scaled)[nodes] if scaled.size else np.zeros(nodes.size, bool)
    low, high, loose = _bounds(view, nodes, at, values, transpose=True) if bounds else _no_bounds(nodes)
    return Shares(owner, nodes, values, unknown, over, low, high, estimate, loose)


def ultimate_owners(view: AsOfView, company: int, threshold: float = ULTIMATE) -> list[Holding]:
    """Candidates (integrated >= threshold in the company) that no other candidate stands above (docs/analytics.md).

    A candidate X is left out when another candidate controls X (and X does not control it back), or when
    every owner of X outside X's own cross-holding is a candidate or is itself held only by candidates,
    up to the top (X's stake in the company is then all held through candidates listed above it). A
    loop is never its own owner. Examples: P 100% of A, A 40% of C: [P]. P 10% and Z 80% of A, A 30% of C,
    P 100% of Q, Q 40% of C: [P, A] (Z's 24% runs through A, held by no candidate). Marked unknown
    when an unknown stake above the owner might hide one at or above the threshold.
    """
    col = column(view, company)
    reaching = col.integrated >= threshold - TOLERANCE
    reaching[col.local(company)] = False
    candidates = col.nodes[reaching]
    top = set(candidates[~(_bossed(view, candidates) | _held_through(view, col.nodes, reaching))].tolist())
    out = []
    found = owners(view, company)
    for h, node in zip(found, view.projection.ids.indices([h.owner for h in found]).tolist()):
        if node in top:
            unsure = bool(np.isin(view.up.reach([node])[0], view.unknown_dst).any())  # an unknown stake above it
            out.append(replace(h, unknown=h.unknown or unsure))
    return out


def controlling_parent(view: AsOfView, company: int) -> int | None:
    """The controller of `company` that no other controller controls (ties: highest integrated, then id)."""
    found: list[Shares] = []

    def share_of(node: int) -> float:
        """integrated(node, company), solved once and only when a tie needs it."""
        if not found:
            found.append(column(view, company))
        return found[0].value(node)

    return _controlling_parent(view, company, share_of)


@dataclass(frozen=True)
class Sides:
    """What the other ends of one node are to it beyond shares: controllers, may-controllers, interests, declarations."""

    controls: np.ndarray
    may_control: np.ndarray
    interests: dict[int, tuple[str, ...]]
    declared: dict[int, tuple]  # type: ignore[type-arg]


def _integrated(view: AsOfView, nodes: np.ndarray, at: int, transpose: bool) -> np.ndarray:
    """integrated between nodes[at] and every node of the block: L[X, Y] / L[X, X] (column or row)."""
    values, diagonal = linalg.solve(view, nodes, at, transpose)
    out: np.ndarray = values / values[at] if transpose else values / diagonal
    return out


def _bounds(view: AsOfView, nodes: np.ndarray, at: int, point: np.ndarray, transpose: bool
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """integrated with every share at its minimum and at its maximum, and where the maximum is only a bound.

    integrated is monotone in every direct share while the walk sums converge, so the two solves bound it
    exactly. The maximums are not scaled: a loop of them may have no convergent sum (spectral radius >= 1,
    checked by linalg for the unscaled matrix); its nodes then get 1, a true bound (in any reading where
    no company is held above 100%, integrated is at most 1) flagged `loose`, never a number from a
    divergent inverse. The maximum is capped at 1.
    """
    low = point
    if _touches(view.ranged_dst, nodes):
        low = np.minimum(_integrated(view.lower(), nodes, at, transpose), point)
    high, loose = point, np.zeros(nodes.size, dtype=bool)
    if _touches(view.ranged_dst, nodes) or _touches(view.unknown_dst, nodes):
        try:
            high = _integrated(view.upper(), nodes, at, transpose)
        except SingularOwnership:
            high, loose = np.ones(nodes.size), np.ones(nodes.size, dtype=bool)
        high = np.clip(np.maximum(high, point), 0.0, 1.0)
    return low, high, loose


def _no_bounds(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds not asked for: NaN (they become None in answers), as read-only broadcasts that hold no memory (the
    facade keeps a large holder's solve: two columns of 850k NaN were 14 MB of it); a small block's are plain arrays
    (three broadcasts cost a small exposure ~3% of its time)."""
    if nodes.size <= _SMALL_BLOCK:
        return np.full(nodes.size, np.nan), np.full(nodes.size, np.nan), np.zeros(nodes.size, dtype=bool)
    return np.broadcast_to(np.nan, nodes.size), np.broadcast_to(np.nan, nodes.size), np.broadcast_to(False, nodes.size)


def _touches(ends: np.ndarray, nodes: np.ndarray) -> bool:
    """Whether any of the sorted `ends` is a node of the (sorted) block."""
    return bool(_among(ends, nodes).size)


def _among(ends: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The `ends` that are nodes of the sorted block, in their order: each end searched in the block (the ends of
    unknown or ranged stakes are few, a large holder's block is 10^5 nodes or more). The ends are sorted and distinct
    (the view's flag arrays), so a block smaller than them is searched among them instead, with the same answer (a
    random holder's 4 nodes against the 2,060 owners on unknown stakes of a 200k world: 3 us a search against 11)."""
    if ends.size == 0 or nodes.size == 0:
        return ends[:0]
    if nodes.size < ends.size:
        place = np.minimum(np.searchsorted(ends, nodes), ends.size - 1)
        inside: np.ndarray = ends[place[ends[place] == nodes]]
        return inside
    at = np.minimum(np.searchsorted(nodes, ends), nodes.size - 1)
    found: np.ndarray = ends[nodes[at] == ends]
    return found


def _without_shares(view: AsOfView, shares: Shares, listed: np.ndarray, sides: Sides, owner_side: bool) -> list[Holding]:
    """Controllers, interest holders and declared holders that hold no share (`listed`: the block positions that
    are rows): listed with no share at all, and their direct stake's statements when they conflict."""
    ids, anchor = view.projection.ids, shares.anchor
    controls, may = set(sides.controls.tolist()), set(sides.may_control.tolist())
    others = (controls | may | sides.interests.keys() | sides.declared.keys()) - {anchor}
    alone = [node for node in sorted(others) if (at := shares.local(node)) < 0 or not listed[at]]
    stakes = conflicting_stakes(view, anchor, alone, owner_side)
    out = []
    for node in alone:
        pair = (ids[node], ids[anchor]) if owner_side else (ids[anchor], ids[node])
        out.append(Holding(*pair, None, None, node in controls, may_control=node in may or node in controls,
                           conflicting=node in stakes, statements=stakes.get(node, ()),
                           interests=sides.interests.get(node, ()), declared=sides.declared.get(node, ())))
    return out


def placed(ranked: list[R], others: list[R], key: Callable[[R], tuple[float, str]]) -> list[R]:
    """Rows already in rank order (`key`: their rank, e.g. _rank) with a few more put in their places."""
    for row_ in others:
        insort(ranked, row_, key=key)
    return ranked


def _rank(owner_side: bool) -> Callable[[Holding], tuple[float, str]]:
    """The rank pages cut by (graph.analytics.pages): largest integrated share first, then by id (holders with no
    share rank as 0)."""
    side = attrgetter("owner" if owner_side else "company")
    return lambda h: (-(h.integrated or 0.0), side(h))


def _interests(view: AsOfView, node: int, incoming: bool) -> dict[int, tuple[str, ...]]:
    """The CONTROLS interests valid at this date between the node and each other end (their kinds, sorted)."""
    proj, out = view.projection, {}  # type: ignore[var-annotated]
    for edge in view.edges(RelationType.CONTROLS, node, outgoing=not incoming).tolist():
        other = int(proj.src[edge] if incoming else proj.dst[edge])
        out.setdefault(other, set()).add(proj.kind_of(edge) or "")
    return {other: tuple(sorted(kinds)) for other, kinds in out.items()}


def _bossed(view: AsOfView, candidates: np.ndarray) -> np.ndarray:
    """Per candidate: another candidate controls it, and it does not control that one back."""
    if candidates.size < 2:
        return np.zeros(candidates.size, dtype=bool)
    inner = among(control(view), candidates)  # inner[i, j]: candidate i controls candidate j
    bossed: np.ndarray = (inner & ~inner.T).any(axis=0)
    return bossed


def _held_through(view: AsOfView, nodes: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per candidate of the block: every owner outside its strongly connected component is a candidate or is
    held, the same way, only through candidates (the least fixed point: an owner at the top, or a loop with
    no owner outside it, holds its own stake)."""
    owned, owner = _block_stakes(view, nodes)
    _, comp = csgraph.connected_components(sp.csr_matrix((np.ones(owner.size), (owner, owned)),
                                                         shape=(nodes.size, nodes.size)), connection="strong")
    outside = comp[owner] != comp[owned]
    owner, into = owner[outside], comp[owned[outside]]
    has_owner = np.bincount(into, minlength=comp.max() + 1) > 0
    held = np.zeros(comp.max() + 1, dtype=bool)
    while True:
        good = candidate[owner] | held[comp[owner]]
        now = has_owner & (np.bincount(into, weights=~good, minlength=held.size) == 0)
        if (now == held).all():
            out: np.ndarray = held[comp][candidate]
            return out
        held = now


def _block_stakes(view: AsOfView, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owned, owner) positions in the sorted block of every non-zero (or unknown) stake between block nodes."""
    owner_nodes, edges = view.up.gather(nodes)
    owned_nodes = view.projection.dst[edges]
    keep = (view.projection.share[edges] != 0) & np.isin(owner_nodes, nodes)
    return np.searchsorted(nodes, owned_nodes[keep]), np.searchsorted(nodes, owner_nodes[keep])


def _owned_steps(view: AsOfView, nodes: np.ndarray) -> np.ndarray:
    """Companies the nodes hold a non-zero (or unknown) stake in: a 0% stake makes nobody an owner."""
    held, edges = view.down.gather(nodes)
    return distinct(held[view.projection.share[edges] != 0])


def _over_allocated_among(view: AsOfView, nodes: np.ndarray) -> np.ndarray:
    """The over-allocated companies among `nodes`, sorted."""
    if nodes.size <= _SMALL_BLOCK:  # a search (_among), not a mask over every node of the graph
        return _among(view.over_allocated, nodes)
    # A mask, not np.intersect1d: that sorts the block again (0.45 s for the 850k nodes a 1M-world holder reaches).
    inside = np.zeros(view.projection.size, dtype=bool)
    inside[nodes] = True
    found: np.ndarray = view.over_allocated[inside[view.over_allocated]]
    return found


def _over_allocated_upstream(view: AsOfView, nodes: np.ndarray, company: int) -> np.ndarray:
    """Per block node: some walk from it to `company` enters an over-allocated company (other than itself)."""
    scaled = _over_allocated_among(view, nodes)
    if scaled.size == 0:
        return np.zeros(nodes.size, dtype=bool)
    flagged: np.ndarray = view.up.reached(view.up.gather(scaled)[0])[nodes]
    if scaled.size <= 32:  # a walk from X that enters X again does not count: recheck X without its own stakes
        for node in np.setdiff1d(scaled, [company]).tolist():
            others = np.setdiff1d(scaled, [node])
            reach = view.up.reach(view.up.gather(others)[0])[0] if others.size else others
            flagged[np.searchsorted(nodes, node)] = node in reach
    return flagged


def _direct(view: AsOfView, node: int, incoming: bool) -> dict[int, float | None]:
    """Direct shares on the node's own OWNS edges (a range's midpoint; None where unknown), keyed by the other end."""
    nbr, edges = (view.up if incoming else view.down).of(node)
    return {int(o): view.point_share(e) for o, e in zip(nbr.tolist(), edges.tolist())}


def _walk_flags(view: AsOfView, nodes: np.ndarray, upstream: bool, ranged: bool) -> np.ndarray:
    """Per block node: a walk between it and the anchor carries an unknown share (or a range, with `ranged`).

    Upstream (a column): the nodes that reach an owner on such an edge into the block; downstream (a
    row): the nodes reached from the company on such an edge out of the block.
    """
    if ranged:
        ends = view.ranged_dst if upstream else view.ranged_src
    else:
        ends = view.unknown_dst if upstream else view.unknown_src
    touched = _among(ends, nodes)
    if touched.size == 0:
        return np.zeros(nodes.size, dtype=bool)
    adjacency = view.up if upstream else view.down
    other, edges = adjacency.gather(touched)
    is_range = np.isin(edges, np.fromiter(view.midpoints, np.int64, len(view.midpoints)))
    chosen = distinct(other[is_range if ranged else np.isnan(view.projection.share[edges]) & ~is_range])
    if chosen.size == 0:
        return np.zeros(nodes.size, dtype=bool)
    if nodes.size > _SMALL_BLOCK:
        flags: np.ndarray = adjacency.reached(chosen)[nodes]
        return flags
    # A small block (a liability chain's owners): the closure's levels, searched in the block, not a mask over every
    # node of the graph (1 MB at 1M companies, a tenth of such a chain's column). Its closure is inside the block.
    flags = np.zeros(nodes.size, dtype=bool)
    flags[np.searchsorted(nodes, adjacency.closure(chosen))] = True
    return flags
