"""Sanctions by ownership: who each regime's rule blocks at one date, over the whole graph at once.

A designation (a Sanction relation valid at the date, its regime in the projection's `kind` column) lists
an entity. The rules, pinned in docs/sanctions.md with the regulators' guidance they follow:
- **OFAC** (50 Percent Rule, 2014 guidance, FAQs 398-402): an entity is blocked when the direct shares held
  in it by blocked persons add up to 50% or more. Blocked persons are the listed ones and those this rule
  blocks, so the rule is a least fixed point over the whole graph, loops included: a blocked intermediate's
  stake counts whole, a non-blocked intermediate's holdings do not count at all. Control alone never blocks.
- **EU** (Commission FAQ on Regulation 269/2014, aggregate ownership; Council Best Practices): frozen when the
  frozen holders' direct shares add up to more than 50% (aggregated), or when a frozen party holds an interest
  that controls by itself (board appointment, a majority of the votes, consolidation: graph.projection.control).
- **UK** (OFSI General Guidance 4.14): owned or controlled by one designated person, directly or through the
  companies that person owns or controls: the control rule (graph.projection.control) from each listed
  person. Holdings of different designated persons are not aggregated; where only their aggregate passes
  50%, the answer is UNDETERMINED (a joint arrangement is a matter of judgement).

Ranges: the rule is run with every share at its minimum and at its maximum (AsOfView.lower/upper); an entity
blocked at the maximums only is UNDETERMINED.

Example (OFAC FAQ 401, example 3): listed X holds 50% of A and 10% of B, A holds 40% of B. A is blocked
(50%), so B's blocked holders hold 10% + 40% = 50%: B is blocked.
"""
from __future__ import annotations

import bisect
import threading
import weakref
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from corpgraph.schema.errors import UnknownRegime
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.regimes import RULED, normal_regime

from corpgraph.graph.projection.control import CONTROL, closure, control_links, votes
from corpgraph.graph.analytics.results import Sanctioned, SanctionedPage, SanctionsStatus
from corpgraph.graph.cursors import decode_cursor, encode_cursor
from corpgraph.graph.projection.nodeids import NodeIds
from corpgraph.graph.precision import TOLERANCE
from corpgraph.graph.projection.build import AsOfView, csr_slots

S = SanctionsStatus
THRESHOLD = CONTROL  # 50%: OFAC blocks at 50% or more, the EU and the UK at more than 50%


@dataclass(frozen=True)
class Rule:
    """How one regime turns listings into blocked entities (see the module docstring)."""

    regime: str
    inclusive: bool  # the threshold itself blocks (OFAC's "50 percent or more")
    control: bool  # controlling interests (CONTROLS) block too
    per_person: bool  # each designated person's holdings apart (UK), not the aggregate of all blocked holders


RULES: dict[str, Rule] = {
    "OFAC": Rule("OFAC", inclusive=True, control=False, per_person=False),
    "EU": Rule("EU", inclusive=False, control=True, per_person=False),
    "UK": Rule("UK", inclusive=False, control=True, per_person=True),
}
if tuple(RULES) != RULED:  # pragma: no cover - schema.regimes names the regimes this module rules
    raise ImportError("corpgraph.graph.analytics.sanctions.RULES and schema.regimes.RULED differ")


@dataclass(frozen=True)
class Frozen:
    """Who one rule blocks with the shares at one bound: per node, as boolean or float arrays."""

    listed: np.ndarray
    frozen: np.ndarray  # listed, or blocked by the rule
    owned: np.ndarray  # listed, or blocked with its blocked holders' shares past the threshold
    aggregate: np.ndarray  # the direct shares held in each node by frozen holders, summed
    W: sp.csr_matrix  # the shares this bound counts
    links: sp.csr_matrix | None  # the controlling interests it counts (None: the rule ignores control)


@dataclass(frozen=True)
class Outcome:
    """A rule's answer at one date: at the point values of the shares, at their minimums and at their maximums."""

    rule: Rule
    point: Frozen
    low: Frozen
    high: Frozen
    ids: NodeIds

    @cached_property
    def ordered(self) -> tuple[list[str], np.ndarray]:
        """The candidates' ids in code-point order with their nodes (sorted once, for every page)."""
        nodes = self.candidates()
        names = self.ids.ids(nodes.tolist())
        order = sorted(range(len(names)), key=names.__getitem__)
        return [names[i] for i in order], nodes[np.array(order, dtype=np.int64)] if order else nodes

    def status(self, node: int) -> SanctionsStatus:
        """The node's status: LISTED, blocked at the minimums, UNDETERMINED, or NOT_BLOCKED."""
        if self.low.listed[node]:
            return S.LISTED
        if self.low.frozen[node]:
            return S.BLOCKED_BY_OWNERSHIP if self.low.owned[node] else S.BLOCKED_BY_CONTROL
        if self.high.frozen[node] or self.judgement(node):
            return S.UNDETERMINED
        return S.NOT_BLOCKED

    def judgement(self, node: int) -> bool:
        """UK: several designated persons' holdings pass 50% only together (judgement: a joint arrangement?)."""
        return self.rule.per_person and not self.high.frozen[node] and bool(
            _crosses(self.high.aggregate[node:node + 1], inclusive=False)[0])

    def candidates(self) -> np.ndarray:
        """Nodes blocked, or possibly blocked, without a listing of their own (sorted)."""
        maybe = self.high.frozen | (_crosses(self.high.aggregate, inclusive=False) if self.rule.per_person else False)
        return np.flatnonzero(maybe & ~self.low.listed)


def rule_of(regime: str) -> Rule:
    """The rule of a regime code (any case); UnknownRegime naming the regimes ruled for any other."""
    found = RULES.get(normal_regime(regime))
    if found is None:
        raise UnknownRegime(f"no ownership rule for regime {regime!r}: corpgraph computes {', '.join(RULED)} "
                         "(docs/sanctions.md); other regimes' listings show on the entity's designations")
    return found


