"""Writes applied to the live projection as deltas: read only what changed (the store's change log), share the rest.

`advance(store, identity, projection)` reads `store.changes_since(projection.revision)`, the relations those
entries name and nothing else, and returns the identity and Projection of the newer revision; or a sentence
saying why a full rebuild is needed instead (graph.service then rebuilds in the background, as before):

- a gap in the log (pruned, or writes from before the log existed), a `bulk`, `decision` or `delete` entry;
- more than MAX_RELATIONS relations (one full build costs about what a delta that size does);
- identity may move: a written entity is merged, named by a decision, or carries an identifier another
  entity carries; or a written relation touches a merged entity (graph.merge would have to regroup it).

The delta appends new edges and nodes at the end (existing indices never move), updates the columns of
changed edges in copies (ended stakes are changed valid_to), and patches the rows of the adjacency the
new edges land in. Each cached as-of view (graph.projection.AsOfView) is patched too, in the columns of
the companies whose OWNS edges changed: valid mask, de-duplicated OWNS adjacency, W (and its scaling),
unknown/ranged sets. What is derived from the whole of W is carried over only when provably unchanged,
else dropped and rebuilt lazily by the first query that needs it (graph.view_delta says when).

What the id table must offer (note for the compact projection, graph/projection.py): `index.get(id)` for
existing ids and `Projection.ids` extended by new ids at the end, indices of existing ids unchanged
(`_with_ids` below is the one place that builds the extended table); per-edge columns that can be extended
with np.concatenate and copied; relation ids of edges readable by edge index (`relation_ids[e]`) and
extensible (`PackedStrings.extended`).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from schema.declaration import ANALYTIC_RELATIONS
from schema.kinds import RelationType

from graph.identifiers import entity_identifier_keys
from graph.identity import IdentityMap
from graph.projection import _ALWAYS, _NEVER, _TYPE_CODE, Adjacency, Projection, _days
from graph.stores.base import Change, ChangeKind, EdgeRow, GraphStore, contiguous, edge_row
from graph.view_delta import patched_adjacency, patched_view

MAX_RELATIONS = 5_000  # relations one delta applies at most; past this a full build is about as quick
_ROUNDS = 3  # times the log is read again when writes keep coming while a delta reads the store


@dataclass(frozen=True)
class Advanced:
    """The state a delta produced: identity and projection of a newer revision."""

    identity: IdentityMap
    projection: Projection


def advance(store: GraphStore, identity: IdentityMap, projection: Projection) -> Advanced | str:
    """The state of the store's latest logged revision, from the previous one and the change log; or why not."""
    since = projection.revision
    entries = contiguous(store.changes_since(since), since)
    if not entries:
        return f"the change log does not reach back to revision {since} (pruned, or written before the log)"
    for _ in range(_ROUNDS):
        why = _unsupported(entries)
        if why:
            return why
        relation_ids = sorted({i for c in entries for i in c.relations})
        entity_ids = sorted({i for c in entries for i in c.entities})
        why = _identity_moves(store, identity, entity_ids)
        if why:
            return why
        rows = _edge_rows(store, relation_ids)
        if isinstance(rows, str):
            return rows
        last = entries[-1].revision
        later = contiguous(store.changes_since(last), last)
        if not later:  # nothing committed after the reads began: the rows are those of `last`
            break
        entries = entries + later
    else:
        return "writes kept coming while the delta read the store"
    members = {i for ids in identity.members.values() for i in ids}
    touching = [r.id for r in rows if members & {r.source, r.target, r.incident}]
    if touching:
        return f"relation {touching[0]} touches an entity merged by identity (graph.merge regroups it)"
    return Advanced(replace(identity, revision=last), apply_rows(projection, rows, last))


