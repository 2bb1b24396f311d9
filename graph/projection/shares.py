"""The share of each edge as a point value and as exact bounds, from exact shares, reported ranges and unknowns.

Integrated ownership is monotone in every direct share, so one computation with every share at its
minimum and one with every share at its maximum bound it exactly (docs/analytics.md, "Share ranges").
Per edge (a set of edges into the same companies: the OWNS valid at a date, or the votes of CONTROLS):

- an exact `share` is its own point, minimum and maximum;
- a range (`share_min` and/or `share_max`) has minimum `share_min` (0 when absent), maximum `share_max`
  (when absent: the part of the company the other edges' minimums leave free) and point the midpoint;
- an unknown share (none of the three) counts 0 at the minimum, the free part at the maximum, and has
  no point value (NaN: an unknown share never becomes a number).

Example: owners of C: A exactly 40%, B "more than 25%" (min 0.25, no max), D unknown. Free part for B:
1 - 0.40 - 0 = 0.60, so B is [0.25, 0.60], point 0.425; D is [0, 1 - 0.40 - 0.25 = 0.35], point NaN.
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
    point = np.where(exact, share, np.where(ranged, (low + high) / 2, np.nan))
    return EdgeShares(point, low, high, ranged)
