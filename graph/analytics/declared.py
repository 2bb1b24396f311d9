"""What sources declare instead of stating an edge (DECLARED_INTEREST), read beside corpgraph's own figures.

A BODS indirect interest (kind indirect_ownership, holder -> company, with a share or range) is compared
with the computed integrated share; a GLEIF ultimate parent (kind ultimate_parent, parent -> child) with
the computed controlling parent. Declarations never enter a computation: they would double count the
chains corpgraph already walks.
"""
from __future__ import annotations

import numpy as np

from corpgraph.schema.kinds import RelationType

from corpgraph.graph.analytics.results import Declared
from corpgraph.graph.projection.build import AsOfView

INDIRECT = "indirect_ownership"
ULTIMATE_PARENT = "ultimate_parent"


def declarations(view: AsOfView, node: int, incoming: bool) -> dict[int, tuple[Declared, ...]]:
    """Declarations valid at this date into the node (its declared holders and parents), or out of it, by other end."""
    proj, out = view.projection, {}  # type: ignore[var-annotated]
    for edge in view.edges(RelationType.DECLARED_INTEREST, node, outgoing=not incoming).tolist():
        other = int(proj.src[edge] if incoming else proj.dst[edge])
        out.setdefault(other, []).append(declared(view, edge))
    return {other: tuple(found) for other, found in out.items()}


def declared(view: AsOfView, edge: int) -> Declared:
    """One DECLARED_INTEREST edge as a Declared."""
    proj = view.projection
    (low,), (high,) = proj.ranges(np.array([edge], dtype=np.int64))
    share = float(proj.share[edge])
    return Declared(proj.kind_of(edge) or "", _number(share), _number(low), _number(high), proj.relation_ids[edge])


def _number(value: float) -> float | None:
    """A column value, None where absent (NaN)."""
    return None if value != value else value
