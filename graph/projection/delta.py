"""Writes applied to the live projection as deltas: read only what changed (the store's change log), share the rest.

`advance(store, identity, projection)` reads `store.changes_since(projection.revision)`, the relations those
entries name and nothing else, and returns the identity and Projection of the newer revision; or a sentence
saying why a full rebuild is needed instead (graph.service then rebuilds in the background, as before):

- a gap in the log (pruned, or writes from before the log existed), a `bulk`, `decision` or `delete` entry;
- more than MAX_RELATIONS relations (one full build costs about what a delta that size does);
- identity may move: a written entity is merged, named by a decision, or carries an identifier another
  entity carries; or a written relation touches a merged entity (graph.identity.merge would have to regroup it).

The delta appends new edges and nodes at the end (existing indices never move), updates the columns of
changed edges in copies (ended stakes are changed valid_to), and patches the rows of the adjacency the
new edges land in. Each cached as-of view (graph.projection.AsOfView) is patched too, in the columns of
the companies whose OWNS edges changed: valid mask, de-duplicated OWNS adjacency, W (and its scaling),
unknown/ranged sets. What is derived from the whole of W is carried over only when provably unchanged,
else dropped and rebuilt lazily by the first query that needs it (graph.projection.view_delta says when).

What the delta needs from the compact projection (graph/projection/build.py, graph.projection.nodeids, graph.projection.relation_ids):
`NodeIds.extend` (new ids take the next indices, existing ones keep theirs, the sorted groups are shared);
per-edge columns it can extend (in their spare capacity, graph.projection.spare) and copy where edges changed; sparse columns rebuilt
from their few stored edges; relation ids derived from the columns, with the exceptions of new edges checked
by `RelationIds.build` on those edges alone; adjacency per type carried over (`Adjacencies.built`), the
whole-history OWNS adjacency never built for a delta (edges are found by one pass over the target column).
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from corpgraph.schema.declaration import ANALYTIC_RELATIONS
from corpgraph.schema.kinds import RelationType

from corpgraph.graph.identity.identifiers import entity_identifier_keys
from corpgraph.graph.identity.clusters import IdentityMap
from corpgraph.graph.projection.nodeids import NodeIds
from corpgraph.graph.projection.build import (
    _ALWAYS,
    _NEVER,
    _TYPE_CODE,
    Adjacencies,
    Adjacency,
    Projection,
    _day_table,
    _days,
    index_type,
)
from corpgraph.graph.projection.relation_ids import EdgeColumns, RelationIds
from corpgraph.graph.projection.sparse_column import SparseColumn
from corpgraph.graph.projection.spare import appended
from corpgraph.graph.stores.base import Change, ChangeKind, EdgeRow, GraphStore, contiguous, edge_row
from corpgraph.graph.projection.view_delta import patched_adjacency, patched_view

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
        return f"relation {touching[0]} touches an entity merged by identity (graph.identity.merge regroups it)"
    return Advanced(replace(identity, revision=last), apply_rows(projection, rows, last))


def apply_rows(proj: Projection, rows: Sequence[EdgeRow], revision: int) -> Projection:
    """The projection with these analytic relations added or updated (by relation id), as of `revision`."""
    at = _located(proj, rows)
    new_rows = [row for row, e in zip(rows, at.tolist()) if e < 0]
    old_rows = [row for row, e in zip(rows, at.tolist()) if e >= 0]
    changed = at[at >= 0]
    ids = proj.ids.extend(x for r in new_rows + old_rows for x in (r.source, r.target, r.incident) if x is not None)
    kinds = proj.kinds + sorted({r.kind for r in rows if r.kind is not None} - set(proj.kinds))
    m, k = proj.type.size, len(new_rows)
    added = np.arange(m, m + k, dtype=np.int64)
    cols = _row_columns(new_rows + old_rows, ids, kinds)
    out = replace(proj, revision=revision, ids=ids, kinds=kinds, _views=type(proj._views)(), _lock=threading.Lock())
    for name in ("share", "valid_from", "valid_to"):  # coded columns: new values join their tables
        setattr(out, name, getattr(proj, name).updated(changed, cols[name][k:], cols[name][:k]))
    touched = np.concatenate((added, changed))
    for name in ("incident", "kind"):
        setattr(out, name, _sparse_with(getattr(proj, name), m + k, touched, cols[name]))
    if k:
        itype = index_type(max(len(ids), m + k))
        # in the columns' spare capacity (graph.projection.spare): no copy of the 3M-edge columns per write
        out.type = appended(proj.type, cols["type"][:k].astype(proj.type.dtype))
        out.src = appended(proj.src.astype(itype, copy=False), cols["src"][:k].astype(itype))
        out.dst = appended(proj.dst.astype(itype, copy=False), cols["dst"][:k].astype(itype))
    out.relation_ids = _relation_ids(proj.relation_ids, out, new_rows)
    out.out = _grown_adjacency(proj.out, out, out.src, out.dst, added)
    out.into = _grown_adjacency(proj.into, out, out.dst, out.src, added)
    _set_bounds(proj, out, touched, cols)
    targets = np.unique(out.dst[touched[out.type[touched] == _TYPE_CODE[RelationType.OWNS]]])
    into = _owns_into(out, targets)
    with proj._lock:  # queries may add views meanwhile
        views = list(proj._views.items())
    for day, view in views:  # the same dates, in the same LRU order
        out._views[day] = patched_view(view, out, touched, targets, into)
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
    """Why the written entities may change identity (graph.identity.clusters), if they may."""
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


def _located(proj: Projection, rows: Sequence[EdgeRow]) -> np.ndarray:
    """The edge index of each relation already in the projection, -1 for new ones.

    Looked up among the edges into the rows' targets (one pass over the target column: the whole-history
    OWNS adjacency is not kept, graph.projection.Adjacencies), then by relation id.
    """
    found = np.full(len(rows), -1, dtype=np.int64)
    sources = proj.ids.indices([r.source for r in rows])
    targets = proj.ids.indices([r.target for r in rows])
    known = (sources >= 0) & (targets >= 0)
    if not known.any():
        return found
    near = np.flatnonzero(np.isin(proj.dst, np.unique(targets[known]), kind="table"))
    for k in np.flatnonzero(known).tolist():
        row = rows[k]
        same = near[(proj.dst[near] == targets[k]) & (proj.src[near] == sources[k])
                    & (proj.type[near] == _TYPE_CODE[row.type])]
        for edge in same.tolist():  # usually one: a pair holds few relations of one type
            if proj.relation_ids[edge] == row.id:
                found[k] = edge
    return found


def _owns_into(proj: Projection, targets: np.ndarray) -> np.ndarray:
    """Every OWNS edge into the companies (sorted), in one pass over the target column."""
    if targets.size == 0:
        return np.zeros(0, dtype=np.int64)
    near = np.flatnonzero(np.isin(proj.dst, targets, kind="table"))
    owns: np.ndarray = near[proj.type[near] == _TYPE_CODE[RelationType.OWNS]]
    return owns


def _row_columns(rows: Sequence[EdgeRow], ids: NodeIds, kinds: list[str]) -> dict[str, np.ndarray]:
    """The per-edge columns of relation rows (as graph.projection.build builds them), by column name."""
    code = {k: i for i, k in enumerate(kinds)}
    ends = ids.indices([x for r in rows for x in (r.source, r.target)])
    starts: list[object] = [r.valid_from for r in rows]
    stops: list[object] = [r.valid_to for r in rows]
    return {
        "type": np.array([_TYPE_CODE[r.type] for r in rows], dtype=np.int8),
        "src": ends[0::2], "dst": ends[1::2],
        "share": np.array([r.share for r in rows], dtype=np.float64),  # None becomes NaN
        "valid_from": _days(starts, _day_table(starts), _ALWAYS),
        "valid_to": _days(stops, _day_table(stops), _NEVER),
        "incident": _incidents(rows, ids),
        "kind": np.array([-1 if r.kind is None else code[r.kind] for r in rows], dtype=np.int16),
        "low": np.array([r.share_min for r in rows], dtype=np.float64),
        "high": np.array([r.share_max for r in rows], dtype=np.float64),
        "open": np.array([bool(r.share_min_exclusive) for r in rows], dtype=bool),
    }


def _incidents(rows: Sequence[EdgeRow], ids: NodeIds) -> np.ndarray:
    """The incident node of each row, -1 when none."""
    out = np.full(len(rows), -1, dtype=np.int64)
    named = [k for k, r in enumerate(rows) if r.incident is not None]
    if named:
        out[named] = ids.indices([rows[k].incident for k in named])  # type: ignore[misc]
    return out


def _sparse_with(column: SparseColumn, size: int, edges: np.ndarray, values: np.ndarray) -> SparseColumn:
    """A sparse column over `size` edges with the given edges set to `values` (a new object; `column` is kept)."""
    keep = ~np.isin(column.at, edges)
    stored = values != column.default
    at = np.concatenate((column.at[keep], edges[stored]))
    order = np.argsort(at, kind="stable")
    return SparseColumn(size, at[order].astype(column.at.dtype), np.concatenate(
        (column.values[keep], values[stored].astype(column.dtype)))[order], column.default)


def _relation_ids(old: RelationIds, proj: Projection, new_rows: Sequence[EdgeRow]) -> RelationIds:
    """Relation ids over the new columns: the old exceptions, and those of the new edges (checked as built)."""
    columns = EdgeColumns(proj.ids, proj.type, proj.src, proj.dst, proj.valid_from, proj.incident, proj.kind,
                          proj.kinds, _ALWAYS)
    if not new_rows:
        return replace(old, columns=columns)
    m = old.columns.type.size
    local = np.arange(m, m + len(new_rows))
    mine = EdgeColumns(proj.ids, proj.type[local], proj.src[local], proj.dst[local], proj.valid_from[local],
                       SparseColumn.of(proj.incident[local]), SparseColumn.of(proj.kind[local]), proj.kinds, _ALWAYS)
    starts = [r.valid_from for r in new_rows]
    day_of = _day_table(list(starts))
    fresh = RelationIds.build(mine, [r.id for r in new_rows], [r.source for r in new_rows],
                              [r.target for r in new_rows], starts, day_of.__getitem__)
    keys = old.keys + tuple(k for k in fresh.keys if k not in old.keys)
    code = {key: at for at, key in enumerate(keys)}
    remap = np.array([code[key] for key in fresh.keys], dtype=np.int32)
    return RelationIds(columns, np.concatenate((old.keyed, fresh.keyed + m)).astype(np.int64 if m >= 2**31 else np.int32),
                       np.concatenate((old.key_codes, remap[fresh.key_codes] if fresh.keys else fresh.key_codes)),
                       keys, np.concatenate((old.whole, fresh.whole + m)).astype(old.whole.dtype),
                       old.whole_ids.extended(list(fresh.whole_ids)))


def _grown_adjacency(old: Mapping[RelationType, Adjacency], proj: Projection, frm: np.ndarray, to: np.ndarray,
                     added: np.ndarray) -> Adjacencies:
    """Adjacency per relation type over the new columns: the old ones carried (patched with the new edges, which
    land at the ends of their rows, having the largest indices), built again only for a sparse type that grew."""
    n = len(proj.ids)
    grown = Adjacencies(n, proj.type, frm, to)
    built = old.built if isinstance(old, Adjacencies) else dict(old)
    for rel_type, adj in list(built.items()):
        mine = added[proj.type[added] == _TYPE_CODE[rel_type]]
        if adj.rows is None:
            grown.built[rel_type] = patched_adjacency(adj, n, to, add=(frm[mine], mine))
        elif mine.size == 0:
            grown.built[rel_type] = replace(adj, nodes=n, ends=to)  # not the old column: it would be kept alive
        elif rel_type != RelationType.OWNS:
            grown[rel_type]  # built here, in the builder, rather than by the first query that reads it
    return grown


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
    out.bound_open = np.concatenate((proj.bound_open[keep], cols["open"][ranged]))[order]
