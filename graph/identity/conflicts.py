"""Conflicting statements of a direct stake: sources that disagree, or two stakes valid on the same day.

Neither is ever summed (graph.projection.build keeps one edge per owner/company pair and date, graph.identity.merge one
per fact); the holding is flagged and lists the relation ids of what each source said, the chosen first.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: identity sits below the projection
    from corpgraph.graph.projection.build import AsOfView


def stake_statements(view: AsOfView, owner: int, company: int) -> tuple[str, ...]:
    """Relation ids of every statement of the direct stake when they conflict (the chosen one first), else ()."""
    nbr, edges = view.up.of(company)
    hit = edges[nbr == owner]
    if hit.size == 0:
        return ()
    proj, edge = view.projection, int(hit[0])
    pair = view.overlaps.get(edge, (edge,))
    if len(pair) == 1 and proj.relation_ids[edge] not in proj.statements.disputed:
        return ()
    return tuple(i for e in pair for i in proj.statements.of(proj.relation_ids[e]))


def conflicting_stakes(view: AsOfView, anchor: int, others: Iterable[int], owner_side: bool) -> dict[int, tuple[str, ...]]:
    """The statements of each conflicting direct stake between the anchor and one of `others` (owners of the
    anchor with owner_side, else companies it holds), by that other end; the others' stakes agree."""
    if not view.overlaps and not view.projection.statements.disputed:
        return {}  # the usual case: nothing to look up
    out = {}
    for other in others:
        found = stake_statements(view, other, anchor) if owner_side else stake_statements(view, anchor, other)
        if found:
            out[other] = found
    return out
