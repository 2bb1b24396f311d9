"""The exact solve behind integrated ownership: one column or row of L = (I - W)^-1 on a block of nodes.

In topological order (view.components.rank), I - W = (I - W_in)(I - B W_out), where W_in holds the edges
inside cyclic strongly connected components, B = (I - W_in)^-1 is block diagonal (one small dense
inverse per component, checked for a singular loop and cached per view) and B W_out is strictly upper
triangular. So a column is one sparse back substitution and a row one forward substitution, with no
fill-in and no path enumeration. L[X, X] = B[X, X]: closed walks never leave a component.

Blocks covering a large part of the graph solve on factors of the whole graph, built once per view. Other
blocks (more than 48 nodes) propagate instead of factorising: x = B (e + W_out x), repeated until it stops
changing, which it does exactly after the longest chain of components in the block (B W_out is nilpotent).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.sparse.linalg._dsolve import _superlu  # gstrs: SuperLU's substitution on given factors (scipy >= 1.14)

from corpgraph.schema.errors import SingularOwnership

from corpgraph.graph.projection.build import AsOfView

_DENSE = 1500  # components up to this size are inverted densely
_WHOLE = 16  # blocks of more than 1/16 of the nodes use the whole graph's factors
_SMALL = 48  # blocks up to this size are inverted densely: scipy's overhead would dominate
_EPS = 1e-12


@dataclass
class Factors:
    """I - W of a topologically ordered node list, as (I - B W_out) and B - I."""

    topo: np.ndarray
    upper: sp.csc_matrix  # -(B W_out) by columns: the strictly upper part of I - B W_out (its diagonal is 1)
    b_minus_i: sp.csr_matrix | None  # None when no component is cyclic
    diagonal: np.ndarray  # L[X, X] in topological order
    singular: list[int] = field(default_factory=list)  # components left out (only for whole-graph factors)

    def solve(self, at: int, transpose: bool) -> np.ndarray:
        """Column `at` (row when transposed) of L, in topological order."""
        rhs = np.zeros(self.topo.size)
        rhs[at] = 1.0
        if transpose:  # z^T (I - B W_out) = e^T, then L[at, :] = z^T B
            z = self._triangular(rhs, lower=True)
            return z if self.b_minus_i is None else z + self.b_minus_i.T @ z
        if self.b_minus_i is not None:  # (I - B W_out) x = B e
            rhs = rhs + self.b_minus_i[:, [at]].toarray().ravel()
        return self._triangular(rhs, lower=False)

    def _triangular(self, rhs: np.ndarray, lower: bool) -> np.ndarray:
        """Forward (lower: with the transpose) or back substitution with the unit-diagonal matrix I - B W_out.

        I - B W_out is upper triangular in topological order, so its LU factors with the natural order are the
        identity and itself: SuperLU's substitution (gstrs, what spsolve_triangular calls) runs on `upper` as it
        is, read in place (a snapshot's mapped pages too). splu copied the matrix into factors of its own (half
        of these factors' memory), and spsolve_triangular copies it and rewrites its diagonal on every call.
        """
        if self.upper.nnz == 0:
            return rhs
        n, (ones, rows, starts) = self.topo.size, _identity(self.topo.size)
        found, info = _superlu.gstrs("T" if lower else "N", n, n, ones, rows, starts, n, self.upper.nnz,
                                     self.upper.data, self.upper.indices, self.upper.indptr, rhs)
        if info:
            raise np.linalg.LinAlgError(f"the substitution failed (SuperLU info {info})")
        return np.asarray(found, dtype=np.float64)


@lru_cache(maxsize=2)  # one size at a time in practice (a delta's new nodes make another)
def _identity(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The n x n identity as CSC arrays (data, indices, indptr): the unit lower factor gstrs is given."""
    steps = np.arange(n + 1, dtype=np.intc)
    return np.ones(n), steps[:n], steps


def solve(view: AsOfView, nodes: np.ndarray, at: int, transpose: bool) -> tuple[np.ndarray, np.ndarray]:
    """Column of L for nodes[at] (its row when transposed) over the sorted block `nodes`, and L's diagonal.

    The block must be closed: every node reaching nodes[at] (or reached from it) belongs to it.
    """
    comps = view.components
    if nodes.size <= _SMALL:
        return _dense(view, nodes, at, transpose)
    if nodes.size * _WHOLE < comps.labels.size:
        return _propagated(view, nodes, at, transpose)
    factors = whole(view)
    if factors.singular:
        present = np.zeros(comps.labels.size, dtype=bool)
        present[comps.labels[nodes]] = True
        for label in factors.singular:
            if present[label]:
                _inverse(view, label)  # raises SingularOwnership naming the loop
    positions = comps.rank[nodes]
    return factors.solve(int(positions[at]), transpose)[positions], factors.diagonal[positions]


def _propagated(view: AsOfView, nodes: np.ndarray, at: int, transpose: bool) -> tuple[np.ndarray, np.ndarray]:
    """Column of L for nodes[at] (row when transposed) over a closed block by propagation, and L's diagonal.

    x = B (e + W_out x) (x = B^T (e + W_out^T x) for a row), repeated from x = B e until nothing changes:
    B W_out is nilpotent (strictly triangular in topological order), so the rounds end exactly, after the
    longest chain of components in the block plus one. Each round is two weighted bincounts over the
    block's entries: no factorisation, no sparse matrix built per block.
    """
    comps, m = view.components, nodes.size
    rows, cols, shares = view.submatrix(nodes, upstream=not transpose)
    labels = comps.labels[nodes]
    between = labels[rows] != labels[cols]
    frm, to = (cols, rows) if transpose else (rows, cols)  # x[frm] gets share * x[to]
    frm, to, shares = frm[between], to[between], shares[between]
    b_rows, b_cols, b_data, diagonal = _block_cycles(view, nodes, labels)
    if transpose:
        b_rows, b_cols = b_cols, b_rows

    def times_b(v: np.ndarray) -> np.ndarray:
        """B v (B^T v for a row): v plus (B - I) v inside the cyclic components."""
        return v + np.bincount(b_rows, weights=b_data * v[b_cols], minlength=m) if b_data.size else v

    e = np.zeros(m)
    e[at] = 1.0
    x = times_b(e)
    for _ in range(m + 1):  # a chain of components is at most as long as the block
        nxt = times_b(e + np.bincount(frm, weights=shares * x[to], minlength=m))
        if np.array_equal(nxt, x):
            break
        x = nxt
    return x, diagonal


def _block_cycles(view: AsOfView, nodes: np.ndarray, labels: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """B - I over the cyclic components of a sorted block, as (row, col, value) positions in it, and diag(B)."""
    comps = view.components
    diagonal = np.ones(nodes.size)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for label in np.unique(labels[comps.cyclic(labels)]).tolist():
        inverse = _inverse(view, label)  # raises SingularOwnership for a loop holding all of itself
        local = np.searchsorted(nodes, comps.members(label))
        found.append((np.repeat(local, local.size), np.tile(local, local.size), (inverse - np.eye(local.size)).ravel()))
        diagonal[local] = np.diag(inverse)
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), diagonal
    return (np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found]),
            np.concatenate([f[2] for f in found]), diagonal)


