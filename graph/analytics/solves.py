"""The last few owners/holdings solves of one analytic state, kept so that the later pages of a large holder's
holdings do not solve its block again (a small LRU; the facade keeps one per analytic state).

A page of the largest holder of a 1M world solved its 850k-node block again each time (0.18 s of its 211 ms).
Candidates (graph.analytics.ownership) never change once made, and the analytic state they were solved on
never changes either, so a later page, or the whole answer, reads the same ones. Kept: the `ENTRIES` most
recently used, fewer when together they reach `NODES` block nodes (about 40 bytes a node, so at most ~80 MB:
the block of that 1M-world holder is 850k nodes); the most recent one is always kept.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from corpgraph.graph.analytics.ownership import Candidates
from corpgraph.graph.projection.build import AsOfView

ENTRIES = 4
NODES = 2_000_000


class Solves:
    """Candidates by (date, node, bounds, side), most recently used last."""

    def __init__(self, entries: int = ENTRIES, nodes: int = NODES) -> None:
        self.entries, self.nodes = entries, nodes
        self._kept: OrderedDict[tuple[int, int, bool, bool], Candidates] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, view: AsOfView, node: int, bounds: bool, owner_side: bool,
            solve: Callable[[], Candidates]) -> Candidates:
        """The kept candidates of this question on this view, or `solve()`'s, kept from now on."""
        key = (view.day, node, bounds, owner_side)
        with self._lock:
            found = self._kept.get(key)
            if found is not None and found.view is view:  # a view rebuilt for the date: solve on the new one
                self._kept.move_to_end(key)
                return found
        made = solve()  # outside the lock: other questions go on meanwhile (a race solves twice, the same)
        with self._lock:
            self._kept[key] = made
            self._kept.move_to_end(key)
            while len(self._kept) > 1 and (len(self._kept) > self.entries or self._size() > self.nodes):
                self._kept.popitem(last=False)
        return made

    def _size(self) -> int:
        """Block nodes held by the kept candidates."""
        return sum(int(found.shares.nodes.size) for found in self._kept.values())
