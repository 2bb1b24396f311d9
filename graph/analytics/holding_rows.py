"""Holding rows from a solve's columns: ranked with numpy, one Python object made per row returned, nothing more.

The largest holder of a 1M-company world holds 850,394 companies. Its answer kept one Python object per holding
through sorting and shaping, which was most of the 3.57 s `holdings()` took. Here every column of the rows
(direct, integrated, flags, bounds, interests, declarations, conflicting statements) is an array over the rows
in rank order, the few per-pair facts (direct stakes, interests, declarations, conflicts) are put in their
rows' places, and the Holding objects are made last by `map` over the columns, a block of rows at a time
between checks of the request's time budget (graph.budget).

Rank order: largest integrated share first (an unknown stake with no value ranks as 0, as -0.0 does), then by
id. Example: shares a 0.5, c 0.3, b 0.3 rank a, b, c.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from itertools import repeat
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from corpgraph.graph import budget
from corpgraph.graph.analytics.results import Holding
from corpgraph.graph.cursors import encode_cursor
from corpgraph.graph.identity.conflicts import conflicting_stakes
from corpgraph.graph.projection.build import AsOfView
from corpgraph.graph.projection.nodeids import NodeIds

if TYPE_CHECKING:  # annotations only: ownership builds its answers with this module
    from corpgraph.graph.analytics.ownership import Shares, Sides

_BUDGET_EVERY = 4096  # rows made between checks of the request's time budget
_FIELDS = tuple(f.name for f in fields(Holding))  # Holding's fields in their order: the columns are keyed by name
T = TypeVar("T")
R = TypeVar("R")  # an object made per row (Holding; liability's Party)


def rank_order(ids: NodeIds, nodes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The permutation that puts rows (their nodes and integrated values) in rank order.

    One stable sort of the values; only runs of equal values are then sorted by id (byte keys, no str).
    """
    order = np.argsort(-values, kind="stable")
    ranked = values[order]
    same = ranked[1:] == ranked[:-1]
    if not same.any():
        return order
    tied = np.flatnonzero(np.r_[same, False] | np.r_[False, same])  # places in `order` inside a run of equals
    run = np.cumsum(np.r_[True, ~same])[tied]
    order[tied] = order[tied][np.lexsort((ids.keys(nodes[order[tied]]), run))]
    return order


def rows(view: AsOfView, shares: Shares, positions: np.ndarray, direct: Mapping[int, float | None], sides: Sides,
         owner_side: bool, cursors: bool = False) -> list[Holding]:
    """Holding rows for these block positions, in the order given; with `cursors`, each with its page cursor."""
    found = columns(view, shares, positions, direct, sides, owner_side, cursors)
    return made(Holding, [found[name] for name in _FIELDS], int(positions.size))


def made(kind: Callable[..., R], ordered: list[Any], n: int) -> list[R]:
    """n objects made by map of `kind` over its fields' columns in field order (lists of n, or repeats), a block
    of rows at a time between checks of the request's time budget (a holder may have 10^5 rows)."""
    out: list[R] = []
    for start in range(0, n, _BUDGET_EVERY):
        budget.check()
        end = start + _BUDGET_EVERY
        out.extend(map(kind, *(c[start:end] if isinstance(c, list) else c for c in ordered)))
    return out