def _dense(view: AsOfView, nodes: np.ndarray, at: int, transpose: bool) -> tuple[np.ndarray, np.ndarray]:
    """A small block: invert I - W_block densely (after the singular-loop check of its cyclic components)."""
    comps = view.components
    labels = comps.labels[nodes]
    cyclic = labels[comps.cyclic(labels)]
    for label in (np.unique(cyclic).tolist() if cyclic.size else []):  # most small blocks have no loop
        _inverse(view, label)  # raises SingularOwnership for a loop holding all of itself
    rows, cols, shares = view.submatrix(nodes, upstream=not transpose)
    matrix = np.eye(nodes.size)
    matrix[rows, cols] -= shares
    inverse = np.linalg.inv(matrix)
    return (inverse[at].copy() if transpose else inverse[:, at].copy()), inverse.diagonal().copy()  # np.diag: ~2 us more


def whole(view: AsOfView) -> Factors:
    """Factors of the whole graph at this date, built on first use and kept with the view."""
    if view.whole is None:
        view.whole = factors_of(view, view.components.order, strict=False)
    return view.whole


def factors_of(view: AsOfView, topo: np.ndarray, strict: bool) -> Factors:
    """Factors of the nodes `topo` (topological order); strict: a singular loop raises, else it is listed."""
    n, (rows, cols, shares) = topo.size, view.submatrix(topo)
    labels = view.components.labels
    out = labels[topo[rows]] != labels[topo[cols]]
    w_out = sp.csr_matrix((shares[out], (rows[out], cols[out])), shape=(n, n))
    b_minus_i, diagonal, singular = _cycle_inverse(view, topo, strict)
    step = w_out if b_minus_i is None else (w_out + b_minus_i @ w_out).tocsr()
    upper = (-step).tocsc()
    upper.sort_indices()
    return Factors(topo, _intc(upper), b_minus_i, diagonal, singular)


