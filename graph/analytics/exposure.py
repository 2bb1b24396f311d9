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
it over the items shown, times its figures, summed over incidents (same keys); when some incident reports
records_affected_max, one that reports only records_affected adds that count to it too (never below the count).

Example: P holds 60% of A, A is responsible for an outage of 10 hours: OWNERSHIP item weight 0.6,
totals {"duration_hours": 6.0}.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Incident

from corpgraph.graph.analytics import ownership
from corpgraph.graph.analytics.paths import Explainer, PathFinder
from corpgraph.graph.analytics.results import Channel, Exposure, ExposureItem, Path
from corpgraph.graph.projection.build import AsOfView
from corpgraph.graph.stores.base import StoreReader
from corpgraph.graph import budget

R = RelationType


@dataclass
class _Found:
    """An exposure before its paths are explained: node indices and edge-index paths."""

    incident: int
    channel: Channel
    weight: float
    via: int
    unknown: bool = False
    paths: list[list[int]] = field(default_factory=list)
    at: int = -1  # the via company's position in the entity's holdings (its bounds and flags); -1: no shares


def exposure(store: StoreReader, view: AsOfView, entity: int, as_of: date, channels: Sequence[Channel] | None = None,
             max_depth: int = 6, top_k: int = 3, bounds: bool = True) -> Exposure:
    """Incidents the entity is exposed to at as_of, per channel, with impact figures and weighted totals.

    bounds=False skips the solves at the minimums and maximums (weight_min/max None).
    """
    wanted = set(channels or Channel)
    search = _Search(view, entity, max_depth, top_k, bounds)
    if Channel.OWNERSHIP in wanted:
        search.ownership()
    if Channel.DEPENDENCY in wanted:
        search.dependency()
    if Channel.DATA_FLOW in wanted:
        search.data_flow()
    if Channel.AFFECTED in wanted:
        search.affected()
    return search.answer(store, as_of)


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


def weighted_totals(items: Sequence[ExposureItem]) -> dict[str, float]:
    """Sum over incidents of (largest item weight for the incident) x (its impact figures)."""
    weight: dict[str, float] = {}
    figures: dict[str, dict[str, Any]] = {}
    for item in items:
        weight[item.incident] = max(weight.get(item.incident, 0.0), item.weight)
        figures[item.incident] = item.impact
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


class _Search:
    """Collects exposures of one entity; paths are kept as edge indices until one store read explains them."""

    def __init__(self, view: AsOfView, entity: int, max_depth: int, top_k: int, bounds: bool) -> None:
        self.view, self.entity, self.top_k = view, entity, top_k
        self.holds = ownership.row(view, entity, bounds)
        self.finder = PathFinder(view, entity, max_depth, into_anchor=False)
        self.found: dict[tuple[int, Channel, int], _Found] = {}

    def ownership(self) -> None:
        """OWNERSHIP: responsible companies among the entity itself and everything it holds."""
        proj, holds = self.view.projection, self.holds
        for edge in self.view.edges_of_many(R.RESPONSIBLE_FOR, holds.nodes, outgoing=True).tolist():
            company = int(proj.src[edge])
            at = holds.local(company)
            weight, unknown = float(holds.integrated[at]), bool(holds.unknown[at])
            if weight > 0 or unknown:
                paths = [p + [edge] for p in self._owns_paths(company)]
                self._add(_Found(int(proj.dst[edge]), Channel.OWNERSHIP, weight, company, unknown, paths, at=at))

    def dependency(self) -> None:
        """DEPENDENCY: providers of the entity, or of companies it controls, tied to an incident."""
        holds = self.holds
        controlled = ownership.controlled_by(self.view, self.entity).tolist()
        for at in [holds.local(node) for node in (self.entity, *controlled)]:
            if at < 0:
                continue  # controlled through CONTROLS interests alone: no share, weight 0, not listed
            firm = int(holds.nodes[at])
            weight, unknown = float(holds.integrated[at]), bool(holds.unknown[at])
            for dep in self.view.edges(R.DEPENDS_ON, firm, outgoing=True).tolist():
                budget.check()  # a holder may control 10^5 companies, each with providers
                provider = int(self.view.projection.dst[dep])
                for incident, tie in self._ties(provider):
                    paths = [p + [dep, tie] for p in self._owns_paths(firm)]
                    self._add(_Found(incident, Channel.DEPENDENCY, weight, provider, unknown, paths, at=at))

    def data_flow(self) -> None:
        """DATA_FLOW: data the entity supplied to a company responsible for an incident."""
        proj = self.view.projection
        for supply in self.view.edges(R.SUPPLIED_DATA_TO, self.entity, outgoing=True).tolist():
            budget.check()
            company = int(proj.dst[supply])
            for edge in self.view.edges(R.RESPONSIBLE_FOR, company, outgoing=True).tolist():
                self._add(_Found(int(proj.dst[edge]), Channel.DATA_FLOW, 1.0, company, False, [[supply, edge]]))

    def affected(self) -> None:
        """AFFECTED: incidents that hit the entity itself or anything it holds."""
        proj, holds = self.view.projection, self.holds
        for edge in self.view.edges_of_many(R.AFFECTED, holds.nodes, outgoing=False).tolist():
            hit = int(proj.dst[edge])
            at = holds.local(hit)
            weight, unknown = float(holds.integrated[at]), bool(holds.unknown[at])
            if weight > 0 or unknown:
                paths = [p + [edge] for p in self._owns_paths(hit)]
                self._add(_Found(int(proj.src[edge]), Channel.AFFECTED, weight, hit, unknown, paths, at=at))

    def answer(self, store: StoreReader, as_of: date) -> Exposure:
        """Explain the paths, read the incidents' figures, and assemble the Exposure."""
        proj, explainer = self.view.projection, Explainer(store, self.view)
        found = sorted(self.found.values(), key=lambda f: (-f.weight, proj.ids[f.incident], f.channel.value))
        explainer.read(e for f in found for p in f.paths for e in p)
        incidents = store.get_entities(sorted({proj.ids[f.incident] for f in found}))
        items = [self._item(f, [explainer.path(p) for p in f.paths], impact(incidents[proj.ids[f.incident]]))  # type: ignore[arg-type]
                 for f in found]
        ids = {proj.ids[self.entity], *(i.incident for i in items), *(i.via for i in items if i.via)}
        return Exposure(proj.ids[self.entity], as_of, items, weighted_totals(items), explainer.subgraph(ids))

    def _item(self, found: _Found, paths: list[Path], figures: dict[str, float]) -> ExposureItem:
        """The ExposureItem of a found exposure, with the bounds and flags of the holding it goes through."""
        proj, holds, at = self.view.projection, self.holds, found.at
        item = ExposureItem(proj.ids[found.incident], found.channel, found.weight, proj.ids[found.via], paths,
                            figures, found.unknown)
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

    def _owns_paths(self, company: int) -> list[list[int]]:
        """OWNS paths from the entity to a company it holds (one empty path for the entity itself)."""
        if company == self.entity:
            return [[]]
        return self.finder.paths(company, self.top_k)

    def _add(self, item: _Found) -> None:
        """Record an exposure, keeping the heavier of two routes to the same (incident, channel, via)."""
        key = (item.incident, item.channel, item.via)
        if key not in self.found or item.weight > self.found[key].weight:
            self.found[key] = item
