"""The liability chain of an incident: who is responsible, who owns them, who received the data, who did it.

Parties (relations valid at as_of):
- RESPONSIBLE: sources of RESPONSIBLE_FOR the incident; weight 1; detail = their roles (one party per
  company however many roles it holds, so its owners and recipients are listed once too).
- OWNER: every owner X of a responsible company R with integrated(X, R) >= min_share; weight = that
  integrated share, `controls` = X controls R; one party per (owner, responsible company), detail = R.
  A direct owner of R whose stake is unknown is kept whatever min_share (weight None, marked unknown);
  an owner with an unknown share further up is marked and its weight is a lower bound.
- DATA_RECIPIENT: targets of SUPPLIED_DATA_TO from a responsible company whose `incident` is this
  incident or empty; weight 1; detail = the supplier; one party per (recipient, supplier).
- PERPETRATOR: sources of PERPETRATED the incident; weight 1. `attributed_to` lists whom the actor is
  attributed to: the targets of its ATTRIBUTED_TO relations, followed on through attributed actors (an
  intrusion set -> a threat actor -> a state body). Attribution is shown, never liability: those parties get
  no entry in `parties` and no weight; the graph shows them and the ATTRIBUTED_TO edges.
- max_owners keeps the strongest OWNER parties per responsible company (weights stay exact);
  owners_total says how many met min_share, so nothing disappears silently.
Each party carries its top-k explaining paths (OWNER paths end with the RESPONSIBLE_FOR hop) and the
answer carries the subgraph of every party and every hop shown; max_depth bounds paths, not weights, and an
OWNER whose paths within max_depth leave part of its weight unexplained is marked `paths_cut_short`.
Paths and the subgraph are only computed when asked for (paths=True; GraphQL: the `paths` or `graph` fields).

Example (seed): kaola-leak-2019 -> RESPONSIBLE kaola (data_controller), OWNER lakala (0.324, not in
control), DATA_RECIPIENT heipachong.
"""
from __future__ import annotations

from dataclasses import fields
from datetime import date
from itertools import compress, repeat
from typing import Any

import numpy as np

from corpgraph.schema.kinds import RelationType

from corpgraph.graph.analytics import ownership
from corpgraph.graph.analytics.holding_rows import made
from corpgraph.graph.analytics.declared import ULTIMATE_PARENT, declarations
from corpgraph.graph.analytics.paths import Explainer, PathFinder, control_paths, cut_short
from corpgraph.graph.analytics.results import Holding, LiabilityChain, Party, Role, Subgraph
from corpgraph.graph.projection.build import AsOfView
from corpgraph.graph.stores.base import StoreReader

R = RelationType
_LIABLE = ("integrated", "unknown", "integrated_max", "controls", "may_control")  # the Holding fields _liable reads
_HOLDING_FIELDS = tuple(f.name for f in fields(Holding))
_PARTY_FIELDS = tuple(f.name for f in fields(Party))  # Party's fields in order: _parties maps it over its columns


def liability_chain(store: StoreReader, view: AsOfView, incident: int, as_of: date, max_depth: int = 6,
                    min_share: float = 0.0, min_hop_share: float = 0.0, top_k: int = 3,
                    max_owners: int | None = None, bounds: bool = True, paths: bool = True) -> LiabilityChain:
    """Everyone liable for the incident at as_of, with weights, explaining paths and the subgraph.

    bounds=False skips the solves at the minimums and maximums (weight_min/max = weight, may_control = controls).
    paths=False finds no path and builds no subgraph (every party's paths empty, graph empty): the weights
    and flags are the same, for answers that do not show paths.
    """
    proj, explainer = view.projection, Explainer(store, view)
    # parties: every party in order; shown: those whose routes are read (all with paths; else only the responsible
    # ones, for their detail), so that without paths no pair is made per owner (hundreds in a large chain)
    parties: list[Party] = []
    shown: list[tuple[Party, list[list[int]]]] = []

    def add(found: list[tuple[Party, list[list[int]]]]) -> None:
        """Parties of any role but RESPONSIBLE, with their routes (kept only with paths)."""
        parties.extend(party for party, _ in found)
        if paths:
            shown.extend(found)

    owners_total = 0
    for company, edges in _responsible(view, incident).items():
        responsible = _responsible_party(view, company)
        parties.append(responsible)
        shown.append((responsible, [[e] for e in edges]))
        owners, owner_routes, total = _owners(view, company, edges[0], max_depth, min_share, min_hop_share, top_k,
                                              max_owners, bounds, paths)
        parties.extend(owners)
        if owner_routes is not None:
            shown.extend(zip(owners, owner_routes))
        owners_total += total
        add(_recipients(view, company, incident))
    attributions: list[int] = []
    for actor, edges in _grouped(view.edges(R.PERPETRATED, incident, outgoing=False), proj.src).items():
        attributed = _attributions(view, actor)
        attributions.extend(attributed)
        named = dict.fromkeys(int(proj.dst[e]) for e in attributed if proj.dst[e] != actor)  # a loop back: not itself
        add([(_certain(proj.ids[actor], Role.PERPETRATOR, attributed_to=tuple(proj.ids.ids(list(named)))),
              [[e] for e in edges])])
    explainer.read([*(e for _, routes in shown for p in routes for e in p), *(attributions if paths else [])])
    for party, routes in shown:  # without paths only the responsible parties are here (their detail)
        if paths:
            party.paths = [explainer.path(p) for p in routes]
        if party.role is Role.RESPONSIBLE:
            party.detail = ", ".join(sorted({_role(explainer, p[0]) or "" for p in routes}))
    graph = explainer.subgraph([proj.ids[incident], *(p.entity for p in parties)]) if paths else Subgraph()
    return LiabilityChain(proj.ids[incident], as_of, parties, graph, owners_total)


