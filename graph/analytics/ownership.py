"""Direct and integrated ownership, control and ultimate owners, by sparse linear algebra on a projection view.

Definitions (pinned; docs/analytics.md writes them out). W[i, j] is the share of j held directly by i
(OWNS valid at as_of, unknown shares count 0).

- direct(X, Y) = W[X, Y].
- integrated(X, Y) = the sum over every walk X -> Y not passing through X again of the product of its
  shares = L[X, Y] / L[X, X] with L = (I - W)^-1. Only the nodes that reach Y (or that X reaches) take
  part, so each answer is one sparse solve on that block; L[X, X] != 1 only on cycles and is taken from
  the node's strongly connected component. A loop holding 100% of itself raises SingularOwnership.
- controls(X, Y): W[X, Y] plus W[C, Y] over every C that X controls exceeds 0.5, to a fixed point.
- ultimate owners of Y: owners with integrated >= threshold (0.25) that have no owner with integrated
  >= threshold themselves.

Example: A holds 50% of B, B holds 20% of A and 60% of C. integrated(A, C) = 0.5 * 0.6 = 0.30 (the walks
A->B->A->... pass through A again and do not count), although L[A, C] = 0.30 / (1 - 0.1) = 0.3333.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from graph.analytics import linalg
from graph.analytics.results import Holding
from graph.projection import AsOfView, csr_slots

CONTROL = 0.5  # controls: strictly more than this
ULTIMATE = 0.25  # ultimate owners: integrated at least this
_DENSE_CONTROL = 64  # blocks up to this size find control with dense matrices


@dataclass
class Shares:
    """Integrated shares between one node and a block: `nodes` (sorted), values, unknown-walk flags."""

    view: AsOfView
    anchor: int
    nodes: np.ndarray
    integrated: np.ndarray
    unknown: np.ndarray

    @cached_property
    def sub(self) -> sp.csr_matrix:
        """W restricted to the block, in the order of `nodes` (extracted on first use)."""
        rows, cols, shares = self.view.submatrix(self.nodes)
        return sp.csr_matrix((shares, (rows, cols)), shape=(self.nodes.size, self.nodes.size))

    def local(self, node: int) -> int:
        """Position of a node in the block, or -1."""
        at = int(np.searchsorted(self.nodes, node))
        return at if at < self.nodes.size and self.nodes[at] == node else -1

    def value(self, node: int) -> float:
        """Integrated share between the anchor and `node` (0 when outside the block)."""
        at = self.local(node)
        return float(self.integrated[at]) if at >= 0 else 0.0


def owners(view: AsOfView, company: int) -> list[Holding]:
    """Everyone with a direct or integrated share in `company` (indirect-only owners have direct 0)."""
    col = column(view, company)
    control = control_matrix(col.sub)
    here = col.local(company)
    direct = _direct(view, company, incoming=True)
    return _holdings(view, col, direct, lambda at: bool(control[at, here]), owner_side=True)


def holdings(view: AsOfView, owner: int) -> list[Holding]:
    """Everything `owner` holds a direct or integrated share in, with the control flag."""
    row_ = row(view, owner)
    controlled = set(controlled_by(view, owner).tolist())
    direct = _direct(view, owner, incoming=False)
    return _holdings(view, row_, direct, lambda at: int(row_.nodes[at]) in controlled, owner_side=False)


def column(view: AsOfView, company: int) -> Shares:
    """integrated(X, company) for every X that reaches the company (one solve on that upstream block)."""
    nodes = np.sort(view.up.reach([company])[0])
    values, diagonal = linalg.solve(view, nodes, int(np.searchsorted(nodes, company)), transpose=False)
    unknown_tails = _unknown_ends(view, nodes, tails=True)
    unknown = np.isin(nodes, view.up.reach(unknown_tails)[0]) if unknown_tails.size else np.zeros(nodes.size, bool)
    return Shares(view, company, nodes, values / diagonal, unknown)  # L[X, company] / L[X, X]


def row(view: AsOfView, owner: int) -> Shares:
    """integrated(owner, Z) for every Z the owner reaches (one transposed solve on that downstream block)."""
    nodes = np.sort(view.down.reach([owner])[0])
    at = int(np.searchsorted(nodes, owner))
    values, _ = linalg.solve(view, nodes, at, transpose=True)
    unknown_heads = _unknown_ends(view, nodes, tails=False)
    unknown = np.isin(nodes, view.down.reach(unknown_heads)[0]) if unknown_heads.size else np.zeros(nodes.size, bool)
    return Shares(view, owner, nodes, values / values[at], unknown)  # L[owner, Z] / L[owner, owner]


def control_matrix(sub: sp.csr_matrix) -> sp.csr_matrix:
    """C[i, j] = i controls j within the block: power = W + C @ W, C = power > 0.5, to a fixed point."""
    if sub.shape[0] <= _DENSE_CONTROL:
        return sp.csr_matrix(_dense_control(sub.toarray()))
    control = sp.csr_matrix(sub.shape, dtype=np.float64)
    while True:
        power = sub + control @ sub
        grown = (power > CONTROL).astype(np.float64).tocsr()
        grown.setdiag(0)  # owning oneself through a subsidiary is not control of another company
        grown.eliminate_zeros()
        if grown.nnz == control.nnz:  # control only grows, so equal sizes mean the fixed point
            return control
        control = grown


def _dense_control(w: np.ndarray) -> np.ndarray:
    """control_matrix on a small dense block."""
    control = np.zeros_like(w)
    while True:
        grown = (w + control @ w > CONTROL).astype(np.float64)
        np.fill_diagonal(grown, 0.0)
        if grown.sum() == control.sum():
            return control
        control = grown


def controlled_by(view: AsOfView, owner: int) -> np.ndarray:
    """Sorted nodes `owner` controls: the single-source form of control_matrix, on rows of W."""
    controlled = np.empty(0, dtype=np.int64)
    holders = np.array([owner])
    while True:
        slots = csr_slots(view.W.indptr, holders)
        targets, inverse = np.unique(view.W.indices[slots], return_inverse=True)
        power = np.bincount(inverse, weights=view.W.data[slots], minlength=targets.size)
        won = targets[(power > CONTROL) & (targets != owner)]
        if won.size == controlled.size:  # control only grows: no new company means the fixed point
            return won
        controlled, holders = won, np.concatenate(([owner], won))


def ultimate_owners(view: AsOfView, company: int, threshold: float = ULTIMATE) -> list[Holding]:
    """Owners with integrated >= threshold that have no owner at or above the threshold themselves."""
    found = [h for h in owners(view, company) if h.integrated is not None and h.integrated >= threshold]
    out = []
    for h in found:
        above = column(view, view.projection.index[h.owner])
        mine = above.integrated[above.nodes != above.anchor]
        if (mine >= threshold).any():
            continue
        unsure = bool(above.unknown[above.nodes != above.anchor].any())  # an unknown stake might be above it
        out.append(Holding(h.owner, h.company, h.direct, h.integrated, h.controls, h.unknown or unsure))
    return out


def controlling_parent(view: AsOfView, company: int) -> int | None:
    """The controller of `company` that no other controller controls (ties: highest integrated, then id)."""
    col = column(view, company)
    control = control_matrix(col.sub).tocsc()
    here = col.local(company)
    bosses = control[:, here].nonzero()[0]
    if bosses.size == 0:
        return None
    inner = control[bosses][:, bosses].toarray() > 0
    # top: every controller above it is one it controls back (mutual control in a cross-holding)
    tops = [i for i in range(bosses.size) if not (inner[:, i] & ~inner[i, :]).any()] or list(range(bosses.size))
    ids = view.projection.ids
    best = min(tops, key=lambda i: (-col.integrated[bosses[i]], ids[col.nodes[bosses[i]]]))
    return int(col.nodes[bosses[best]])


def _holdings(view: AsOfView, shares: Shares, direct: dict[int, float | None], controls: Callable[[int], bool],
              owner_side: bool) -> list[Holding]:
    """Holding rows for every block node other than the anchor, largest integrated share first."""
    ids = view.projection.ids
    anchor = ids[shares.anchor]
    out = []
    for at, node in enumerate(shares.nodes.tolist()):
        if node == shares.anchor:
            continue
        value, unknown = float(shares.integrated[at]), bool(shares.unknown[at])
        integrated = None if unknown and value <= 0 else value  # an unknown stake never becomes a number
        pair = (ids[node], anchor) if owner_side else (anchor, ids[node])
        out.append(Holding(*pair, direct.get(node, 0.0), integrated, controls(at), unknown))
    out.sort(key=lambda h: (-(h.integrated or 0.0), h.owner if owner_side else h.company))
    return out


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
