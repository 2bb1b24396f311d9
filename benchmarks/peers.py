"""What users would otherwise pick: networkx path enumeration and LadybugDB (embedded Cypher) path sums.

Both peers read the same stored rows as corpgraph (`read_rows(store)`), apply the same validity rule
(valid_from <= as_of < valid_to, open ends allowed) and count an unknown share as 0. Their ownership
numbers are sums over paths of at most `depth` hops of the product of the shares: truncated, hence
at most the exact integrated share (networkx walks simple paths; LadybugDB walks, its default).
Answers are plain dicts so the harness can compare them with corpgraph's:
integrated -> {company: share}, liability -> {(entity, role): weight},
exposure -> {(incident, channel): weight} (weights of several routes: the largest).
"""
from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

import networkx as nx

from corpgraph.graph.stores.base import EdgeRow, GraphStore
from corpgraph.schema.kinds import RelationType as R

Key = tuple[str, str]
DEPTH = 6


@dataclass
class Rows:
    """The analytic relations of a store as plain tuples, the one input of both peers."""

    owns: list[tuple[str, str, float | None, str | None, str | None]] = field(default_factory=list)
    responsible: list[tuple[str, str]] = field(default_factory=list)
    depends: list[tuple[str, str]] = field(default_factory=list)
    supplied: list[tuple[str, str, str | None]] = field(default_factory=list)
    perpetrated: list[tuple[str, str]] = field(default_factory=list)

    def ids(self) -> set[str]:
        """Every entity id any row names."""
        out: set[str] = set()
        for table in (self.owns, self.responsible, self.depends, self.supplied, self.perpetrated):
            for row in table:
                out.update((row[0], row[1]))
        return out

    def __len__(self) -> int:
        """Number of relation rows."""
        return sum(len(t) for t in (self.owns, self.responsible, self.depends, self.supplied, self.perpetrated))


def read_rows(store: GraphStore) -> Rows:
    """Stream the relations the peers need out of a corpgraph store."""
    rows = Rows()
    types = [R.OWNS, R.RESPONSIBLE_FOR, R.DEPENDS_ON, R.SUPPLIED_DATA_TO, R.PERPETRATED]
    for page in store.iter_edges(types):
        for e in page:
            _add_row(rows, e)
    return rows


def _add_row(rows: Rows, e: EdgeRow) -> None:
    """File one stored edge under its table."""
    if e.type == R.OWNS:
        rows.owns.append((e.source, e.target, e.share, e.valid_from, e.valid_to))
    elif e.type == R.RESPONSIBLE_FOR:
        rows.responsible.append((e.source, e.target))
    elif e.type == R.DEPENDS_ON:
        rows.depends.append((e.source, e.target))
    elif e.type == R.SUPPLIED_DATA_TO:
        rows.supplied.append((e.source, e.target, e.incident))
    elif e.type == R.PERPETRATED:
        rows.perpetrated.append((e.source, e.target))


def valid_at(valid_from: str | None, valid_to: str | None, as_of: date) -> bool:
    """The validity rule of the product: valid_from <= as_of < valid_to, either end open."""
    day = as_of.isoformat()  # ISO dates compare as text
    return (valid_from is None or valid_from <= day) and (valid_to is None or valid_to > day)


