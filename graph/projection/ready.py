"""A view with what every request would otherwise build on first use, built once with the view.

AsOfView keeps some of its derived parts lazy (graph.projection.build): the control relation (2.2 s at 200k
companies, under load), the strongly connected components (0.1 s) and the cyclic components' inverses
(38 ms for the 181 of a 200k world). The first liability chain or exposure after a view was built paid them, which
was the whole of the liability chain's p99 (issue 22 item 2); the inverses were a tail of it, paid by each chain
that met a cyclic component first. Queries take their view through `ready_view`, so the request that builds a view
builds these too, and the builder of a new projection (graph.service) readies the dates queries asked about before
the swap.
"""
from __future__ import annotations

from datetime import date

from corpgraph.graph.projection.build import AsOfView, Projection
from corpgraph.graph.projection.control import control
from corpgraph.graph.projection.linalg import build_inverses


def ready_view(projection: Projection, as_of: date) -> AsOfView:
    """The projection's view at as_of, with its control relation and components built."""
    return ready(projection.view(as_of))


def ready(view: AsOfView) -> AsOfView:
    """Build the view's lazy parts every owners/holdings solve reads (cheap when already built)."""
    control(view)
    view.components  # noqa: B018 - cached_property: reading it builds it
    build_inverses(view)
    return view
