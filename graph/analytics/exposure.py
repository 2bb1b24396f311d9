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
the subgraph), and only when asked (paths=True): collection keeps, in numpy columns, each item's route (the
company its OWNS paths lead to and the edges after them), nothing more, so a holder of 10^5 companies pays
the path searches of one page. The incidents' figures are read in one batched store read and kept per
analytic state (Impacts), so ranking and totals are vectorised over every item.

Example: P holds 60% of A, A is responsible for an outage of 10 hours: OWNERSHIP item weight 0.6,
totals {"duration_hours": 6.0}. With a second incident B of 100 records that P itself is responsible for,
B ranks first (1 x 100 > 0.6 x 1) and `first=1` returns B alone, count 2, totals over both.
"""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from corpgraph.graph.projection.build import AsOfView, Projection
from corpgraph.graph.projection.distinct import distinct
from corpgraph.graph.stores.base import StoreReader
from corpgraph.graph.subgraph import Unsent
from corpgraph.graph import budget

R = RelationType
HINT = "pass the cursor of the last ExposureItem received"
RankKey = tuple[float, float, str, str, str]  # (-weight x impact, -weight, incident, channel, via): ascending


@dataclass
class _Found:
    """A page's exposure before it is explained: node indices, and what its paths are made of.

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


@dataclass
class _Ranked:
    """Every item of a search with what ranks it: its columns (_COLUMNS), weight x impact, the incident of each
    (`each`: positions in `figures`' rows), the incidents' figure columns, and the totals over every item."""

    cols: dict[str, np.ndarray]
    score: np.ndarray
    each: np.ndarray
    figures: dict[str, np.ndarray]
    totals: dict[str, float]


CHANNELS = list(Channel)  # a channel's code in the collected arrays is its position here
_COLUMNS = ("incident", "channel", "weight", "via", "unknown", "company", "edge", "tie", "at")
_FEW = 8  # searches with fewer items are ranked and totalled in Python floats (_Search._ranked_few)


class Impacts:
    """Impact figures of incidents by node index, read from the store when first needed (one batched read of
    those not read yet) and kept for the analytic state they were read for (the facade keeps one per state).

    An incident's figures sit in one slot: `fixed` columns records_affected, records_affected_max and
    duration_hours, `amounts` one column per currency, NaN where it reports none. Slots are only appended
    (into new arrays), so arrays handed out stay valid while later reads add incidents.
    """

    FIXED = ("records_affected", "records_affected_max", "duration_hours")

    def __init__(self, nodes: int) -> None:
        self.slot = np.full(nodes, -1, dtype=np.int32)  # node -> slot; -1: not read yet
        self.fixed = np.zeros((0, 3))
        self.amounts: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @classmethod
    def every(cls, store: StoreReader, projection: Projection) -> "Impacts":
        """The figures of every incident an exposure can reach (RESPONSIBLE_FOR's targets, AFFECTED's sources) read
        now, in one batched read: what the facade readies with a state it builds or maps, before it serves it,
        so that no first exposure call pays the read (1.06 s of the first large holder's call at 1M)."""
        found = cls(len(projection.ids))
        incidents = np.union1d(projection.dst[projection.out[R.RESPONSIBLE_FOR].edge],
                               projection.src[projection.out[R.AFFECTED].edge])
        if incidents.size:
            found._add(store, projection, incidents.astype(np.int64))
        return found

    def read(self, store: StoreReader, view: AsOfView, incidents: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                        dict[str, np.ndarray]]:
        """(slots of these incidents, fixed figures by slot, amounts by currency by slot), reading the missing ones."""
        with self._lock:
            if self.slot.size < len(view.projection.ids):  # a projection never shrinks under one state; be safe
                grown = np.full(len(view.projection.ids) - self.slot.size, -1, dtype=np.int32)
                self.slot = np.concatenate([self.slot, grown])
            missing = incidents[self.slot[incidents] < 0]
            if missing.size:
                self._add(store, view.projection, missing)
            return self.slot[incidents], self.fixed, dict(self.amounts)

    def _add(self, store: StoreReader, projection: Projection, nodes: np.ndarray) -> None:
        """Read and append the figures of these incidents (absent records: no figures)."""
        ids = projection.ids.ids(nodes.tolist())
        records = store.get_entities(ids)
        base = self.fixed.shape[0]
        fixed = np.full((nodes.size, 3), np.nan)
        amounts = {c: np.concatenate([a, np.full(nodes.size, np.nan)]) for c, a in self.amounts.items()}
        for k, id in enumerate(ids):
            record = records.get(id)
            if record is None:
                continue
            for key, value in impact(record).items():  # type: ignore[arg-type]
                if key.startswith("amount_"):
                    column = amounts.setdefault(key[7:], np.full(base + nodes.size, np.nan))
                    column[base + k] = value
                else:
                    fixed[k, self.FIXED.index(key)] = value
        self.fixed = np.concatenate([self.fixed, fixed])
        self.amounts = amounts
        self.slot[nodes] = np.arange(base, base + nodes.size)