class NetworkxPeer:
    """A networkx DiGraph of the OWNS edges valid at as_of, with depth-bounded simple-path enumeration."""

    name = "networkx"

    def __init__(self, rows: Rows, as_of: date) -> None:
        started = time.perf_counter()
        self.graph = nx.DiGraph()
        self.graph.add_weighted_edges_from(
            ((s, t, share or 0.0) for s, t, share, vf, vt in rows.owns if valid_at(vf, vt, as_of)), weight="share")
        self.responsible = _multimap(rows.responsible)
        self.depends = _multimap(rows.depends)
        self.supplied = _multimap((s, t) for s, t, _ in rows.supplied)
        self.build_seconds = time.perf_counter() - started

    def integrated(self, holder: str, depth: int | None = DEPTH) -> dict[str, float]:
        """Sum over simple paths of <= depth hops from holder of the product of shares (None: no bound)."""
        return path_sums(self.graph, holder, depth)

    def exposure(self, entity: str, depth: int = DEPTH) -> dict[Key, float]:
        """Incidents of the companies reached downwards (OWNERSHIP), depended on, or supplied with data."""
        out: dict[Key, float] = {}
        reached = {entity: 1.0, **self.integrated(entity, depth)}
        for company, weight in reached.items():
            for incident in self.responsible.get(company, ()):
                _keep_max(out, (incident, "OWNERSHIP"), weight)
        for channel, table in (("DEPENDENCY", self.depends), ("DATA_FLOW", self.supplied)):
            for other in table.get(entity, ()):
                for incident in self.responsible.get(other, ()):
                    _keep_max(out, (incident, channel), 1.0)
        return out


def path_sums(graph: nx.DiGraph, source: str, depth: int | None) -> dict[str, float]:
    """Per node, the sum over simple paths from source (<= depth hops) of the product of `share`."""
    sums: dict[str, float] = defaultdict(float)
    if source not in graph:
        return {}
    succ = graph.succ
    limit = depth if depth is not None else len(graph)
    path, on_path = [source], {source}
    stack: list[tuple[Iterator[tuple[str, dict[str, Any]]], float]] = [(iter(succ[source].items()), 1.0)]
    while stack:
        children, weight = stack[-1]
        for node, attrs in children:
            if node in on_path:
                continue
            product = weight * attrs["share"]
            sums[node] += product
            if len(stack) < limit and succ[node]:
                path.append(node)
                on_path.add(node)
                stack.append((iter(succ[node].items()), product))
                break
        else:  # this node's children are done: step back up
            stack.pop()
            on_path.discard(path.pop())
    return dict(sums)