def _intc(matrix: sp.csc_matrix) -> sp.csc_matrix:
    """The matrix with C int indices, as SuperLU reads them (scipy keeps int32 while they fit: no copy then)."""
    if matrix.indices.dtype != np.intc or matrix.indptr.dtype != np.intc:
        matrix = sp.csc_matrix((matrix.data, matrix.indices.astype(np.intc), matrix.indptr.astype(np.intc)),
                               shape=matrix.shape)
    return matrix


def _cycle_inverse(view: AsOfView, topo: np.ndarray, strict: bool) -> tuple[sp.csr_matrix | None, np.ndarray, list[int]]:
    """B - I over the cyclic components of the ordered nodes (None if there are none), diag(B), singular ones."""
    comps = view.components
    labels = comps.labels[topo]
    cyclic = np.flatnonzero(comps.cyclic(labels))
    diagonal = np.ones(topo.size)
    singular: list[int] = []
    if cyclic.size == 0:
        return None, diagonal, singular
    rows, cols, data = [], [], []
    for start in cyclic[np.r_[True, labels[cyclic[1:]] != labels[cyclic[:-1]]]].tolist():  # members are consecutive
        label = int(labels[start])
        if not strict and _is_singular(view, label):
            singular.append(label)
            continue
        inverse = _inverse(view, label)
        local = np.arange(start, start + inverse.shape[0])
        rows.append(np.repeat(local, local.size))
        cols.append(np.tile(local, local.size))
        data.append((inverse - np.eye(local.size)).ravel())
        diagonal[local] = np.diag(inverse)
    if not data:
        return None, diagonal, singular
    shape = (topo.size, topo.size)
    return sp.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=shape), diagonal, singular


def build_inverses(view: AsOfView) -> None:
    """(I - W_S)^-1 of every cyclic component now (graph.projection.ready): built lazily, each component's first use
    was paid by the request that met it (scipy's block and sum, a dense inverse: ~0.2 ms a component), a tail of the
    liability chain's latencies. A singular loop is left out: the solve that meets it raises by name."""
    if view.inverses_built:
        return
    comps = view.components
    for label in np.unique(comps.labels[comps.cyclic_nodes]).tolist():  # the loops' labels
        if label not in view.inverses and not _is_singular(view, label):
            _inverse(view, label)
    view.inverses_built = True


def _inverse(view: AsOfView, label: int) -> np.ndarray:
    """(I - W_S)^-1 of one cyclic component (members in rank order); a singular loop raises by name."""
    found = view.inverses.get(label)
    if found is not None:
        return found
    members, ws = view.components.block(label)
    if _is_singular(view, label):
        raise SingularOwnership(sorted(view.projection.ids[int(n)] for n in members))
    if members.size <= _DENSE:
        inverse = np.linalg.inv(np.eye(members.size) - ws.toarray())
    else:  # rare: one factorisation, then one solve per member
        inverse = splu((sp.identity(members.size, format="csc") - ws).tocsc()).solve(np.eye(members.size))
    view.inverses[label] = inverse
    return inverse


def _is_singular(view: AsOfView, label: int) -> bool:
    """Whether I - W_S of a component has no convergent inverse (spectral radius of W_S >= 1).

    W_S is irreducible. With column sums <= 1 (the view scales every company's owners to at most 100%,
    projection.scaled_to_full) its radius reaches 1 exactly when every column sums to 1. The upper view of
    the bounds is not scaled (each share at its own maximum), so a column may pass 1 there: then the
    radius itself decides (a loop of maximums 1.0 and 0.6 has radius 0.77 and a convergent inverse; 1.0
    and 1.0 has radius 1 and none), and a component too large to tell counts as singular.
    """
    _, ws = view.components.block(label)
    sums = np.asarray(ws.sum(axis=0)).ravel()
    if sums.max() <= 1.0 + _EPS:
        return bool(sums.min() >= 1.0 - _EPS)
    return spectral_radius(ws) >= 1.0 - _EPS


def spectral_radius(matrix: sp.spmatrix) -> float:
    """The spectral radius of a non-negative square matrix (inf when it is too large to compute here)."""
    if matrix.shape[0] > _DENSE:
        return float("inf")
    return float(np.abs(np.linalg.eigvals(matrix.toarray())).max())