def exposure(store: StoreReader, view: AsOfView, entity: int, as_of: date, channels: Sequence[Channel] | None = None,
             max_depth: int = 6, top_k: int = 3, bounds: bool = True, paths: bool = True, first: int | None = None,
             after: str | None = None, impacts: Impacts | None = None) -> Exposure:
    """Incidents the entity is exposed to at as_of, per channel, with impact figures and weighted totals.

    bounds=False skips the solves at the minimums and maximums (weight_min/max None); paths=False finds no
    path and builds no subgraph (items' paths empty, graph empty). first/after: one page of the items in rank
    order (first=None: all of them); count and totals are over every item either way. impacts: the figures
    already read for this projection (a fresh cache when None).
    """
    start = None if after is None else _rank_key(after)
    search = _searched(view, entity, channels, max_depth, top_k, bounds)
    return search.answer(store, as_of, paths, first, start, impacts or Impacts(len(view.projection.ids)))


def exposure_pages(store: StoreReader, view: AsOfView, entity: int, as_of: date,
                   channels: Sequence[Channel] | None = None, max_depth: int = 6, top_k: int = 3, bounds: bool = True,
                   paths: bool = True, size: int = 1000, impacts: Impacts | None = None) -> Iterator[Exposure]:
    """Every item of the exposure a page of `size` at a time, in rank order: each page is what exposure(first=size,
    after=the cursor of the page before's last item) answers, and a full last page is followed by an empty one.

    The search, the ranking of every item and the path guide are made once, with the first page, and kept for
    the others (an export of the largest holder's 47k items repeated them for each page of 1,000: 3x the CPU
    of the whole answer at once). Nothing is computed before the first page is read.
    """
    search = _searched(view, entity, channels, max_depth, top_k, bounds)
    return search.pages(store, as_of, paths, size, impacts or Impacts(len(view.projection.ids)))


def exposure_graphs(store: StoreReader, view: AsOfView, entity: int, channels: Sequence[Channel] | None = None,
                    max_depth: int = 6, top_k: int = 3, bounds: bool = True, size: int = 1000,
                    impacts: Impacts | None = None) -> Iterator[Subgraph]:
    """The subgraph of exposure_pages' pages for an export: each page's nodes and edges (its items' explaining
    paths' relations, their ends, the entity, incidents and via companies) less those an earlier page carried,
    so their union is the whole answer's subgraph, and each node and edge is read and decoded once. No Path is
    made: an export writes the subgraph alone (making them was a quarter of a paged export's CPU)."""
    search = _searched(view, entity, channels, max_depth, top_k, bounds)
    return search.graphs(store, size, impacts or Impacts(len(view.projection.ids)))


def _searched(view: AsOfView, entity: int, channels: Sequence[Channel] | None, max_depth: int, top_k: int,
              bounds: bool) -> _Search:
    """The entity's items collected through the channels asked for (all when None)."""
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
    return search


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