def _multimap(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group the second items by the first."""
    out: dict[str, list[str]] = defaultdict(list)
    for a, b in pairs:
        out[a].append(b)
    return dict(out)


def _keep_max(out: dict[Key, float], key: Key, weight: float) -> None:
    """Record a route's weight, keeping the largest of several routes."""
    if weight > out.get(key, -1.0):
        out[key] = weight


# LadybugDB. Labels and types are fixed here; every value travels as a $parameter.
_VALID = "(r, _n | WHERE (r.valid_from IS NULL OR r.valid_from <= $as_of) AND (r.valid_to IS NULL OR r.valid_to > $as_of))"
_PRODUCT = "list_product(properties(rels(e), 'share'))"
_DDL = [
    "CREATE NODE TABLE E(id STRING, PRIMARY KEY (id))",
    "CREATE REL TABLE OWNS(FROM E TO E, share DOUBLE, valid_from DATE, valid_to DATE)",
    "CREATE REL TABLE RESPONSIBLE_FOR(FROM E TO E)",
    "CREATE REL TABLE DEPENDS_ON(FROM E TO E)",
    "CREATE REL TABLE SUPPLIED_DATA_TO(FROM E TO E, incident STRING)",
    "CREATE REL TABLE PERPETRATED(FROM E TO E)",
]
INTEGRATED = (f"MATCH (x:E {{id: $x}})-[e:OWNS*1..{DEPTH} {_VALID}]->(y:E) WHERE y.id <> $x "
              f"RETURN y.id, sum({_PRODUCT})")
LIABILITY = (
    "MATCH (c:E)-[:RESPONSIBLE_FOR]->(:E {id: $i}) RETURN c.id AS entity, 'RESPONSIBLE' AS role, 1.0 AS weight "
    f"UNION ALL MATCH (o:E)-[e:OWNS*1..{DEPTH} {_VALID}]->(c:E)-[:RESPONSIBLE_FOR]->(:E {{id: $i}}) "
    f"WHERE o.id <> c.id WITH o, c, sum({_PRODUCT}) AS w RETURN o.id AS entity, 'OWNER' AS role, w AS weight "
    "UNION ALL MATCH (c:E)-[:RESPONSIBLE_FOR]->(:E {id: $i}), (c)-[s:SUPPLIED_DATA_TO]->(t:E) "
    "WHERE s.incident IS NULL OR s.incident = $i RETURN t.id AS entity, 'DATA_RECIPIENT' AS role, 1.0 AS weight "
    "UNION ALL MATCH (a:E)-[:PERPETRATED]->(:E {id: $i}) RETURN a.id AS entity, 'PERPETRATOR' AS role, 1.0 AS weight"
)
EXPOSURE = (
    "MATCH (:E {id: $x})-[:RESPONSIBLE_FOR]->(i:E) RETURN i.id AS incident, 'OWNERSHIP' AS channel, 1.0 AS weight "
    f"UNION ALL MATCH (:E {{id: $x}})-[e:OWNS*1..{DEPTH} {_VALID}]->(c:E)-[:RESPONSIBLE_FOR]->(i:E) WHERE c.id <> $x "
    f"WITH i, c, sum({_PRODUCT}) AS w RETURN i.id AS incident, 'OWNERSHIP' AS channel, w AS weight "
    "UNION ALL MATCH (:E {id: $x})-[:DEPENDS_ON]->(:E)-[:RESPONSIBLE_FOR]->(i:E) "
    "RETURN i.id AS incident, 'DEPENDENCY' AS channel, 1.0 AS weight "
    "UNION ALL MATCH (:E {id: $x})-[:SUPPLIED_DATA_TO]->(:E)-[:RESPONSIBLE_FOR]->(i:E) "
    "RETURN i.id AS incident, 'DATA_FLOW' AS channel, 1.0 AS weight"
)


class PeerError(RuntimeError):
    """A peer could not answer (e.g. LadybugDB ran out of its buffer pool); the call counts as unfinished."""


def ladybug_available() -> bool:
    """Whether the LadybugDB package (the `bench` extra) is installed."""
    try:
        import ladybug  # noqa: F401
    except ImportError:
        return False
    return True


class LadybugPeer:
    """An embedded LadybugDB holding the same rows (bulk COPY from CSV), queried in Cypher."""

    name = "ladybug"

    def __init__(self, directory: Path, rows: Rows, as_of: date, buffer_pool_mb: int = 2048) -> None:
        import ladybug  # imported here: a dev dependency of the benchmark only

        directory.mkdir(parents=True, exist_ok=True)
        self.as_of = as_of
        self.db = ladybug.Database(str(directory / "peer.lbug"), buffer_pool_size=buffer_pool_mb << 20,
                                   max_num_threads=2)
        self.conn = ladybug.Connection(self.db)
        for statement in _DDL:
            self.conn.execute(statement)
        files = _write_csvs(directory, rows)
        started = time.perf_counter()
        for table, path in files.items():
            self.conn.execute(f"COPY {table} FROM '{path}' (header=false)")  # our own temp path, not user text
        self.copy_seconds = time.perf_counter() - started
        self.copied = len(rows) + len(rows.ids())

    def integrated(self, holder: str) -> dict[str, float]:
        """The depth-6 path sum from holder to every company it reaches."""
        return {y: w or 0.0 for y, w in self._rows(INTEGRATED, {"x": holder})}

    def liability(self, incident: str) -> dict[Key, float]:
        """Responsible companies, their owners within 6 hops (path sums), data recipients, perpetrators."""
        out: dict[Key, float] = {}
        for entity, role, weight in self._rows(LIABILITY, {"i": incident}):
            _keep_max(out, (entity, role), weight or 0.0)
        return out

    def exposure(self, entity: str) -> dict[Key, float]:
        """Incidents reached through holdings within 6 hops, dependencies and data supplies."""
        out: dict[Key, float] = {}
        for incident, channel, weight in self._rows(EXPOSURE, {"x": entity}):
            _keep_max(out, (incident, channel), weight or 0.0)
        return out

    def close(self) -> None:
        """Release the database."""
        self.conn.close()
        self.db.close()

    def _rows(self, query: str, params: dict[str, Any]) -> list[list[Any]]:
        """Run one parameterised query with as_of bound; all result rows."""
        try:
            result = self.conn.execute(query, {**params, "as_of": self.as_of})
            assert not isinstance(result, list), "one statement: one result"
            return cast(list[list[Any]], result.get_all())
        except RuntimeError as exc:  # the binding raises RuntimeError for every engine error
            raise PeerError(f"LadybugDB: {exc}") from exc


def _write_csvs(directory: Path, rows: Rows) -> dict[str, Path]:
    """One headerless CSV per table, nodes first (COPY order matters); returns table -> file."""
    tables: dict[str, Iterable[tuple[Any, ...]]] = {
        "E": ((i,) for i in sorted(rows.ids())),
        # An unknown share is written as 0: list_product skips NULLs and would count it as 1.
        "OWNS": ((s, t, share or 0.0, vf, vt) for s, t, share, vf, vt in rows.owns),
        "RESPONSIBLE_FOR": rows.responsible,
        "DEPENDS_ON": rows.depends,
        "SUPPLIED_DATA_TO": rows.supplied,
        "PERPETRATED": rows.perpetrated,
    }
    files: dict[str, Path] = {}
    for table, table_rows in tables.items():
        files[table] = directory / f"{table}.csv"
        with files[table].open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(table_rows)  # None becomes an empty cell: NULL
    return files


@dataclass
class Agreement:
    """How a peer's answers compare with the exact ones (keys with weight 0 are left out on both sides)."""

    calls: int = 1
    keys: int = 0  # keys of the exact answers
    missed: int = 0  # exact keys the peer did not find (paths cut at the depth bound)
    extra: int = 0  # keys only the peer found: a real disagreement
    max_error: float = 0.0  # largest |peer - exact|
    max_over: float = 0.0  # largest peer - exact; above 0 the peer overshot (walks through cross-holdings)
    error_sum: float = 0.0
    exact_sum: float = 0.0

    @property
    def agrees(self) -> bool:
        """Same keys or fewer, and never above the exact value (truncation only)."""
        return self.extra == 0 and self.max_over <= 1e-9

    @property
    def identical(self) -> bool:
        """The same answer up to rounding."""
        return self.extra == 0 and self.missed == 0 and self.max_error <= 1e-9

    def summary(self) -> str:
        """One cell of the table."""
        if self.identical:
            return f"identical ({self.keys:,} keys)"
        verdict = "yes, <= exact" if self.agrees else "NO"
        rel = self.error_sum / self.exact_sum if self.exact_sum else 0.0
        parts = [f"{verdict}: max err {self.max_error:.3g}, L1 err {rel:.1%}, missed {self.missed:,}/{self.keys:,}"]
        if self.extra:
            parts.append(f"{self.extra:,} extra")
        if self.max_over > 1e-9:
            parts.append(f"over by {self.max_over:.3g}")
        return ", ".join(parts)


def compare(exact: dict[Any, float], peer: dict[Any, float]) -> Agreement:
    """Compare one answer of a peer with the exact answer (both key -> weight)."""
    exact = {k: v for k, v in exact.items() if v and v > 0}
    peer = {k: v for k, v in peer.items() if v and v > 0}
    errors = [peer.get(k, 0.0) - exact.get(k, 0.0) for k in exact.keys() | peer.keys()]
    return Agreement(keys=len(exact), missed=len(exact.keys() - peer.keys()), extra=len(peer.keys() - exact.keys()),
                     max_error=max(map(abs, errors), default=0.0), max_over=max(errors, default=0.0),
                     error_sum=sum(map(abs, errors)), exact_sum=sum(exact.values()))


def merge(parts: list[Agreement]) -> Agreement:
    """One agreement over many calls."""
    return Agreement(calls=sum(p.calls for p in parts), keys=sum(p.keys for p in parts),
                     missed=sum(p.missed for p in parts), extra=sum(p.extra for p in parts),
                     max_error=max((p.max_error for p in parts), default=0.0),
                     max_over=max((p.max_over for p in parts), default=0.0),
                     error_sum=sum(p.error_sum for p in parts), exact_sum=sum(p.exact_sum for p in parts))
