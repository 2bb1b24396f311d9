"""Direct and integrated ownership, control and ultimate owners, by sparse linear algebra on a projection view.

Definitions (pinned; docs/analytics.md writes them out). W[i, j] is the share of j held directly by i
(OWNS valid at as_of, unknown shares count 0).

- direct(X, Y) = W[X, Y].
- integrated(X, Y) = the sum over every walk X -> Y not passing through X again of the product of its
  shares = L[X, Y] / L[X, X] with L = (I - W)^-1. Only the nodes that reach Y (or that X reaches) take
  part, so each answer is one sparse solve on that block; L[X, X] != 1 only on cycles and is taken from
  the node's strongly connected component. A loop holding 100% of itself raises SingularOwnership.
- controls(X, Y): W[X, Y] plus W[C, Y] over every C that X controls exceeds 0.5, to a fixed point;
  computed once per date for the whole graph (`control`), then read by row or by column.
- ultimate owners of Y: owners with integrated >= threshold (0.25) that have no owner with integrated
  >= threshold themselves.

Example: A holds 50% of B, B holds 20% of A and 60% of C. integrated(A, C) = 0.5 * 0.6 = 0.30 (the walks
A->B->A->... pass through A again and do not count), although L[A, C] = 0.30 / (1 - 0.1) = 0.3333.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from graph.analytics import linalg
from graph.analytics.results import Holding
from graph.projection import TOLERANCE, AsOfView

CONTROL = 0.5  # controls: strictly more than this
ULTIMATE = 0.25  # ultimate owners: integrated at least this


@dataclass(frozen=True)
class Shares:
    """Integrated shares between one node and a block: `nodes` (sorted), values, and per node whether a walk
    between them carries an unknown share (`unknown`) or enters an over-allocated company (`over_allocated`)."""

    anchor: int
    nodes: np.ndarray
    integrated: np.ndarray
    unknown: np.ndarray
    over_allocated: np.ndarray

    def local(self, node: int) -> int:
        """Position of a node in the block, or -1."""
        at = int(np.searchsorted(self.nodes, node))
        return at if at < self.nodes.size and self.nodes[at] == node else -1

    def value(self, node: int) -> float:
        """Integrated share between the anchor and `node` (0 when outside the block)."""
        at = self.local(node)
        return float(self.integrated[at]) if at >= 0 else 0.0

    def listed(self) -> np.ndarray:
        """Positions worth an answer: a positive share or an unknown one (a 0% stake holds nothing), not the anchor."""
        return np.flatnonzero(((self.integrated > 0) | self.unknown) & (self.nodes != self.anchor))


def owners(view: AsOfView, company: int, min_share: float = 0.0) -> list[Holding]:
    """Everyone with a positive (or unknown) direct or integrated share in `company`; indirect-only ones have direct 0.

    With min_share, only owners whose integrated share reaches it, plus direct owners whose stake is
    unknown (nothing says they are below it).
    """
    return owner_candidates(view, company, min_share).holdings()


def holdings(view: AsOfView, owner: int) -> list[Holding]:
    """Everything `owner` holds a direct or integrated share in, with the control flag."""
    return holding_candidates(view, owner).holdings()


@dataclass(frozen=True)
class Candidates:
    """The pairs of an owners or holdings answer before any Holding is built: block positions and how to fill them."""

    view: AsOfView
    shares: Shares
    positions: np.ndarray
    direct: dict[int, float | None]
    controls: Callable[[int], bool]
    owner_side: bool

    def other(self, at: int) -> str:
        """Id of the other end of the pair at a block position (the owner of owners, the company of holdings)."""
        return self.view.projection.ids[int(self.shares.nodes[at])]

    def holdings(self, positions: np.ndarray | None = None) -> list[Holding]:
        """Holding rows for the given block positions (default all), largest integrated share first, then id."""
        return _holdings(self.view, self.shares, self.positions if positions is None else positions, self.direct,
                         self.controls, self.owner_side)


def owner_candidates(view: AsOfView, company: int, min_share: float = 0.0) -> Candidates:
    """The owners of `company` (see owners) as candidates."""
    col = column(view, company)
    direct = _direct(view, company, incoming=True)
    unknown_direct = [col.local(o) for o, share in direct.items() if share is None]
    keep = np.union1d(np.intersect1d(col.listed(), np.flatnonzero(col.integrated >= min_share)), unknown_direct)
    controllers = set(np.searchsorted(col.nodes, controllers_of(view, company)).tolist())
    return Candidates(view, col, keep.astype(np.int64), direct, lambda at: at in controllers, owner_side=True)


def holding_candidates(view: AsOfView, owner: int) -> Candidates:
    """The holdings of `owner` (see holdings) as candidates: a positive (or unknown) direct or integrated share."""
    row_ = row(view, owner)
    controlled = set(controlled_by(view, owner).tolist())
    direct = _direct(view, owner, incoming=False)
    return Candidates(view, row_, row_.listed(), direct, lambda at: int(row_.nodes[at]) in controlled, owner_side=False)


def column(view: AsOfView, company: int) -> Shares:
    """integrated(X, company) for every X that reaches the company (one solve on that upstream block)."""
    nodes = np.sort(view.up.reach([company])[0])
    values, diagonal = linalg.solve(view, nodes, int(np.searchsorted(nodes, company)), transpose=False)
    unknown_tails = _unknown_ends(view, nodes, tails=True)
    unknown = np.isin(nodes, view.up.reach(unknown_tails)[0]) if unknown_tails.size else np.zeros(nodes.size, bool)
    over = _over_allocated_upstream(view, nodes, company)
    return Shares(company, nodes, values / diagonal, unknown, over)  # L[X, company] / L[X, X]


def row(view: AsOfView, owner: int) -> Shares:
    """integrated(owner, Z) for every Z the owner reaches (one transposed solve on that downstream block)."""
    nodes = np.sort(view.down.reach([owner])[0])
    at = int(np.searchsorted(nodes, owner))
    values, _ = linalg.solve(view, nodes, at, transpose=True)
    unknown_heads = _unknown_ends(view, nodes, tails=False)
    unknown = np.isin(nodes, view.down.reach(unknown_heads)[0]) if unknown_heads.size else np.zeros(nodes.size, bool)
    scaled = np.setdiff1d(np.intersect1d(view.over_allocated, nodes), [owner])  # walks from the owner never re-enter it
    over = np.isin(nodes, view.down.reach(scaled)[0]) if scaled.size else np.zeros(nodes.size, bool)
    return Shares(owner, nodes, values / values[at], unknown, over)  # L[owner, Z] / L[owner, owner]


@dataclass(frozen=True)
class Control:
    """Who controls whom at one date: C[X, Y] = 1 when X controls Y, by rows and by columns."""

    by_row: sp.csr_matrix
    by_column: sp.csc_matrix

    def controlled_by(self, owner: int) -> np.ndarray:
        """Sorted nodes the owner controls."""
        return np.sort(self.by_row.indices[self.by_row.indptr[owner]:self.by_row.indptr[owner + 1]])

    def controllers_of(self, company: int) -> np.ndarray:
        """Sorted nodes that control the company."""
        col = self.by_column
        return np.sort(col.indices[col.indptr[company]:col.indptr[company + 1]])


def control(view: AsOfView) -> Control:
    """The control relation of the whole graph at this date (built on first use, then cached with the view).

    Semi-naive fixed point: power[X] = W[X] + the rows W[c] of every c that X controls; each round adds
    the rows of the companies controlled since the last round, until no new pair crosses 0.5. Only
    nodes with a direct majority stake somewhere can control anything (control starts with one), so
    only their rows are computed.
    """
    if view.control is None:
        found = _closure(view.W, np.flatnonzero(view.majority))
        view.control = Control(found, found.tocsc())
    return view.control  # type: ignore[return-value]


def controlled_by(view: AsOfView, owner: int) -> np.ndarray:
    """Sorted nodes `owner` controls."""
    return control(view).controlled_by(owner)


def controllers_of(view: AsOfView, company: int) -> np.ndarray:
    """Sorted nodes that control `company`."""
    return control(view).controllers_of(company)


def _closure(W: sp.csr_matrix, capable: np.ndarray) -> sp.csr_matrix:
    """The control fixed point for the capable rows, returned as an n x n matrix."""
    n = W.shape[0]
    power = W[capable]
    held = sp.csr_matrix(power.shape)
    while True:
        crossed = (power > CONTROL + TOLERANCE).astype(np.float64).tocsr()
        crossed = crossed - crossed.multiply(held)  # pairs already known drop out
        crossed.eliminate_zeros()
        fresh = crossed.tocoo()
        keep = fresh.col != capable[fresh.row]  # owning oneself through a subsidiary is not control
        if not keep.any():
            break
        delta = sp.csr_matrix((np.ones(int(keep.sum())), (fresh.row[keep], fresh.col[keep])), shape=power.shape)
        held = held + delta
        power = power + delta @ W  # the newly controlled companies lend their direct stakes
    full = held.tocoo()
    return sp.csr_matrix((full.data, (capable[full.row], full.col)), shape=(n, n))


def ultimate_owners(view: AsOfView, company: int, threshold: float = ULTIMATE) -> list[Holding]:
    """Owners with integrated >= threshold in the company none of whose own owners has >= threshold in it.

    Both shares are measured in the target company: a person holding 60% of A, which holds 30% of C, has
    0.18 of C, below 0.25, so A (0.30) is an ultimate owner of C. Marked unknown when an unknown stake
    above the owner might hide one at or above the threshold.
    """
    col = column(view, company)
    reaching = col.integrated >= threshold - TOLERANCE
    reaching[col.local(company)] = False
    candidates = col.nodes[reaching]
    inside = np.zeros(view.projection.size, dtype=bool)
    inside[col.nodes] = True
    held = _owned_steps(view, candidates)
    below = _reach_within(view, held, inside)  # owned, directly or through others, by a candidate
    top = candidates[~np.isin(candidates, below)]
    out = []
    for h in owners(view, company):
        node = view.projection.index[h.owner]
        if node in top:
            above = view.up.reach([node])[0]
            unsure = bool(np.isin(above, view.unknown_dst).any())  # an unknown stake might be above it
            out.append(replace(h, unknown=h.unknown or unsure))
    return out


def controlling_parent(view: AsOfView, company: int) -> int | None:
    """The controller of `company` that no other controller controls (ties: highest integrated, then id)."""
    rel = control(view)
    bosses = rel.controllers_of(company)
    if bosses.size == 0:
        return None
    inner = rel.by_row[bosses][:, bosses].toarray() > 0  # inner[i, j]: boss i controls boss j
    # top: every controller above it is one it controls back (mutual control in a cross-holding)
    tops = [i for i in range(bosses.size) if not (inner[:, i] & ~inner[i, :]).any()] or list(range(bosses.size))
    if len(tops) == 1:
        return int(bosses[tops[0]])
    col, ids = column(view, company), view.projection.ids
    return int(bosses[min(tops, key=lambda i: (-col.value(int(bosses[i])), ids[int(bosses[i])]))])


def _holdings(view: AsOfView, shares: Shares, positions: np.ndarray, direct: dict[int, float | None],
              controls: Callable[[int], bool], owner_side: bool) -> list[Holding]:
    """Holding rows for the given block positions, largest integrated share first."""
    ids = view.projection.ids
    anchor = ids[shares.anchor]
    out = []
    for at in positions.tolist():
        node = int(shares.nodes[at])
        value, unknown = float(shares.integrated[at]), bool(shares.unknown[at])
        integrated = None if unknown and value <= 0 else value  # an unknown stake never becomes a number
        pair = (ids[node], anchor) if owner_side else (anchor, ids[node])
        out.append(Holding(*pair, direct.get(node, 0.0), integrated, controls(at), unknown,
                           bool(shares.over_allocated[at])))
    out.sort(key=lambda h: (-(h.integrated or 0.0), h.owner if owner_side else h.company))
    return out


def _owned_steps(view: AsOfView, nodes: np.ndarray) -> np.ndarray:
    """Companies the nodes hold a non-zero (or unknown) stake in: a 0% stake makes nobody an owner."""
    held, edges = view.down.gather(nodes)
    return np.unique(held[view.projection.share[edges] != 0])


def _reach_within(view: AsOfView, starts: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Nodes reached from `starts` down non-zero stakes without leaving the `inside` mask (starts included)."""
    seen = np.zeros(inside.size, dtype=bool)
    frontier = starts[inside[starts]]
    seen[frontier] = True
    while frontier.size:
        nxt = _owned_steps(view, frontier)
        frontier = nxt[inside[nxt] & ~seen[nxt]]
        seen[frontier] = True
    return np.flatnonzero(seen)