def _totals(weight: np.ndarray, columns: dict[str, np.ndarray]) -> dict[str, float]:
    """Totals of incidents with these largest weights and figure columns (NaN: not reported), key by key."""
    keys = list(columns)
    # one matrix, key by key in its rows: the same sums as one np.sum per key (each row is summed as that array
    # would be), without ~4 numpy calls a key
    matrix = np.array([columns[key] for key in keys]).reshape(len(keys), weight.size)
    # NaN as 0 with one where: np.nan_to_num also clips infinities (records hold none: allow_inf_nan=False) and
    # looks up the float limits on every call (~10 us of a small exposure)
    missing = np.isnan(matrix)
    sums, reported = (np.where(missing, 0.0, matrix) * weight).sum(axis=1), ~missing.all(axis=1)
    totals = {key: float(total) for key, total, known in zip(keys, sums.tolist(), reported.tolist()) if known}

    def counted() -> float:
        only = ~np.isnan(columns["records_affected"]) & np.isnan(columns["records_affected_max"])
        return float(np.sum(weight[only] * columns["records_affected"][only]))

    return _with_counts_as_bounds(totals, columns, counted)


def _totals_few(weight: list[float], columns: dict[str, list[float]]) -> dict[str, float]:
    """_totals of fewer than _FEW incidents in Python floats, bit for bit: numpy sums fewer than 8 numbers one after
    the other from 0.0 (its pairwise summation starts at 8), and each term is the same product."""
    totals: dict[str, float] = {}
    for key, column in columns.items():
        if all(value != value for value in column):  # reported by none: no total
            continue
        total = 0.0
        for value, w in zip(column, weight):
            total += (0.0 if value != value else value) * w
        totals[key] = total

    def counted() -> float:
        extra = 0.0
        for w, count, most in zip(weight, columns["records_affected"], columns["records_affected_max"]):
            if count == count and most != most:
                extra += w * count
        return extra

    return _with_counts_as_bounds(totals, columns, counted)


def _with_counts_as_bounds(totals: dict[str, float], columns: Mapping[str, object], counted: Callable[[], float]
                           ) -> dict[str, float]:
    """The totals, where a known count is its own upper bound: when some incident reports records_affected_max, the
    weighted counts of those reporting records_affected alone (`counted`: _totals sums them with numpy, _totals_few
    in Python floats, each as its other sums are made) are added to its total."""
    if "records_affected_max" in totals and "records_affected" in columns:
        totals["records_affected_max"] += counted()
    return totals


