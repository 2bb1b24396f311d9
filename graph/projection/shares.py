"""The share of each edge as a point value and as exact bounds, from exact shares, reported ranges and unknowns.

Integrated ownership is monotone in every direct share, so one computation with every share at its
minimum and one with every share at its maximum bound it exactly (docs/analytics.md, "Share ranges").
Per edge (a set of edges into the same companies: the OWNS valid at a date, or the votes of CONTROLS):

- an exact `share` is its own point, minimum and maximum;
- a range (`share_min` and/or `share_max`) has minimum `share_min` (0 when absent), maximum `share_max`
  capped at the part of the company the other edges' minimums leave free (no feasible reading goes
  higher; when `share_max` is absent the free part itself), and point the midpoint of [minimum, maximum],
  so a range never pushes exact owners out;
- when those midpoints still sum above 100% with the exact shares (three 0-100% ranges: 1.5), only the
  ranges' parts above their minimums are scaled down until the company is full: the point values are
  then a reading every range admits, and exact shares and minimums stay as given. Only when the exact
  shares and minimums alone pass 100% (no feasible reading: imported data) does anything else move
  (the view scales the whole column and flags the company over-allocated);
- an unknown share (none of the three) counts 0 at the minimum, the free part at the maximum, and has
  no point value (NaN: an unknown share never becomes a number).

Example: owners of C: A exactly 40%, B "more than 25%" (min 0.25, no max), D unknown. Free part for B:
1 - 0.40 - 0 = 0.60, so B is [0.25, 0.60], point 0.425; D is [0, 1 - 0.40 - 0.25 = 0.35], point NaN.
Owners of E: a 50-90%, q exactly 40%: a is [0.5, min(0.9, 1 - 0.4) = 0.6], point 0.55
(q keeps 0.40; the sum 0.95 is a reading the file allows). Two 50-75% owners: each [0.5, 0.5], point 0.5.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EdgeShares:
    """Per edge of a set: point value (NaN when unknown), minimum, maximum, and whether it is a range."""

    point: np.ndarray
    low: np.ndarray
    high: np.ndarray
    ranged: np.ndarray  # bool: the point value is a range's midpoint, an estimate

    @property
    def unknown(self) -> np.ndarray:
        """Edges with no share at all (neither exact nor a range)."""
        missing: np.ndarray = np.isnan(self.point)
        return missing


def edge_shares(share: np.ndarray, share_min: np.ndarray, share_max: np.ndarray, dst: np.ndarray,
                size: int) -> EdgeShares:
    """Point, bounds and range flag of edges given their share columns (NaN = absent) and target companies."""
    exact = ~np.isnan(share)
    ranged = ~exact & ~(np.isnan(share_min) & np.isnan(share_max))
    low = np.where(exact, share, np.nan_to_num(share_min, nan=0.0))
    if exact.all():  # the common case: nothing to bound
        return EdgeShares(share, share, share, ranged)
    taken = np.bincount(dst, weights=low, minlength=size)
    free = np.clip(1.0 - (taken[dst] - low), low, 1.0)  # what the other edges' minimums leave free
    high = np.where(exact, share, np.where(np.isnan(share_max), free, share_max))
    high = np.maximum(np.minimum(high, free), low)  # no reading the others' minimums allow goes higher
    point = np.where(exact, share, np.where(ranged, (low + high) / 2, np.nan))
    return EdgeShares(_fitted(point, low, ranged, dst, taken), low, high, ranged)


def _fitted(point: np.ndarray, low: np.ndarray, ranged: np.ndarray, dst: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Point values whose ranges' parts above their minimums are scaled down where a company would pass 100%
    (only when its exact shares and minimums leave room: else the view's scaling and flag decide)."""
    extra = np.where(ranged, point - low, 0.0)
    if not extra.any():
        return point
    total = np.bincount(dst, weights=np.nan_to_num(point), minlength=taken.size)
    room = 1.0 - taken  # what the company's exact shares and minimums leave
    spread = np.bincount(dst, weights=extra, minlength=taken.size)
    over = (total > 1.0 + 1e-12) & (room >= 0) & (spread > 0)
    if not over.any():
        return point
    factor = np.ones(taken.size)
    factor[over] = room[over] / spread[over]
    fitted: np.ndarray = np.where(ranged, low + extra * factor[dst], point)
    return fitted