def _over_allocated_upstream(view: AsOfView, nodes: np.ndarray, company: int) -> np.ndarray:
    """Per block node: some walk from it to `company` enters an over-allocated company (other than itself)."""
    scaled = np.intersect1d(view.over_allocated, nodes)
    if scaled.size == 0:
        return np.zeros(nodes.size, dtype=bool)
    flagged = np.isin(nodes, view.up.reach(view.up.gather(scaled)[0])[0])
    if scaled.size <= 32:  # a walk from X that enters X again does not count: recheck X without its own stakes
        for node in np.setdiff1d(scaled, [company]).tolist():
            others = np.setdiff1d(scaled, [node])
            reach = view.up.reach(view.up.gather(others)[0])[0] if others.size else others
            flagged[np.searchsorted(nodes, node)] = node in reach
    return flagged


def _direct(view: AsOfView, node: int, incoming: bool) -> dict[int, float | None]:
    """Direct shares on the node's own OWNS edges (None where unknown), keyed by the other end."""
    nbr, edges = (view.up if incoming else view.down).of(node)
    shares = view.projection.share[edges]
    return {int(o): (None if np.isnan(s) else float(s)) for o, s in zip(nbr.tolist(), shares.tolist())}


def _unknown_ends(view: AsOfView, nodes: np.ndarray, tails: bool) -> np.ndarray:
    """Owners (tails) of unknown-share edges into the block, or owned companies (heads) of those out of it."""
    ends = view.unknown_dst if tails else view.unknown_src
    if ends.size == 0:
        return ends
    at = np.minimum(np.searchsorted(ends, nodes), ends.size - 1)
    touched = nodes[ends[at] == nodes]
    other, edges = (view.up if tails else view.down).gather(touched)
    return np.unique(other[np.isnan(view.projection.share[edges])])
