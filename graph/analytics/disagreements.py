"""Companies where what a source declares disagrees with what corpgraph computes.

- indirect_ownership (holder -> company, a share or range): disagrees when the declared interval
  ([share, share], or [share_min or 0, share_max or 1]) and the computed one ([integrated_min,
  integrated_max] of the holder in the company, [0, 0] without any walk) are more than TOLERANCE apart.
- ultimate_parent (parent -> child): disagrees when the declared parent does not control the child by
  corpgraph's control rule (docs/analytics.md); the computed controlling parent (the top of the control
  chain, which may lie above the declared one: GLEIF's natural-person exceptions) is shown beside it.

Example (BODS 0.4's indirect-ownership example): B holds 60% of A; Person 1's interest in B is of
unknown size; Person 1 declares 30% of A indirectly. Computed: integrated in [0, 0.6] (the unknown share
is 0 at the minimum and all of B at the maximum), so 30% agrees. A declared 80% would not.
"""
from __future__ import annotations

from dataclasses import dataclass

from corpgraph.schema.kinds import RelationType

from corpgraph.graph.analytics import ownership
from corpgraph.graph.analytics.declared import INDIRECT, ULTIMATE_PARENT, declared
from corpgraph.graph.analytics.results import Declared
from corpgraph.graph.projection.build import AsOfView

TOLERANCE = 0.005  # half a percentage point: registers round the shares they declare


@dataclass(frozen=True)
class Disagreement:
    """One declaration that disagrees with the computation, with both figures."""

    company: str
    holder: str
    declared: Declared
    integrated: float | None = None  # indirect_ownership: the computed figures of the holder in the company
    integrated_min: float | None = None
    integrated_max: float | None = None
    controlling_parent: str | None = None  # ultimate_parent: corpgraph's controlling parent (None: nobody)


def disagreements(view: AsOfView, after: str | None = None, limit: int = 100) -> tuple[list[Disagreement], bool]:
    """Disagreements of the companies after `after` (by id), at most `limit`, and whether more follow."""
    proj = view.projection
    edges = proj.out[RelationType.DECLARED_INTEREST].edge
    edges = edges[view.valid[edges]]
    by_company: dict[int, list[int]] = {}
    for edge in edges.tolist():
        by_company.setdefault(int(proj.dst[edge]), []).append(edge)
    out: list[Disagreement] = []
    for company in sorted(by_company, key=proj.ids.__getitem__):
        if after is not None and proj.ids[company] <= after:
            continue
        found = _company(view, company, by_company[company])
        if len(out) + len(found) > limit and out:
            return out, True
        out.extend(found)
    return out, False


def _company(view: AsOfView, company: int, edges: list[int]) -> list[Disagreement]:
    """The disagreeing declarations about one company (the column is solved once, only if needed)."""
    proj, out = view.projection, []
    col: ownership.Shares | None = None
    parent: list[int | None] = []  # solved once, only if a declared ultimate parent disagrees
    for edge in edges:
        said, holder = declared(view, edge), int(proj.src[edge])
        if said.kind == INDIRECT:
            col = col or ownership.column(view, company)
            at = col.local(holder)
            low, high = (float(col.low[at]), float(col.high[at])) if at >= 0 else (0.0, 0.0)
            if _apart((low, high), _interval(said)):
                value = float(col.integrated[at]) if at >= 0 and not (col.unknown[at] and col.integrated[at] <= 0) else None
                out.append(Disagreement(proj.ids[company], proj.ids[holder], said, value, low, high))
        elif said.kind == ULTIMATE_PARENT:
            if holder not in ownership.controllers_of(view, company):
                if not parent:
                    parent.append(ownership.controlling_parent(view, company))
                name = None if parent[0] is None else proj.ids[parent[0]]
                out.append(Disagreement(proj.ids[company], proj.ids[holder], said, controlling_parent=name))
    return out


def _interval(said: Declared) -> tuple[float, float]:
    """The declared share as an interval (an exact share, a range, or 0..1 when nothing is given)."""
    if said.share is not None:
        return said.share, said.share
    return (said.share_min or 0.0), (1.0 if said.share_max is None else said.share_max)


def _apart(computed: tuple[float, float], declared_: tuple[float, float]) -> bool:
    """Whether two intervals are more than TOLERANCE apart."""
    return declared_[0] - TOLERANCE > computed[1] or computed[0] - TOLERANCE > declared_[1]
