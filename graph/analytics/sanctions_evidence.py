"""One entity's sanctions status with its evidence: designations, contributing holders, paths to a designation.

The status comes from graph.analytics.sanctions (the whole graph's fixed point, computed once per date and
regime); this module reads only the entity's own holders and, for each listed or blocked one, one path up
through blocked holders to a listed party, whose designation opens the path. Every hop carries its sources.

Example: listed X holds 50% of A, A holds 50% of B. sanctions_status(B, OFAC) is BLOCKED_BY_OWNERSHIP with
aggregate 0.5 and one contributor, A (BLOCKED_BY_OWNERSHIP, share 0.5), whose path is
[Sanction X, OWNS X->A, OWNS A->B].
"""
from __future__ import annotations

from collections import deque
from datetime import date

import numpy as np

from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Sanction

from corpgraph.graph.analytics.paths import Explainer
from corpgraph.graph.analytics.results import Contributor, Designation, SanctionsAnswer, SanctionsStatus
from corpgraph.graph.analytics.sanctions import Frozen, Outcome, controlling_interests, designation_edges, outcome
from corpgraph.graph.projection.build import AsOfView
from corpgraph.graph.stores.base import StoreReader

S = SanctionsStatus
R = RelationType
_MAX_VISITED = 10_000  # nodes a path search walks through before it gives up on that contributor's path


def sanctions_status(reader: StoreReader, view: AsOfView, node: int | None, entity: str, regime: str,
                     day: date) -> SanctionsAnswer:
    """The entity's status under the regime at the view's date, its aggregate share, contributors and notes."""
    found = outcome(view, regime)
    code = found.rule.regime
    if node is None:  # an entity with no designation, stake or interest at all
        return SanctionsAnswer(entity, code, day, S.NOT_BLOCKED, 0.0, 0.0, 0.0)
    explainer = Explainer(reader, view)
    listings = designation_edges(view, np.array([node]), code)
    contributors = _contributors(found, view, node)
    chains = {c: _chain(found.high, view, c, code) + [edge] for c, edge, _ in contributors}
    explainer.read([e for chain in chains.values() for e in chain] + listings.tolist())
    answer = SanctionsAnswer(entity, code, day, found.status(node), float(found.point.aggregate[node]),
                             float(found.low.aggregate[node]), float(found.high.aggregate[node]))
    answer.designations = _read_designations(explainer, listings)
    answer.contributors = [_contributor(found, view, explainer, c, edge, via, chains[c])
                           for c, edge, via in contributors]
    answer.notes = _notes(found, view, node, answer)
    return answer


def designations_of(reader: StoreReader, view: AsOfView, node: int | None, regime: str | None) -> list[Designation]:
    """The entity's designations in force at the view's date, of one regime (None: of every regime)."""
    if node is None:
        return []
    explainer = Explainer(reader, view)
    edges = designation_edges(view, np.array([node]), regime)
    explainer.read(edges.tolist())
    return _read_designations(explainer, edges)


def _read_designations(explainer: Explainer, edges: np.ndarray) -> list[Designation]:
    """The designations of already-read Sanction edges."""
    return [d for d in (designation(explainer, int(e)) for e in edges) if d is not None]


def designation(explainer: Explainer, edge: int) -> Designation | None:
    """The designation of a Sanction edge, as stored (None when the store no longer has it)."""
    rel_id = explainer.view.projection.relation_ids[edge]
    stored = explainer.relations.get(rel_id)
    if stored is None or not isinstance(stored.record, Sanction):
        return None
    record = stored.record
    return Designation(explainer.view.projection.ids[int(explainer.view.projection.src[edge])], record.regime,
                       record.authority, record.program, record.valid_from, record.valid_to, rel_id,
                       list(record.sources))


