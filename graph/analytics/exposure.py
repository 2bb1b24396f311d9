"""Exposure of an entity: the incidents it is exposed to, per channel, weighted, with the impact they carry.

Channels (relations valid at as_of):
- OWNERSHIP: the entity is responsible for the incident (weight 1) or holds an integrated share w > 0 in
  a responsible company (weight w); via = the responsible company.
- DEPENDENCY: the entity DEPENDS_ON a company that is responsible for or AFFECTED by the incident (weight
  1), or a company it controls does (weight = its integrated share in that company); via = the provider.
- DATA_FLOW: the entity SUPPLIED_DATA_TO a responsible company of the incident (weight 1); via = it.
- AFFECTED: the incident hit the entity itself (weight 1) or a company it holds an integrated share w > 0
  in (weight w); via = the entity hit.
One item per (incident, channel, via), keeping the largest weight when several routes lead there.
Impact figures of an incident: records_affected, records_affected_max, duration_hours and amount_<CUR>
(amounts summed per currency). Totals: each incident counted once, at the entity's largest weight for
it over every item (all pages, whatever `first` and `after`), times its figures, summed over incidents
(same keys); when some incident reports records_affected_max, one that reports only records_affected adds
that count to it too (never below the count).

Order and pages: items are ranked by weight x impact, the impact being the incident's records_affected_max,
else its records_affected, else 1 (an incident that counts no records ranks by its weight alone); ties by
weight, then incident id, channel and via (largest first for the numbers, ascending for the ids), a total
order. `first` keeps that many items after the cursor `after` (the `cursor` of an item received, naming its
rank key); `count` is the number of items of all pages. Only the items returned are explained (paths and
the subgraph), and only when asked (paths=True): collection keeps for each item the company its OWNS paths
lead to and the edges after them, nothing more, so a holder of 10^5 companies pays the searches of one page.

Example: P holds 60% of A, A is responsible for an outage of 10 hours: OWNERSHIP item weight 0.6,
totals {"duration_hours": 6.0}. With a second incident B of 100 records that P itself is responsible for,
B ranks first (1 x 100 > 0.6 x 1) and `first=1` returns B alone, count 2, totals over both.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Incident

from corpgraph.graph.analytics import ownership
from corpgraph.graph.analytics.paths import Explainer, PathFinder
from corpgraph.graph.analytics.results import Channel, Exposure, ExposureItem, Path, Subgraph
from corpgraph.graph.cursors import decode_cursor, encode_cursor, invalid_cursor
from corpgraph.graph.projection.build import AsOfView
from corpgraph.graph.stores.base import StoreReader
from corpgraph.graph import budget

R = RelationType
HINT = "pass the cursor of the last ExposureItem received"
RankKey = tuple[float, float, str, str, str]  # (-weight x impact, -weight, incident, channel, via): ascending


@dataclass
class _Found:
    """An exposure before it is explained: node indices, and what its paths are made of.

    Its paths are the top-k OWNS paths from the entity to `company` (one empty path when it is the entity
    itself), each followed by the edges of `suffix`.
    """

    incident: int
    channel: Channel
    weight: float
    via: int
    unknown: bool
    company: int
    suffix: tuple[int, ...]
    at: int = -1  # the via company's position in the entity's holdings (its bounds and flags); -1: no shares


def exposure(store: StoreReader, view: AsOfView, entity: int, as_of: date, channels: Sequence[Channel] | None = None,
             max_depth: int = 6, top_k: int = 3, bounds: bool = True, paths: bool = True, first: int | None = None,
             after: str | None = None) -> Exposure:
    """Incidents the entity is exposed to at as_of, per channel, with impact figures and weighted totals.

    bounds=False skips the solves at the minimums and maximums (weight_min/max None); paths=False finds no
    path and builds no subgraph (items' paths empty, graph empty). first/after: one page of the items in rank
    order (first=None: all of them); count and totals are over every item either way.
    """
    wanted = set(channels or Channel)
    start = None if after is None else _rank_key(after)
    search = _Search(view, entity, max_depth, top_k, bounds)
    if Channel.OWNERSHIP in wanted:
        search.ownership()
    if Channel.DEPENDENCY in wanted:
        search.dependency()
    if Channel.DATA_FLOW in wanted:
        search.data_flow()
    if Channel.AFFECTED in wanted:
        search.affected()
    return search.answer(store, as_of, paths, first, start)


def impact(incident: Incident) -> dict[str, float]:
    """The impact figures an incident reports, under the keys exposure totals use."""
    out: dict[str, float] = {}
    for key in ("records_affected", "records_affected_max", "duration_hours"):
        value = getattr(incident, key)
        if value is not None:
            out[key] = float(value)
    for amount in incident.amounts:
        out[f"amount_{amount.currency}"] = out.get(f"amount_{amount.currency}", 0.0) + amount.value
    return out


def rank_impact(figures: dict[str, float]) -> float:
    """The impact an item's weight is multiplied by to rank it: records_affected_max, else records_affected, else 1."""
    return float(figures.get("records_affected_max", figures.get("records_affected", 1.0)))


def weighted_totals(items: Sequence[ExposureItem]) -> dict[str, float]:
    """Sum over incidents of (largest item weight for the incident) x (its impact figures)."""
    return _totals((item.incident, item.weight, item.impact) for item in items)


def _totals(items: Iterable[tuple[str, float, dict[str, Any]]]) -> dict[str, float]:
    """weighted_totals over (incident, weight, figures) triples."""
    weight: dict[str, float] = {}
    figures: dict[str, dict[str, Any]] = {}
    for incident, w, impact_ in items:
        weight[incident] = max(weight.get(incident, 0.0), w)
        figures[incident] = impact_
    totals: dict[str, float] = {}
    only_counted = 0.0  # records of incidents that report a count and no maximum
    for incident, w in weight.items():
        for key, value in figures[incident].items():
            totals[key] = totals.get(key, 0.0) + w * float(value)
        if "records_affected" in figures[incident] and "records_affected_max" not in figures[incident]:
            only_counted += w * float(figures[incident]["records_affected"])
    if "records_affected_max" in totals:  # a known count is its own upper bound
        totals["records_affected_max"] += only_counted
    return totals


def cursor_of(key: RankKey) -> str:
    """The opaque cursor of an item's rank key (the numbers written exactly, as float.hex)."""
    score, weight, incident, channel, via = key
    return encode_cursor(json.dumps([(-score).hex(), (-weight).hex(), incident, channel, via]))


def _rank_key(cursor: str) -> RankKey:
    """The rank key inside an exposure cursor; InvalidCursor for anything else."""
    try:
        score, weight, incident, channel, via = json.loads(decode_cursor(cursor, HINT))
        if all(isinstance(part, str) for part in (incident, channel, via)):
            return -float.fromhex(score), -float.fromhex(weight), incident, channel, via
    except (ValueError, TypeError):
        pass
    raise invalid_cursor(cursor, HINT)


class _Search:
    """Collects exposures of one entity; paths are found and read only for the page's items, when asked."""

    def __init__(self, view: AsOfView, entity: int, max_depth: int, top_k: int, bounds: bool) -> None:
        self.view, self.entity, self.max_depth, self.top_k = view, entity, max_depth, top_k
        self.holds = ownership.row(view, entity, bounds)
        self.found: dict[tuple[int, Channel, int], _Found] = {}

    def ownership(self) -> None:
        """OWNERSHIP: responsible companies among the entity itself and everything it holds."""
        edges = self.view.edges_of_many(R.RESPONSIBLE_FOR, self.holds.nodes, outgoing=True)
        self._held(edges, self.view.projection.src[edges], self.view.projection.dst[edges], Channel.OWNERSHIP)

    def affected(self) -> None:
        """AFFECTED: incidents that hit the entity itself or anything it holds."""
        edges = self.view.edges_of_many(R.AFFECTED, self.holds.nodes, outgoing=False)
        self._held(edges, self.view.projection.dst[edges], self.view.projection.src[edges], Channel.AFFECTED)

    def dependency(self) -> None:
        """DEPENDENCY: providers of the entity, or of companies it controls, tied to an incident."""
        proj, holds = self.view.projection, self.holds
        controlled = ownership.controlled_by(self.view, self.entity)
        firms = np.concatenate([np.array([self.entity], dtype=np.int64), np.asarray(controlled, dtype=np.int64)])
        at = np.searchsorted(holds.nodes, firms)
        inside = (at < holds.nodes.size) & (holds.nodes[np.minimum(at, holds.nodes.size - 1)] == firms)
        firms = firms[inside]  # controlled through CONTROLS interests alone: no share, weight 0, not listed
        deps = self.view.edges_of_many(R.DEPENDS_ON, firms, outgoing=True)
        budget.check()  # a holder may control 10^5 companies, each with providers
        if deps.size == 0:
            return
        firm, provider = proj.src[deps].astype(np.int64), proj.dst[deps].astype(np.int64)
        place = np.searchsorted(holds.nodes, firm)
        weight = holds.integrated[place]
        # per provider, the heaviest route (the first of equal ones, in the order firms and edges come)
        order = np.lexsort((np.arange(deps.size), -weight, provider))
        first = order[np.r_[True, provider[order][1:] != provider[order][:-1]]]
        for k in first.tolist():
            ties = self._ties(int(provider[k]))
            if not ties:
                continue
            company, dep, at_ = int(firm[k]), int(deps[k]), int(place[k])
            w, unknown = float(weight[k]), bool(holds.unknown[at_])
            for incident, tie in ties:
                self._add(_Found(incident, Channel.DEPENDENCY, w, int(provider[k]), unknown, company, (dep, tie), at_))

    def data_flow(self) -> None:
        """DATA_FLOW: data the entity supplied to a company responsible for an incident."""
        proj = self.view.projection
        for supply in self.view.edges(R.SUPPLIED_DATA_TO, self.entity, outgoing=True).tolist():
            budget.check()
            company = int(proj.dst[supply])
            for edge in self.view.edges(R.RESPONSIBLE_FOR, company, outgoing=True).tolist():
                self._add(_Found(int(proj.dst[edge]), Channel.DATA_FLOW, 1.0, company, False, self.entity,
                                 (supply, edge)))

    def _held(self, edges: np.ndarray, companies: np.ndarray, incidents: np.ndarray, channel: Channel) -> None:
        """Items through companies the entity holds (or is): each edge ties `companies[i]` to `incidents[i]`."""
        holds = self.holds
        at = np.searchsorted(holds.nodes, companies)  # every company is in the block: edges were gathered from it
        weight, unknown = holds.integrated[at], holds.unknown[at]
        keep = np.flatnonzero((weight > 0) | unknown)
        budget.check()
        for k, edge, company, incident, w, u in zip(keep.tolist(), edges[keep].tolist(), companies[keep].tolist(),
                                                    incidents[keep].tolist(), weight[keep].tolist(),
                                                    unknown[keep].tolist()):
            self._add(_Found(incident, channel, w, company, u, company, (edge,), int(at[k])))

    def answer(self, store: StoreReader, as_of: date, paths: bool, first: int | None,
               start: RankKey | None) -> Exposure:
        """Read every incident's figures (one store read), rank, cut the page, explain it, assemble the Exposure."""
        proj = self.view.projection
        found = list(self.found.values())
        incidents = store.get_entities(sorted({proj.ids[f.incident] for f in found}))
        figures = {id: impact(record) for id, record in incidents.items()}  # type: ignore[arg-type]
        keyed = sorted((self._key(f, figures), f) for f in found)  # the rank keys are unique: f never compared
        totals = _totals((proj.ids[f.incident], f.weight, figures[proj.ids[f.incident]]) for f in found)
        keys = [key for key, _ in keyed]
        begin = 0 if start is None else bisect_right(keys, start)
        page = keyed[begin:] if first is None else keyed[begin:begin + first]
        explainer = Explainer(store, self.view) if paths else None
        explained = self._explain(explainer, [f for _, f in page]) if explainer else [[] for _ in page]
        items = [self._item(f, key, figures.get(key[2], {}), routes) for (key, f), routes in zip(page, explained)]
        graph = Subgraph()
        if explainer is not None:
            graph = explainer.subgraph({proj.ids[self.entity], *(i.incident for i in items),
                                        *(i.via for i in items if i.via)})
        return Exposure(proj.ids[self.entity], as_of, items, totals, graph, count=len(keyed))

    def _key(self, found: _Found, figures: dict[str, dict[str, float]]) -> RankKey:
        """The rank key of an item: weight x impact, weight, incident, channel, via (sorted ascending)."""
        ids = self.view.projection.ids
        incident = ids[found.incident]
        score = found.weight * rank_impact(figures.get(incident, {}))
        return -score, -found.weight, incident, found.channel.value, ids[found.via]

    def _explain(self, explainer: Explainer, page: list[_Found]) -> list[list[Path]]:
        """The explaining paths of the page's items (one search per company they lead to, one store read)."""
        finder: PathFinder | None = None
        owns: dict[int, list[list[int]]] = {self.entity: [[]]}
        for f in page:
            if f.company not in owns:
                finder = finder or PathFinder(self.view, self.entity, self.max_depth, into_anchor=False)
                owns[f.company] = finder.paths(f.company, self.top_k)
        routes = [[p + list(f.suffix) for p in owns[f.company]] for f in page]
        explainer.read(e for found in routes for p in found for e in p)
        return [[explainer.path(p) for p in found] for found in routes]

    def _item(self, found: _Found, key: RankKey, figures: dict[str, float], paths: list[Path]) -> ExposureItem:
        """The ExposureItem of a found exposure, with the bounds and flags of the holding it goes through."""
        proj, holds, at = self.view.projection, self.holds, found.at
        item = ExposureItem(key[2], found.channel, found.weight, proj.ids[found.via], paths, figures, found.unknown,
                            cursor=cursor_of(key))
        if at >= 0:
            low, high = float(holds.low[at]), float(holds.high[at])
            item.weight_min, item.weight_max = (None, None) if low != low else (low, high)
            item.estimate, item.over_allocated = bool(holds.estimate[at]), bool(holds.over_allocated[at])
            item.weight_max_exact = not bool(holds.loose[at])
        return item

    def _ties(self, company: int) -> list[tuple[int, int]]:
        """(incident, edge) for incidents the company is responsible for or affected by."""
        proj = self.view.projection
        responsible = [(int(proj.dst[e]), e) for e in self.view.edges(R.RESPONSIBLE_FOR, company, True).tolist()]
        affected = [(int(proj.src[e]), e) for e in self.view.edges(R.AFFECTED, company, False).tolist()]
        return responsible + affected

    def _add(self, item: _Found) -> None:
        """Record an exposure, keeping the heavier of two routes to the same (incident, channel, via)."""
        key = (item.incident, item.channel, item.via)
        if key not in self.found or item.weight > self.found[key].weight:
            self.found[key] = item