def apply_rows(proj: Projection, rows: Sequence[EdgeRow], revision: int) -> Projection:
    """The projection with these analytic relations added or updated (by relation id), as of `revision`."""
    at = np.array([_edge_of(proj, row) for row in rows], dtype=np.int64)
    new_rows = [row for row, e in zip(rows, at.tolist()) if e < 0]
    old_rows = [row for row, e in zip(rows, at.tolist()) if e >= 0]
    changed = at[at >= 0]
    fresh_ids = [i for i in dict.fromkeys(x for r in new_rows + old_rows for x in (r.source, r.target, r.incident))
                 if i is not None and i not in proj.index]
    ids, index = _with_ids(proj, fresh_ids)
    kinds = proj.kinds + sorted({r.kind for r in rows if r.kind is not None} - set(proj.kinds))
    m = proj.type.size
    added = np.arange(m, m + len(new_rows), dtype=np.int64)
    cols = _row_columns(new_rows + old_rows, index, kinds)
    k = len(new_rows)
    out = replace(proj, revision=revision, ids=ids, index=index, kinds=kinds, _views=type(proj._views)(),
                  _lock=threading.Lock())
    for name in ("share", "valid_from", "valid_to", "incident", "kind"):
        column = getattr(proj, name)
        if changed.size:
            column = column.copy()
            column[changed] = cols[name][k:]
        setattr(out, name, np.concatenate((column, cols[name][:k].astype(column.dtype))) if k else column)
    if k:
        out.type = np.concatenate((proj.type, cols["type"][:k].astype(proj.type.dtype)))
        out.src = np.concatenate((proj.src, cols["src"][:k].astype(proj.src.dtype)))
        out.dst = np.concatenate((proj.dst, cols["dst"][:k].astype(proj.dst.dtype)))
        out.relation_ids = proj.relation_ids.extended([r.id for r in new_rows])
        out.out, out.into = _grown_adjacency(proj, out, added)
    elif fresh_ids:  # incidents only: the adjacency gains empty rows
        out.out = {t: patched_adjacency(adj, len(ids)) for t, adj in proj.out.items()}
        out.into = {t: patched_adjacency(adj, len(ids)) for t, adj in proj.into.items()}
    touched = np.concatenate((added, changed))
    _set_bounds(proj, out, touched, cols)
    with proj._lock:  # queries may add views meanwhile
        views = list(proj._views.items())
    for day, view in views:  # the same dates, in the same LRU order
        out._views[day] = patched_view(view, out, touched)
    return out


def _unsupported(entries: Sequence[Change]) -> str | None:
    """Why the logged changes need a full rebuild, if they do."""
    for change in entries:
        if change.kind != ChangeKind.WRITE:
            return f"revision {change.revision} is a {change.kind.value} (identity or everything may change)"
    count = len({i for c in entries for i in c.relations})
    if count > MAX_RELATIONS:
        return f"{count} relations changed (more than {MAX_RELATIONS}: a full build is about as quick)"
    return None


def _identity_moves(store: GraphStore, identity: IdentityMap, entity_ids: list[str]) -> str | None:
    """Why the written entities may change identity (graph.identity), if they may."""
    if not entity_ids:
        return None
    members = {i for ids in identity.members.values() for i in ids}
    merged = [i for i in entity_ids if i in members]
    if merged:
        return f"entity {merged[0]} is merged by identity and was written again"
    written = set(entity_ids)
    judged = [x for j in store.judgements() for x in (j.a, j.b) if x in written]
    if judged:
        return f"entity {judged[0]} is named by a decision (it may now apply)"
    for record in store.get_entities(entity_ids).values():
        for key in entity_identifier_keys(record):
            if len(store.ids_with_identifier(key)) > 1:
                return f"entity {record.id} carries {key}, which another entity carries too"
    return None