def _owners(view: AsOfView, company: int, responsible_edge: int, max_depth: int, min_share: float,
            min_hop_share: float, top_k: int, max_owners: int | None, bounds: bool, paths: bool
            ) -> tuple[list[Party], list[list[list[int]]] | None, int]:
    """The strongest OWNER parties of one responsible company, their paths (None when not asked for), and how many
    qualified.

    The parties are made straight from the owners' columns (ownership.Candidates.columns), with no Holding per
    owner, in the rank of owners() (largest integrated first, then id). One PathFinder per company: a single
    search up from it guides the path search of every owner.
    """
    candidates = ownership.owner_candidates(view, company, min_share, bounds)
    parties = ownership.placed(_parties(candidates.columns()), _parties(_columns_of(candidates.without_shares())),
                               _rank)
    chosen = parties[:max_owners]
    if not paths:
        return chosen, None, len(parties)
    # No time-budget check per owner: each path search checks it (PathFinder.paths), and the parties were made
    # under checks (holding_rows.made); a check per owner was a tenth of a chain of 800 owners.
    finder = PathFinder(view, company, max_depth, min_hop_share)
    routes = [[p + [responsible_edge] for p in _owner_paths(view, finder, party, company, top_k)] for party in chosen]
    return chosen, routes, len(parties)


def _parties(columns: dict[str, Any]) -> list[Party]:
    """OWNER parties made by map over the columns of owner rows (holding_rows.columns: per Holding field a list in
    rank order or a repeat), the owners that are no party (_liable) left out."""
    liable = list(map(_liable, *(columns[name] for name in _LIABLE)))
    if not all(liable):
        columns = {name: list(compress(c, liable)) if isinstance(c, list) else c for name, c in columns.items()}
    weight = columns["integrated"]
    low, high = _bounds(weight, columns["integrated_min"], columns["integrated_max"])
    n = len(weight)
    by_field = {"entity": columns["owner"], "role": repeat(Role.OWNER), "weight": weight,
                "controls": columns["controls"], "unknown": columns["unknown"], "detail": columns["company"],
                "paths": [[] for _ in range(n)], "over_allocated": columns["over_allocated"],
                "paths_cut_short": repeat(False), "weight_min": low, "weight_max": high,
                "estimate": columns["estimate"], "may_control": columns["may_control"],
                "interests": columns["interests"], "declared": columns["declared"], "controlling_parent": repeat(None),
                "weight_max_exact": columns["integrated_max_exact"], "attributed_to": repeat(())}
    return made(Party, [by_field[name] for name in _PARTY_FIELDS], n)


def _columns_of(holdings: list[Holding]) -> dict[str, Any]:
    """The columns of a few Holding rows (the owners with no share), as holding_rows.columns gives them."""
    return {name: [getattr(h, name) for h in holdings] for name in _HOLDING_FIELDS}


def _bounds(weight: list[float | None], low: list[float | None], high: list[float | None]
            ) -> tuple[list[float | None], list[float | None]]:
    """The parties' weight_min and weight_max: each row's bounds, or its weight where it has none (an exact weight
    is its own bounds)."""
    if low.count(None) == len(low) and high.count(None) == len(high):  # bounds not asked for: one test, not n
        return weight, weight
    pairs = [(w, w) if lo is None and hi is None else (lo, hi) for w, lo, hi in zip(weight, low, high)]
    return [lo for lo, _ in pairs], [hi for _, hi in pairs]


