"""One page of an owners or holdings answer, ranked by integrated share (largest first, then id), with cursors.

The largest holder has hundreds of thousands of holdings; a page builds only its own Holding objects: the
block positions after the cursor are cut to the `first` largest shares with numpy (ties at the cut kept),
and only those are sorted by (share, id). A cursor is the rank key of the last Holding received, the share
written exactly (float.hex) and the id, so the next page starts strictly after it.

Example: shares a 0.5, b 0.3, c 0.3, d 0.1 and first=2 give [a, b]; after b's cursor the next page is [c, d].
"""
from __future__ import annotations

import dataclasses

import numpy as np

from corpgraph.graph.analytics.ownership import Candidates
from corpgraph.graph.analytics.results import Holding, HoldingPage
from corpgraph.graph.cursors import decode_cursor, encode_cursor, invalid_cursor

HINT = "pass the cursor of the last Holding received"


def page(candidates: Candidates, first: int, after: str | None = None) -> HoldingPage:
    """The `first` holdings after the cursor, each with its cursor, and how many holdings there are in all."""
    positions = candidates.positions
    values = candidates.shares.integrated[positions]
    count = int(positions.size)
    if after is not None:
        share, last = _rank_key(after)
        later = [i for i in np.flatnonzero(values == share).tolist() if candidates.other(int(positions[i])) > last]
        keep = np.union1d(np.flatnonzero(values < share), np.array(later, dtype=np.int64))
        positions, values = positions[keep], values[keep]
    if positions.size > first:
        cut = np.partition(values, positions.size - first)[positions.size - first]  # the first-th largest share
        keep = np.flatnonzero(values >= cut)
        positions, values = positions[keep], values[keep]
    items = candidates.holdings(positions)[:first]  # sorted by (-share, id)
    return HoldingPage([_with_cursor(candidates, h) for h in items], count)


def _with_cursor(candidates: Candidates, holding: Holding) -> Holding:
    """The holding with the cursor of its rank key."""
    other = holding.owner if candidates.owner_side else holding.company
    share = candidates.shares.value(candidates.view.projection.index[other])
    return dataclasses.replace(holding, cursor=encode_cursor(f"{float(share).hex()}|{other}"))


def _rank_key(cursor: str) -> tuple[float, str]:
    """The (share, id) inside a holdings cursor."""
    share, sep, last = decode_cursor(cursor, HINT).partition("|")
    try:
        if sep:
            return float.fromhex(share), last
    except ValueError:
        pass
    raise invalid_cursor(cursor, HINT)
