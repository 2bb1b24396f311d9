"""A ready as-of view as named arrays and back, so a snapshot carries it (graph.projection.snapshot).

A ready view (graph.projection.ready) is the date's mask, OWNS adjacency both ways, share matrix W and the parts
every request would otherwise build on first use: the control relation (by columns, and who controls anything) and the
strongly connected components. Saved with the projection's columns, a worker that maps the snapshot reads them
from the file's pages, shared with every other worker, instead of building a private copy of each (at 1M
companies a view costs a worker about as much as the columns themselves). Its lazier parts (the lower and upper views of reported
ranges, may_control, cyclic components' inverses, the whole graph's factors) are not saved: built on first use,
as before.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from corpgraph.graph.projection.bits import Bits
from corpgraph.graph.projection.build import Adjacency, AsOfView, Components, Projection
from corpgraph.graph.projection.control import Control

# the per-view arrays, by name after the view's prefix
_NAMES = ("valid", "down.indptr", "down.edge", "up.indptr", "up.edge", "W.indptr", "W.indices", "W.data",
          "unknown_src", "unknown_dst", "over_allocated", "ranged_src", "ranged_dst", "midpoints.edge",
          "midpoints.value", "overlaps.edge", "overlaps.offsets", "overlaps.edges", "control.col_ptr",
          "control.col_idx", "control.controls", "components.labels", "components.cyclic_ranks",
          "components.cyclic_nodes", "components.inner_label", "components.inner_row", "components.inner_col",
          "components.inner_share")


def is_ready(view: AsOfView) -> bool:
    """Whether the view's first-use parts are built (graph.projection.ready), so that saving it saves them."""
    return isinstance(view.control, Control) and "components" in view.__dict__


def names(prefix: str) -> list[str]:
    """The names of a view's arrays under its prefix (what a snapshot must hold for it)."""
    return [prefix + name for name in _NAMES]


def view_arrays(view: AsOfView, prefix: str) -> dict[str, np.ndarray]:
    """A ready view's arrays under `prefix` (see is_ready)."""
    rel, comps = view.control, view.components
    assert isinstance(rel, Control)
    overlaps = sorted(view.overlaps.items())
    sizes = [len(edges) for _, edges in overlaps]
    found = (view.valid.packed, view.down.indptr, view.down.edge, view.up.indptr, view.up.edge, view.W.indptr,
             view.W.indices, view.W.data, view.unknown_src, view.unknown_dst, view.over_allocated, view.ranged_src,
             view.ranged_dst, np.array(sorted(view.midpoints), dtype=np.int64),
             np.array([view.midpoints[e] for e in sorted(view.midpoints)], dtype=np.float64),
             np.array([e for e, _ in overlaps], dtype=np.int64), np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
             np.array([x for _, edges in overlaps for x in edges], dtype=np.int64), rel.indptr, rel.indices,
             rel.controls.packed, comps.labels, comps.cyclic_ranks, comps.cyclic_nodes, *comps.inner)
    return {prefix + name: np.asarray(array) for name, array in zip(_NAMES, found)}


def with_unsaved_parts(mapped: AsOfView, built: AsOfView) -> AsOfView:
    """The view read from a snapshot (`mapped`) given the lazy parts a snapshot does not carry from the view it was
    saved from (`built`: the same projection's view of the same day): the cyclic components' inverses, the whole
    graph's factors, may_control and the lower and upper views. Without them the builder worker's first query after
    each publication built them again on its own time (the inverses alone: 0.45-0.97 s wall at 200k companies, load 20)."""
    if built.day != mapped.day:
        raise ValueError(f"views of two days: {built.day} and {mapped.day}")
    mapped.inverses.update(built.inverses)
    mapped.inverses_built = built.inverses_built
    mapped.whole = built.whole
    mapped.may_control = built.may_control
    mapped.bounds.update(built.bounds)
    return mapped


def view_of(projection: Projection, day: int, arrays: Mapping[str, np.ndarray], prefix: str) -> AsOfView:
    """The ready view of `day` over the projection, from its arrays (read as they are: mapped pages stay mapped)."""
    a = {name: arrays[prefix + name] for name in _NAMES}
    n = projection.size
    edges = a["overlaps.edges"].tolist()
    cuts = a["overlaps.offsets"].tolist()
    overlaps = {int(e): tuple(edges[cuts[k]:cuts[k + 1]]) for k, e in enumerate(a["overlaps.edge"].tolist())}
    valid = Bits(a["valid"], projection.type.size)
    view = AsOfView(projection, day, valid, Adjacency(a["down.indptr"], a["down.edge"], projection.dst),
                    Adjacency(a["up.indptr"], a["up.edge"], projection.src),
                    sp.csr_matrix((a["W.data"], a["W.indices"], a["W.indptr"]), shape=(n, n)),
                    a["unknown_src"], a["unknown_dst"], a["over_allocated"], a["ranged_src"], a["ranged_dst"],
                    dict(zip(a["midpoints.edge"].tolist(), a["midpoints.value"].tolist())), overlaps=overlaps)
    view.control = Control(a["control.col_ptr"], a["control.col_idx"], Bits(a["control.controls"], n))
    inner = (a["components.inner_label"], a["components.inner_row"], a["components.inner_col"], a["components.inner_share"])
    view.__dict__["components"] = Components(a["components.labels"], a["components.cyclic_ranks"],
                                             a["components.cyclic_nodes"], inner)
    return view