def _edge_rows(store: GraphStore, relation_ids: list[str]) -> list[EdgeRow] | str:
    """The analytic relations among the ids, as the projection reads them (other relation types are skipped)."""
    found = store.get_relations(relation_ids)
    missing = [i for i in relation_ids if i not in found]
    if missing:
        return f"relation {missing[0]} is in the change log but not in the store"
    analytic = set(ANALYTIC_RELATIONS)
    rows = []
    for rel_id in relation_ids:
        row = edge_row(rel_id, found[rel_id].record)
        kind = RelationType(row["type"])
        if kind in analytic:
            rows.append(EdgeRow(**{**row, "type": kind}))
    return rows


def _edge_of(proj: Projection, row: EdgeRow) -> int:
    """The edge index of a relation already in the projection, or -1 (looked up among its endpoints' edges)."""
    s, t = proj.index.get(row.source), proj.index.get(row.target)
    if s is None or t is None:
        return -1
    nbr, edges = proj.out[row.type].of(s)
    for edge in edges[nbr == t].tolist():  # usually one: a pair holds few relations of one type
        if proj.relation_ids[edge] == row.id:
            return int(edge)
    return -1


def _with_ids(proj: Projection, fresh: list[str]) -> tuple[list[str], dict[str, int]]:
    """The id table with new ids appended (existing indices unchanged; the previous table is not touched)."""
    if not fresh:
        return proj.ids, proj.index
    index = dict(proj.index)
    index.update((i, len(proj.ids) + k) for k, i in enumerate(fresh))
    return proj.ids + fresh, index


def _row_columns(rows: Sequence[EdgeRow], index: dict[str, int], kinds: list[str]) -> dict[str, np.ndarray]:
    """The per-edge columns of relation rows (as graph.projection builds them), by column name."""
    code = {k: i for i, k in enumerate(kinds)}
    return {
        "type": np.array([_TYPE_CODE[r.type] for r in rows], dtype=np.int8),
        "src": np.array([index[r.source] for r in rows], dtype=np.int64),
        "dst": np.array([index[r.target] for r in rows], dtype=np.int64),
        "share": np.array([r.share for r in rows], dtype=np.float64),  # None becomes NaN
        "valid_from": _days([r.valid_from for r in rows], _ALWAYS),
        "valid_to": _days([r.valid_to for r in rows], _NEVER),
        "incident": np.array([-1 if r.incident is None else index[r.incident] for r in rows], dtype=np.int64),
        "kind": np.array([-1 if r.kind is None else code[r.kind] for r in rows], dtype=np.int16),
        "low": np.array([r.share_min for r in rows], dtype=np.float64),
        "high": np.array([r.share_max for r in rows], dtype=np.float64),
    }


def _grown_adjacency(proj: Projection, out: Projection, added: np.ndarray
                     ) -> tuple[dict[RelationType, Adjacency], dict[RelationType, Adjacency]]:
    """Adjacency per relation type with the new edges (each lands at the end of its row: it has the largest index)."""
    n = len(out.ids)
    grown_out, grown_into = {}, {}
    for rel_type, code in _TYPE_CODE.items():
        mine = added[out.type[added] == code]
        grown_out[rel_type] = patched_adjacency(proj.out[rel_type], n, add=(out.src[mine], out.dst[mine], mine))
        grown_into[rel_type] = patched_adjacency(proj.into[rel_type], n, add=(out.dst[mine], out.src[mine], mine))
    return grown_out, grown_into


def _set_bounds(proj: Projection, out: Projection, edges: np.ndarray, cols: dict[str, np.ndarray]) -> None:
    """The reported ranges of the projection with those of the written edges (sorted by edge, as built)."""
    if edges.size == 0:
        return
    keep = ~np.isin(proj.bounded, edges)
    ranged = ~(np.isnan(cols["low"]) & np.isnan(cols["high"]))
    bounded = np.concatenate((proj.bounded[keep], edges[ranged]))
    order = np.argsort(bounded, kind="stable")
    out.bounded = bounded[order]
    out.bound_min = np.concatenate((proj.bound_min[keep], cols["low"][ranged]))[order]
    out.bound_max = np.concatenate((proj.bound_max[keep], cols["high"][ranged]))[order]