def _contributors(found: Outcome, view: AsOfView, node: int) -> list[tuple[int, int, R]]:
    """(holder, edge, via) of every holder that is listed or blocked at the maximums: its stake or interest."""
    out: list[tuple[int, int, R]] = []
    owners, edges = view.up.of(node)
    for owner, edge in zip(owners.tolist(), edges.tolist()):
        if found.high.frozen[owner]:
            out.append((owner, edge, R.OWNS))
    links = found.high.links
    if links is not None:
        for edge in view.edges(R.CONTROLS, node, outgoing=False).tolist():
            holder = int(view.projection.src[edge])
            if found.high.frozen[holder] and links[holder, node] > 0:
                out.append((holder, edge, R.CONTROLS))
    return out


def _contributor(found: Outcome, view: AsOfView, explainer: Explainer, holder: int, edge: int, via: R,
                 chain: list[int]) -> Contributor:
    """One contributing holder with its share (bounds too) and its path from a designation."""
    node = int(view.projection.dst[edge])
    out = Contributor(view.projection.ids[holder], found.status(holder), via, paths=[explainer.path(chain)])
    if via == R.OWNS:
        out.share, out.share_min, out.share_max = (float(bound.W[holder, node])
                                                   for bound in (found.point, found.low, found.high))
    return out


def _chain(frozen: Frozen, view: AsOfView, start: int, regime: str) -> list[int]:
    """Edges from a designation down to `start` through frozen holders (breadth first: the fewest hops)."""
    proj = view.projection
    parent: dict[int, tuple[int, int]] = {start: (-1, -1)}
    queue = deque([start])
    while queue and len(parent) < _MAX_VISITED:
        node = queue.popleft()
        if frozen.listed[node]:
            listing = designation_edges(view, np.array([node]), regime)
            return [int(listing[0])] + _unwind(parent, node) if listing.size else _unwind(parent, node)
        owners, edges = view.up.of(node)
        steps = [(int(o), int(e)) for o, e in zip(owners.tolist(), edges.tolist())]
        if frozen.links is not None:
            steps += [(int(proj.src[e]), int(e)) for e in view.edges(R.CONTROLS, node, outgoing=False).tolist()
                      if frozen.links[int(proj.src[e]), node] > 0]
        for holder, edge in steps:
            if frozen.frozen[holder] and holder not in parent:
                parent[holder] = (node, edge)
                queue.append(holder)
    return []


def _unwind(parent: dict[int, tuple[int, int]], root: int) -> list[int]:
    """The edges from the listed `root` down to the search's start, in walking order (holder to held)."""
    below, edge = parent[root]
    edges: list[int] = []
    while edge >= 0:
        edges.append(edge)
        below, edge = parent[below]
    return edges


def _notes(found: Outcome, view: AsOfView, node: int, answer: SanctionsAnswer) -> list[str]:
    """What the answer rests on where the data gives bounds or the rule calls for judgement."""
    notes = []
    if answer.status == S.UNDETERMINED and found.high.frozen[node]:
        notes.append(f"the reported ranges leave the blocked holders' share between {answer.aggregate_share_min:.4g} "
                     f"and {answer.aggregate_share_max:.4g}, on both sides of the rule's threshold")
    if found.judgement(node):
        notes.append("designated persons' holdings pass 50% only together: OFSI aggregates them only where they "
                     "are held under a joint arrangement or one party controls another's rights (General Guidance "
                     "4.14), a matter of judgement")
    if not found.rule.control and answer.status == S.NOT_BLOCKED and _controlled_by_blocked(found, view, node):
        notes.append("a blocked party holds a controlling interest, but OFAC's 50 Percent Rule speaks only to "
                     "ownership (FAQ 398): not blocked by the rule; OFAC urges caution")
    if np.isin(node, view.unknown_dst):
        notes.append("an owner's share is unknown: it counts 0 at the minimum and what the other owners leave free "
                     "at the maximum")
    return notes


def _controlled_by_blocked(found: Outcome, view: AsOfView, node: int) -> bool:
    """Whether a blocked party holds an interest in the node that controls by itself (OFAC ignores it)."""
    links = controlling_interests(view, at_max=True)
    holders = [int(view.projection.src[e]) for e in view.edges(R.CONTROLS, node, outgoing=False).tolist()]
    return any(found.high.frozen[holder] and links[holder, node] > 0 for holder in holders)