def outcome(view: AsOfView, regime: str) -> Outcome:
    """The rule's answer over the whole graph at the view's date (computed once per view and regime)."""
    rule = rule_of(regime)
    key = (id(view), rule.regime)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached[0]() is view:
            return cached[1]
    listed = listed_nodes(view, rule.regime)
    low, high = view.lower(), view.upper()
    found = Outcome(rule, _frozen(rule, listed, view.W, view, False), _frozen(rule, listed, low.W, view, False),
                    _frozen(rule, listed, high.W, view, True), view.projection.ids)
    with _LOCK:
        _CACHE[key] = (weakref.ref(view), found)
        for stale in [k for k, (ref, _) in _CACHE.items() if ref() is None]:
            del _CACHE[stale]
    return found


def listed_nodes(view: AsOfView, regime: str) -> np.ndarray:
    """Per node: listed under the regime by a designation valid at the view's date."""
    proj = view.projection
    listed = np.zeros(proj.size, dtype=bool)
    edges = designation_edges(view, np.arange(proj.size), regime)
    listed[proj.src[edges]] = True
    return listed


def designation_edges(view: AsOfView, nodes: np.ndarray, regime: str | None) -> np.ndarray:
    """The Sanction edges of the nodes valid at the view's date, of one regime (None: of any)."""
    proj = view.projection
    edges = view.edges_of_many(RelationType.SANCTION, nodes, outgoing=True)
    if regime is None or edges.size == 0:
        return edges
    if regime not in proj.kinds:
        return edges[:0]
    picked: np.ndarray = edges[proj.kind[edges] == proj.kinds.index(regime)]
    return picked


def sanctioned(view: AsOfView, regime: str, first: int, after: str | None = None) -> SanctionedPage:
    """Every entity the rule blocks, or may block, without a listing of its own, in id order, a page at a time."""
    found = outcome(view, regime)
    names, nodes = found.ordered
    start = 0 if after is None else bisect.bisect_right(names, decode_cursor(after, "pass the cursor of the last "
                                                                                    "entity received"))
    items = [_sanctioned(found, int(nodes[at]), names[at]) for at in range(start, min(start + first, len(names)))]
    return SanctionedPage(items, len(names), start + first < len(names))


def _sanctioned(found: Outcome, node: int, name: str) -> Sanctioned:
    """One item of the whole-graph answer."""
    return Sanctioned(name, found.status(node), float(found.point.aggregate[node]), float(found.low.aggregate[node]),
                      float(found.high.aggregate[node]), encode_cursor(name))


def controlling_interests(view: AsOfView, at_max: bool) -> sp.csr_matrix:
    """K[X, Y] = 1 when X holds an interest in Y that controls by itself: board appointment, consolidation
    (graph.projection.control.control_links) or more than half of Y's votes, at the votes' minimums or maximums."""
    majority = votes(view, at_max).tocsr()
    majority.data = (majority.data > CONTROL + TOLERANCE).astype(np.float64)
    links = (control_links(view, at_max) + majority).tocsr()
    links.eliminate_zeros()
    links.data[:] = 1.0
    return links


def _frozen(rule: Rule, listed: np.ndarray, W: sp.csr_matrix, view: AsOfView, at_max: bool) -> Frozen:
    """Run one rule with one bound of the shares. A blocked entity counts as owned when its blocked holders'
    shares pass the threshold, as controlled when only a controlling interest blocks it."""
    links = controlling_interests(view, at_max) if rule.control else None
    if rule.per_person:  # the control rule from each designated person: its shares and votes with its companies'
        frozen = listed.copy()
        interests = links if links is not None else sp.csr_matrix(W.shape)
        frozen[closure(W, interests, votes(view, at_max), np.flatnonzero(listed)).indices] = True
    else:
        frozen = _aggregate_fixed_point(rule, listed, W, links)
    aggregate = np.asarray(W.T @ frozen.astype(np.float64)).ravel()
    owned = listed | (frozen & _crosses(aggregate, rule.inclusive))
    return Frozen(listed, frozen, owned, aggregate, W, links)


def _aggregate_fixed_point(rule: Rule, listed: np.ndarray, W: sp.csr_matrix,
                           links: sp.csr_matrix | None) -> np.ndarray:
    """The least fixed point of the aggregate rule (OFAC, EU), semi-naive: each frozen node's row is read once.

    A node's aggregate changes only when one of its holders becomes frozen, so only the companies held by the
    nodes frozen in the last round are checked in the next.
    """
    frozen = listed.copy()
    aggregate = np.zeros(W.shape[0])
    frontier = np.flatnonzero(listed)
    while frontier.size:
        slots = csr_slots(W.indptr, frontier)
        held = W.indices[slots]
        np.add.at(aggregate, held, W.data[slots])
        touched = np.unique(held)
        fresh = touched[_crosses(aggregate[touched], rule.inclusive) & ~frozen[touched]]
        if links is not None:
            controlled = np.unique(links.indices[csr_slots(links.indptr, frontier)])
            fresh = np.union1d(fresh, controlled[~frozen[controlled]])
        frozen[fresh] = True
        frontier = fresh
    return frozen


def _crosses(values: np.ndarray, inclusive: bool) -> np.ndarray:
    """Whether shares reach the threshold: 50% or more (inclusive), else more than 50%; with TOLERANCE's slack."""
    return values >= THRESHOLD - TOLERANCE if inclusive else values > THRESHOLD + TOLERANCE


_LOCK = threading.Lock()
_CACHE: dict[tuple[int, str], tuple[weakref.ref[AsOfView], Outcome]] = {}