def _reported(columns: dict[str, np.ndarray], at: int) -> dict[str, float]:
    """The figures one incident reports (its row of the figure columns, NaN left out)."""
    return {key: float(column[at]) for key, column in columns.items() if not np.isnan(column[at])}


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
    """Collects exposures of one entity as arrays; paths are found and read only for the page's items, when asked."""

    def __init__(self, view: AsOfView, entity: int, max_depth: int, top_k: int, bounds: bool) -> None:
        self.view, self.entity, self.max_depth, self.top_k = view, entity, max_depth, top_k
        self.reached = view.down.reach([entity])  # the holdings block, and the explaining paths' (within max_depth)
        self.holds = ownership.row(view, entity, bounds, self.reached[0])
        self.parts: list[tuple[np.ndarray, ...]] = []  # column arrays (_COLUMNS) of each channel's routes
        self._finder: PathFinder | None = None  # the explaining paths' guide, made by the first page that needs it

    def ownership(self) -> None:
        """OWNERSHIP: responsible companies among the entity itself and everything it holds."""
        edges = self.view.edges_of_many(R.RESPONSIBLE_FOR, self.holds.nodes, outgoing=True)
        if edges.size:  # most holdings are responsible for nothing: no route, and no ~8 numpy calls to find none
            self._held(edges, self.view.projection.src[edges], self.view.projection.dst[edges], Channel.OWNERSHIP)

    def affected(self) -> None:
        """AFFECTED: incidents that hit the entity itself or anything it holds."""
        edges = self.view.edges_of_many(R.AFFECTED, self.holds.nodes, outgoing=False)
        if edges.size:  # as in ownership(): no incident hit them, no route
            self._held(edges, self.view.projection.dst[edges], self.view.projection.src[edges], Channel.AFFECTED)

    def dependency(self) -> None:
        """DEPENDENCY: providers of the entity, or of companies it controls, tied to an incident."""
        proj, holds = self.view.projection, self.holds
        controlled = ownership.controlled_by(self.view, self.entity)
        if controlled.size == 0:  # most entities control nothing: their own providers, without ~6 numpy calls
            deps = self.view.edges(R.DEPENDS_ON, self.entity, outgoing=True)
        else:
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
        rows = []
        for k in order[np.r_[True, provider[order][1:] != provider[order][:-1]]].tolist():
            for incident, tie in self._ties(int(provider[k])):
                rows.append((incident, CHANNELS.index(Channel.DEPENDENCY), float(weight[k]), int(provider[k]),
                             bool(holds.unknown[place[k]]), int(firm[k]), int(deps[k]), tie, int(place[k])))
        self._rows(rows)

    def data_flow(self) -> None:
        """DATA_FLOW: data the entity supplied to a company responsible for an incident."""
        proj, rows = self.view.projection, []
        for supply in self.view.edges(R.SUPPLIED_DATA_TO, self.entity, outgoing=True).tolist():
            budget.check()
            company = int(proj.dst[supply])
            for edge in self.view.edges(R.RESPONSIBLE_FOR, company, outgoing=True).tolist():
                rows.append((int(proj.dst[edge]), CHANNELS.index(Channel.DATA_FLOW), 1.0, company, False,
                             self.entity, supply, edge, -1))
        self._rows(rows)

    def _rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Routes given one tuple each (in _COLUMNS order), as column arrays."""
        if rows:
            self.parts.append(tuple(np.array(column) for column in zip(*rows)))

    def _held(self, edges: np.ndarray, companies: np.ndarray, incidents: np.ndarray, channel: Channel) -> None:
        """Routes through companies the entity holds (or is): each edge ties `companies[i]` to `incidents[i]`."""
        holds = self.holds
        at = np.searchsorted(holds.nodes, companies)  # every company is in the block: edges were gathered from it
        keep = (holds.integrated[at] > 0) | holds.unknown[at]
        at, edges, companies = at[keep], edges[keep].astype(np.int64), companies[keep].astype(np.int64)
        budget.check()
        if at.size == 0:  # no route: nothing to concatenate later
            return
        self.parts.append((incidents[keep].astype(np.int64), np.full(at.size, CHANNELS.index(channel)),
                           holds.integrated[at], companies, holds.unknown[at], companies, edges,
                           np.full(at.size, -1), at))

    def _collected(self) -> dict[str, np.ndarray]:
        """Every item once per (incident, channel, via): the heaviest route, the first of equal ones."""
        if not self.parts:
            return {name: np.zeros(0, dtype=float if name == "weight" else np.int64) for name in _COLUMNS}
        if len(self.parts) == 1:  # one channel found routes (the common case): its columns as they are
            cols = dict(zip(_COLUMNS, self.parts[0]))
        else:
            cols = {name: np.concatenate([part[k] for part in self.parts]) for k, name in enumerate(_COLUMNS)}
        inc, ch, via = cols["incident"], cols["channel"], cols["via"]
        if inc.size < 2:  # nothing to keep apart
            return cols
        order = np.lexsort((np.arange(inc.size), -cols["weight"], via, ch, inc))
        inc, ch, via = inc[order], ch[order], via[order]
        first = np.r_[True, (inc[1:] != inc[:-1]) | (ch[1:] != ch[:-1]) | (via[1:] != via[:-1])]
        return {name: column[order[first]] for name, column in cols.items()}

    def answer(self, store: StoreReader, as_of: date, paths: bool, first: int | None,
               start: RankKey | None, impacts: Impacts) -> Exposure:
        """Rank every item by weight x impact, total them, cut the page, explain it, assemble the Exposure."""
        ranked = self._ranked(store, impacts)
        return self._respond(store, as_of, paths, ranked, self._page(ranked.cols, ranked.score, first, start))

    def pages(self, store: StoreReader, as_of: date, paths: bool, size: int, impacts: Impacts) -> Iterator[Exposure]:
        """Every item, `size` at a time, ranked once (see exposure_pages)."""
        ranked = self._ranked(store, impacts)
        order = self._page(ranked.cols, ranked.score, None, None)  # every item, in rank order
        for begin in itertools.count(0, size):
            chunk = order[begin:begin + size]
            yield self._respond(store, as_of, paths, ranked, chunk)
            if len(chunk) < size:
                return

    def graphs(self, store: StoreReader, size: int, impacts: Impacts) -> Iterator[Subgraph]:
        """Every item's subgraph, `size` items at a time in rank order, each page without what an earlier page
        carried (see exposure_graphs)."""
        ranked = self._ranked(store, impacts)
        order = self._page(ranked.cols, ranked.score, None, None)
        unsent = Unsent(self.view.projection)
        for begin in itertools.count(0, size):
            found = [self._found(ranked.cols, k) for k, _ in order[begin:begin + size]]
            edges = [e for routes in self._routes(found) for p in routes for e in p]
            nodes = [self.entity, *(f.incident for f in found), *(f.via for f in found)]
            yield unsent.subgraph(store, np.array(nodes, dtype=np.int64), np.array(edges, dtype=np.int64))
            if len(found) < size:
                return

    def _ranked(self, store: StoreReader, impacts: Impacts) -> _Ranked:
        """Every item once, its rank score (weight x impact) and the totals over all of them."""
        cols = self._collected()
        if cols["incident"].size < _FEW:
            return self._ranked_few(store, impacts, cols)
        weight = cols["weight"]
        # np.unique(return_inverse=True)'s answer by one sort and one search (numpy's own cost ~15 us a call)
        incidents = distinct(cols["incident"])
        each = np.searchsorted(incidents, cols["incident"])
        slots, fixed, amounts = impacts.read(store, self.view, incidents)
        table = fixed[slots] if slots.size else np.zeros((0, 3))
        largest = np.zeros(incidents.size)
        np.maximum.at(largest, each, weight)
        columns = {key: table[:, j] for j, key in enumerate(Impacts.FIXED)}
        columns.update({f"amount_{c}": column[slots] for c, column in sorted(amounts.items())})
        scale = np.where(~np.isnan(table[:, 1]), table[:, 1], np.where(~np.isnan(table[:, 0]), table[:, 0], 1.0))
        return _Ranked(cols, weight * scale[each], each, columns, _totals(largest, columns))

    def _ranked_few(self, store: StoreReader, impacts: Impacts, cols: dict[str, np.ndarray]) -> _Ranked:
        """_ranked of fewer than _FEW items in Python floats, the same arrays and totals bit for bit (_totals_few):
        most exposures have one or two items, and ~30 numpy calls on arrays that small cost ~60 us."""
        found = cols["incident"].tolist()
        incidents = sorted(set(found))
        each = [incidents.index(incident) for incident in found]
        slots, fixed, amounts = impacts.read(store, self.view, np.array(incidents, dtype=np.int64))
        at = slots.tolist()
        rows = [fixed[slot].tolist() for slot in at]
        columns = {key: [row[j] for row in rows] for j, key in enumerate(Impacts.FIXED)}
        columns.update({f"amount_{c}": [float(column[slot]) for slot in at] for c, column in sorted(amounts.items())})
        largest = [0.0] * len(incidents)
        for k, weight in zip(each, cols["weight"].tolist()):
            largest[k] = max(largest[k], weight)  # np.maximum's choice too: the first of equal values
        # the impact that ranks: records_affected_max, else records_affected, else 1 (NaN: not reported)
        scale = [most if most == most else (count if count == count else 1.0) for count, most, _ in rows]
        score = [weight * scale[k] for k, weight in zip(each, cols["weight"].tolist())]
        figures = {key: np.array(column, dtype=float) for key, column in columns.items()}
        return _Ranked(cols, np.array(score, dtype=float), np.array(each, dtype=np.intp), figures,
                       _totals_few(largest, columns))

    def _respond(self, store: StoreReader, as_of: date, paths: bool, ranked: _Ranked,
                 page: list[tuple[int, RankKey]]) -> Exposure:
        """The Exposure of one page of ranked items: explained (paths and subgraph) when asked."""
        proj = self.view.projection
        found = [self._found(ranked.cols, k) for k, _ in page]
        explainer = Explainer(store, self.view) if paths else None
        explained = self._explain(explainer, found) if explainer else [[] for _ in found]
        items = [self._item(f, key, _reported(ranked.figures, int(ranked.each[k])), routes)
                 for (k, key), f, routes in zip(page, found, explained)]
        graph = Subgraph()
        if explainer is not None:
            graph = explainer.subgraph({proj.ids[self.entity], *(i.incident for i in items),
                                        *(i.via for i in items if i.via)})
        return Exposure(proj.ids[self.entity], as_of, items, dict(ranked.totals), graph, count=int(ranked.score.size))

    def _page(self, cols: dict[str, np.ndarray], score: np.ndarray, first: int | None,
              start: RankKey | None) -> list[tuple[int, RankKey]]:
        """(position, rank key) of the page's items in rank order: numbers cut with numpy, ids only where tied."""
        weight = cols["weight"]
        rest = np.arange(score.size)
        if start is not None:
            later = (score < -start[0]) | ((score == -start[0]) & (weight < -start[1]))
            tied = np.flatnonzero((score == -start[0]) & (weight == -start[1]))
            after = [k for k in tied.tolist() if self._key(cols, score, k) > start]
            rest = np.union1d(np.flatnonzero(later), np.array(after, dtype=np.int64))
        if first is not None and rest.size > first:
            order = rest[np.lexsort((-weight[rest], -score[rest]))]
            last = order[first - 1]  # ties with the first-th item at the cut are kept, then ordered by id
            edge = (score[order] == score[last]) & (weight[order] == weight[last])
            rest = np.union1d(order[:first], order[edge])
        keyed = sorted((self._key(cols, score, k), k) for k in rest.tolist())
        return [(k, key) for key, k in (keyed if first is None else keyed[:first])]

    def _key(self, cols: dict[str, np.ndarray], score: np.ndarray, k: int) -> RankKey:
        """The rank key of item k: weight x impact, weight, incident, channel, via (sorted ascending)."""
        ids = self.view.projection.ids
        return (-float(score[k]), -float(cols["weight"][k]), ids[int(cols["incident"][k])],
                CHANNELS[int(cols["channel"][k])].value, ids[int(cols["via"][k])])

    def _found(self, cols: dict[str, np.ndarray], k: int) -> _Found:
        """The route kept for item k."""
        suffix = tuple(int(e) for e in (cols["edge"][k], cols["tie"][k]) if e >= 0)
        return _Found(int(cols["incident"][k]), CHANNELS[int(cols["channel"][k])], float(cols["weight"][k]),
                      int(cols["via"][k]), bool(cols["unknown"][k]), int(cols["company"][k]), suffix,
                      int(cols["at"][k]))

    def _explain(self, explainer: Explainer, page: list[_Found]) -> list[list[Path]]:
        """The explaining paths of the page's items (one guided search per company they lead to, one store read)."""
        routes = self._routes(page)
        explainer.read(e for found in routes for p in found for e in p)
        return [[explainer.path(p) for p in found] for found in routes]

    def _routes(self, page: list[_Found]) -> list[list[list[int]]]:
        """Each item's explaining paths as edge indices: the top-k OWNS paths to its company (one guided search per
        company), each followed by the item's suffix."""
        owns: dict[int, list[list[int]]] = {self.entity: [[]]}
        for f in page:
            if f.company not in owns:
                if self._finder is None:  # one guide for every page of the search
                    self._finder = PathFinder(self.view, self.entity, self.max_depth, into_anchor=False,
                                              reached=self.reached)
                owns[f.company] = self._finder.paths(f.company, self.top_k)
        return [[p + list(f.suffix) for p in owns[f.company]] for f in page]

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