def columns(view: AsOfView, shares: Shares, positions: np.ndarray, direct: Mapping[int, float | None], sides: Sides,
            owner_side: bool, cursors: bool = False) -> dict[str, Any]:
    """The rows' columns by Holding field name, each a list in the order of the positions or an endless repeat of
    one value: what rows() maps Holding over, and what other answers (liability's OWNER parties) take directly."""
    budget.check()
    ids, n = view.projection.ids, int(positions.size)
    nodes = shares.nodes[positions]
    names, anchor = ids.ids(nodes), ids[shares.anchor]
    row_of = np.full(shares.nodes.size, -1, dtype=np.int64)
    row_of[positions] = np.arange(n)
    value, unknown = shares.integrated[positions], shares.unknown[positions]
    controls = _member(nodes, sides.controls)
    stakes = conflicting_stakes(view, shares.anchor, [o for o, s in direct.items() if s != 0], owner_side)
    low, high = shares.low[positions], shares.high[positions]
    return {
        "owner": names if owner_side else repeat(anchor), "company": repeat(anchor) if owner_side else names,
        "direct": _placed(shares, row_of, direct, [0.0] * n),
        "integrated": _with_none(value, unknown & (value <= 0)),  # an unknown stake never becomes a number
        "controls": controls.tolist(), "unknown": unknown.tolist(),
        "over_allocated": shares.over_allocated[positions].tolist(),
        "conflicting": _placed(shares, row_of, dict.fromkeys(stakes, True), [False] * n) if stakes else repeat(False),
        "statements": _placed(shares, row_of, stakes, [()] * n) if stakes else repeat(()),
        "integrated_min": _with_none(low, np.isnan(low)), "integrated_max": _with_none(high, np.isnan(high)),
        "estimate": shares.estimate[positions].tolist(),
        "may_control": (controls if sides.may_control is sides.controls  # bounds not asked: the same array
                        else controls | _member(nodes, sides.may_control)).tolist(),
        "interests": _placed(shares, row_of, sides.interests, [()] * n) if sides.interests else repeat(()),
        "declared": _placed(shares, row_of, sides.declared, [()] * n) if sides.declared else repeat(()),
        "cursor": _cursors(value, names) if cursors else repeat(None),
        "integrated_max_exact": (~shares.loose[positions]).tolist(),
    }


def cursor_key(share: float, other: str) -> str:
    """The opaque cursor of a holding's rank key: its integrated share written exactly (float.hex) and the id."""
    return encode_cursor(f"{float(share).hex()}|{other}")


def _cursors(values: np.ndarray, names: list[str]) -> list[str]:
    """The cursor of each row (graph.analytics.pages reads them back)."""
    return [cursor_key(v, name) for v, name in zip(values.tolist(), names)]


def _member(nodes: np.ndarray, few: np.ndarray) -> np.ndarray:
    """Per node: whether it is one of `few` (a company's controllers: most often none, where np.isin still costs
    ~20 us, twice an answer; a few, searched among)."""
    if few.size == 0:
        return np.zeros(nodes.size, dtype=bool)
    ordered = np.sort(few)  # a search of each node among the few: np.isin sorts both sides
    found: np.ndarray = ordered[np.minimum(np.searchsorted(ordered, nodes), ordered.size - 1)] == nodes
    return found


def _with_none(values: np.ndarray, missing: np.ndarray) -> list[Any]:
    """The values as a list with None where `missing` (bounds not asked for, an unknown stake's value)."""
    if missing.all():
        return [None] * values.size
    column: list[Any] = values.tolist()
    for k in np.flatnonzero(missing).tolist():
        column[k] = None
    return column


def _placed(shares: Shares, row_of: np.ndarray, by_node: Mapping[int, T], column: list[T]) -> list[T]:
    """The column with each node's value put in its row (nodes that are not rows are left out)."""
    for row, value in _rows_of(shares, row_of, by_node):
        column[row] = value
    return column


def _rows_of(shares: Shares, row_of: np.ndarray, by_node: Mapping[int, T]) -> Iterator[tuple[int, T]]:
    """(row, value) of each node of the mapping that is a row: one vectorised search for all of them."""
    if not by_node or shares.nodes.size == 0:
        return
    keys = np.fromiter(by_node.keys(), np.int64, len(by_node))
    at = np.minimum(np.searchsorted(shares.nodes, keys), shares.nodes.size - 1)
    found = np.where(shares.nodes[at] == keys, row_of[at], -1)
    for row, value in zip(found.tolist(), by_node.values()):
        if row >= 0:
            yield row, value
