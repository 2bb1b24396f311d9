"""Screening a portfolio: each counterparty matched to an entity, then its listings, its status under each
regime's ownership rule and its incident exposure in brief.

Matching is the resolver's (graph.identity.resolve.candidates.score_pair, the score and reasons `corpgraph resolve`
shows): the row's own id when it names a stored entity (score 1), else the entities found by its
identifiers and by its name (search), scored against the row; the best one at or above `min_score` is the
match. No match is an answer too. A row is a **hit** when its entity is listed or not NOT_BLOCKED under a regime.

Example: a row "Acme Holding" (DE) against a stored "Acme Holding AG" (DE): same name after normalisation
0.8 and same country 0.3 give 1 - 0.2 x 0.7 = 0.86.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from corpgraph.schema.counterparty import Counterparty
from corpgraph.schema.errors import NotFound
from corpgraph.schema.records import Company, Entity
from corpgraph.schema.regimes import RULED

from corpgraph.graph.analytics.results import Designation, SanctionsAnswer, SanctionsStatus
from corpgraph.graph.identity.normalize import strip_suffixes
from corpgraph.graph.identity.resolve.candidates import GROUPS, party, score_pair
from corpgraph.graph.service import CorpGraph

MIN_SCORE = 0.7  # a name alone (0.8) or an alias (0.75) matches; a transliteration alone (0.65) needs a country
_SEARCHED = 20  # entities read per name searched


@dataclass
class Match:
    """The entity a counterparty was matched to, with the score and the reasons for it."""

    entity: str
    name: str
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class Screened:
    """One screened counterparty: its match (None: no entity matched), listings, statuses and exposure."""

    line: int
    counterparty: Counterparty
    match: Match | None = None
    designations: list[Designation] = field(default_factory=list)
    statuses: list[SanctionsAnswer] = field(default_factory=list)
    incidents: int = 0  # incidents the entity is exposed to (graph.analytics.exposure), any channel
    exposure: dict[str, float] = field(default_factory=dict)  # their weighted impact totals

    @property
    def hit(self) -> bool:
        """Listed, or not NOT_BLOCKED under a regime."""
        return bool(self.designations) or any(s.status != SanctionsStatus.NOT_BLOCKED for s in self.statuses)


def screen(graph: CorpGraph, rows: Sequence[tuple[int, Counterparty]], as_of: date | None = None,
           regimes: Sequence[str] = RULED, min_score: float = MIN_SCORE) -> list[Screened]:
    """Screen every row (its line number and counterparty) at the date, under the regimes."""
    day = as_of or date.today()
    return [_screen_one(graph, line, row, day, regimes, min_score) for line, row in rows]


def match(graph: CorpGraph, row: Counterparty, min_score: float = MIN_SCORE) -> Match | None:
    """The best-scoring party for the row at or above min_score, or None."""
    if row.id:
        found = graph.entities([row.id]).get(row.id)
        if found is not None and found.type in GROUPS:  # type: ignore[attr-defined]
            return Match(found.id, found.name, 1.0, [f"the row's id {row.id}"])
    candidates = _candidates(graph, row)
    probe = party(Company(id="screened-row", name=row.name, country=row.country, identifiers=row.identifiers))
    scored = sorted((score_pair(probe, party(e)) for e in candidates.values()), key=lambda c: (-c.score, c.b))
    if not scored or scored[0].score < min_score:
        return None
    best = scored[0]
    return Match(best.b, candidates[best.b].name, best.score, best.reasons + [f"conflict: {c}" for c in best.conflicts])


def _candidates(graph: CorpGraph, row: Counterparty) -> dict[str, Entity]:
    """Parties found by the row's identifiers and names, by canonical id."""
    refs: set[str] = set()
    for identifier in row.identifiers:
        try:
            refs.add(graph.resolve(f"{identifier.scheme}:{identifier.id}"))
        except NotFound:
            continue
    for text in dict.fromkeys((row.name, strip_suffixes(row.name))):
        if text.strip():
            refs.update(e.id for e in graph.search(text, None, _SEARCHED))
    found = graph.entities(sorted(refs))
    return {e.id: e for e in found.values() if e.type in GROUPS}  # type: ignore[attr-defined]


def _screen_one(graph: CorpGraph, line: int, row: Counterparty, day: date, regimes: Sequence[str],
                min_score: float) -> Screened:
    """One row screened."""
    out = Screened(line, row, match(graph, row, min_score))
    if out.match is None:
        return out
    id = out.match.entity
    out.designations = graph.designations(id, day)
    out.statuses = [graph.sanctions_status(id, regime, day) for regime in regimes]
    exposure = graph.exposure(id, day, bounds=False)
    out.incidents, out.exposure = len({item.incident for item in exposure.items}), dict(exposure.totals)
    return out