def _rank(party: Party) -> tuple[float, str]:
    """The rank of owners() (ownership._rank: largest integrated share first, then id) read from an OWNER party."""
    return -(party.weight or 0.0), party.entity


def _owner_paths(view: AsOfView, finder: PathFinder, party: Party, company: int, top_k: int) -> list[list[int]]:
    """An owner's top-k OWNS paths to the company (a controller holding no share: its CONTROLS chain); marks
    the party when max_depth cut them short."""
    owner = view.projection.index[party.entity]
    found = finder.paths(owner, top_k)
    # No weight and not unknown: a controller with no share (an owner whose stake is unknown is marked unknown)
    if not found and party.weight is None and party.controls and not party.unknown:
        return control_paths(view, owner, company, finder.max_depth)
    party.paths_cut_short = cut_short(len(found), finder.explained, None if party.unknown else party.weight, top_k)
    return found


def _liable(integrated: float | None, unknown: bool, integrated_max: float | None, controls: bool,
            may_control: bool) -> bool:
    """An owner is a party when it holds a share (or may: unknown, a range) or controls or may control the company.

    Holders of a CONTROLS interest that gives no control, and holders known only from a declaration,
    carry no weight: owners() lists them, the chain does not. (The arguments: the Holding fields _LIABLE.)
    """
    return bool(integrated or unknown or integrated_max or controls or may_control)


def _responsible_party(view: AsOfView, company: int) -> Party:
    """A RESPONSIBLE party with corpgraph's controlling parent beside any declared ultimate parent."""
    proj = view.projection
    parent = ownership.controlling_parent(view, company)
    declared = tuple(d for found in declarations(view, company, incoming=True).values() for d in found
                     if d.kind == ULTIMATE_PARENT)
    return _certain(proj.ids[company], Role.RESPONSIBLE, declared=declared,
                    controlling_parent=None if parent is None else proj.ids[parent])


def _recipients(view: AsOfView, company: int, incident: int) -> list[tuple[Party, list[list[int]]]]:
    """DATA_RECIPIENT parties: data supplied by the company for this incident or for none (one per recipient)."""
    proj = view.projection
    supplies = view.edges(R.SUPPLIED_DATA_TO, company, outgoing=True)
    about = proj.incident[supplies]
    supplies = supplies[(about == incident) | (about == -1)]  # two compares: np.isin cost ~20 us
    return [(_certain(proj.ids[recipient], Role.DATA_RECIPIENT, detail=proj.ids[company]), [[e] for e in edges])
            for recipient, edges in _grouped(supplies, proj.dst).items()]


def _certain(entity: str, role: Role, **others: Any) -> Party:
    """A party of weight 1 (RESPONSIBLE, DATA_RECIPIENT, PERPETRATOR), an exact weight: its own bounds."""
    return Party(entity, role, 1.0, weight_min=1.0, weight_max=1.0, **others)


def _attributions(view: AsOfView, actor: int) -> list[int]:
    """The ATTRIBUTED_TO edges from an actor and on from each actor it is attributed to (each node once)."""
    proj = view.projection
    seen, todo, out = {actor}, [actor], []
    while todo:
        for edge in view.edges(R.ATTRIBUTED_TO, todo.pop(), outgoing=True).tolist():
            out.append(edge)
            target = int(proj.dst[edge])
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return out


def _responsible(view: AsOfView, incident: int) -> dict[int, list[int]]:
    """RESPONSIBLE_FOR edges into the incident grouped by company: one party per company, whatever its roles."""
    return _grouped(view.edges(R.RESPONSIBLE_FOR, incident, outgoing=False), view.projection.src)


def _grouped(edges: np.ndarray, end: np.ndarray) -> dict[int, list[int]]:
    """Edges grouped by one of their ends (`end` = projection.src or .dst), in first-seen order."""
    out: dict[int, list[int]] = {}
    for edge in edges.tolist():
        out.setdefault(int(end[edge]), []).append(edge)
    return out


def _role(explainer: Explainer, edge: int) -> str | None:
    """The role written on a RESPONSIBLE_FOR relation."""
    stored = explainer.relations.get(explainer.view.projection.relation_ids[edge])
    return getattr(stored.record, "role", None) if stored else None
