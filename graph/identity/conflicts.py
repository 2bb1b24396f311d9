"""Conflicting statements of a direct stake: sources that disagree, or two stakes valid on the same day.

Neither is ever summed (graph.projection.build keeps one edge per owner/company pair and date, graph.identity.merge one
per fact); the holding is flagged and lists the relation ids of what each source said, the chosen first.
"""
from __future__ import annotations

from dataclasses import replace

from typing import TYPE_CHECKING

from corpgraph.graph.analytics.results import Holding

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


def flag_conflicts(view: AsOfView, holdings: list[Holding]) -> list[Holding]:
    """The holdings with `conflicting` and `statements` set where their direct stake is conflicting."""
    if not view.overlaps and not view.projection.statements.disputed:
        return holdings  # the usual case: nothing to look up
    ids = view.projection.ids
    owners = ids.indices([h.owner for h in holdings]).tolist()  # one search for all: a holder may have 10^5
    companies = ids.indices([h.company for h in holdings]).tolist()
    out = []
    for h, owner, company in zip(holdings, owners, companies):
        found = stake_statements(view, owner, company) if h.direct != 0 else ()
        out.append(replace(h, conflicting=True, statements=found) if found else h)
    return out
