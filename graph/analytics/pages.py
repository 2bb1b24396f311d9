"""One page of an owners or holdings answer, ranked by integrated share (largest first, then id), with cursors.

The largest holder has hundreds of thousands of holdings; a page builds only its own Holding objects: the
block positions after the cursor are cut to the `first` largest shares with numpy (ties at the cut kept),
and only those are sorted by (share, id). A cursor is the rank key of the last Holding received, the share
written exactly (float.hex) and the id, so the next page starts strictly after it.

Example: shares a 0.5, b 0.3, c 0.3, d 0.1 and first=2 give [a, b]; after b's cursor the next page is [c, d].
"""
from __future__ import annotations

import numpy as np

from corpgraph.graph.analytics.ownership import Candidates
from corpgraph.graph.analytics.results import HoldingPage
from corpgraph.graph.cursors import decode_cursor, invalid_cursor

HINT = "pass the cursor of the last Holding received"


def page(candidates: Candidates, first: int, after: str | None = None) -> HoldingPage:
    """The `first` holdings after the cursor, each with its cursor, and how many holdings there are in all."""
    positions = candidates.positions
    values = candidates.shares.integrated[positions]
    count = int(positions.size)
    if after is not None:
        share, last = _rank_key(after)
        keep = values < share  # a mask, not np.union1d: that sorted 10^5 positions again for every page
        keep[[i for i in np.flatnonzero(values == share).tolist() if candidates.other(int(positions[i])) > last]] = True
        positions, values = positions[keep], values[keep]
    if positions.size > first:
        cut = np.partition(values, positions.size - first)[positions.size - first]  # the first-th largest share
        keep = values >= cut
        positions, values = positions[keep], values[keep]
    return HoldingPage(candidates.holdings(positions, cursors=True)[:first], count)  # sorted by (-share, id)


def _rank_key(cursor: str) -> tuple[float, str]:
    """The (share, id) inside a holdings cursor."""
    share, sep, last = decode_cursor(cursor, HINT).partition("|")
    try:
        if sep:
            return float.fromhex(share), last
    except ValueError:
        pass
    raise invalid_cursor(cursor, HINT)
