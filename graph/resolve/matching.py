"""Matching over a store: the open candidates, and the decisions users take on them.

Decisions are identity's (graph/identity.py, stored as judgements in both stores): `merge` records that
two entities are the same, `split` that they must never be merged. Nothing is merged on a score alone:
`accept_above` merges the candidates at or above a score the user chose, and never two entities whose
clusters would then hold two identifiers of one scheme or two countries (those are held back, with why).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from schema.kinds import EntityType
from schema.records import Entity

from graph.resolve.candidates import GROUPS, Candidate, CandidateSet, find_candidates, identifiers_by_scheme
from graph.service import CorpGraph
from graph.stores.base import GraphStore, Judgement, Verdict

PAGE = 10_000
_CACHE: WeakKeyDictionary[CorpGraph, tuple[int, CandidateSet]] = WeakKeyDictionary()
_LOCK = threading.Lock()


@dataclass
class Accepted:
    """What `accept_above` did: the pairs it merged and those it held back, each with why."""

    merged: list[Candidate] = field(default_factory=list)
    held: list[tuple[Candidate, str]] = field(default_factory=list)


def open_candidates(graph: CorpGraph, min_score: float = 0.0) -> CandidateSet:
    """Candidates between entities no decision has joined or kept apart, highest score first."""
    revision = graph.store.revision()
    with _LOCK:  # one computation per revision; concurrent callers wait for it rather than repeat it
        cached = _CACHE.get(graph)
        if cached is None or cached[0] != revision:
            cached = (revision, _compute(graph))
            _CACHE[graph] = cached
    found = cached[1]
    return CandidateSet([c for c in found.candidates if c.score >= min_score], found.skipped_blocks)


def merge(graph: CorpGraph, a: str, b: str, by: str) -> Judgement:
    """Record that a and b are the same entity (identity checks both exist and share a type)."""
    return graph.decide(a, b, Verdict.SAME, by)


def split(graph: CorpGraph, a: str, b: str, by: str) -> Judgement:
    """Record that a and b must never be merged (wins over identifiers and earlier merges)."""
    return graph.decide(a, b, Verdict.DIFFERENT, by)


def accept_above(graph: CorpGraph, threshold: float, by: str) -> Accepted:
    """Merge every candidate scoring at least `threshold` unless the merge would join conflicting facts."""
    done = Accepted()
    for candidate in open_candidates(graph, threshold).candidates:
        why = candidate.conflicts[0] if candidate.conflicts else _cluster_conflict(graph, candidate)
        if why:
            done.held.append((candidate, why))
            continue
        merge(graph, candidate.a, candidate.b, by)
        done.merged.append(candidate)
    return done


def stored_entities(store: GraphStore) -> Iterator[Entity]:
    """Every entity of the types that are matched, a page at a time."""
    for kind in GROUPS:
        after: str | None = None
        while True:
            page = store.list_entities(EntityType(kind), after, PAGE)
            yield from page
            if len(page) < PAGE:
                break
            after = page[-1].id


def _compute(graph: CorpGraph) -> CandidateSet:
    """Candidates of the whole store, with identity's clusters and the `different` decisions applied."""
    identity = graph.identity()
    apart = {frozenset((identity.canonical(j.a), identity.canonical(j.b)))
             for j in graph.store.judgements() if j.verdict == Verdict.DIFFERENT}
    return find_candidates(stored_entities(graph.store), canonical=identity.canonical,
                           different=lambda x, y: frozenset((identity.canonical(x), identity.canonical(y))) in apart)


def _cluster_conflict(graph: CorpGraph, candidate: Candidate) -> str | None:
    """Why merging the two clusters would join two countries or two identifiers of one scheme (None: it would not).

    Checked on the clusters as they are now, so a merge earlier in the same run is taken into account.
    """
    identity = graph.identity()
    members = [*identity.ids(candidate.a), *identity.ids(candidate.b)]
    records = graph.store.get_entities(members).values()
    countries = sorted({c for r in records if (c := getattr(r, "country", None))})
    if len(countries) > 1:
        return f"different countries: {' vs '.join(countries)}"
    schemes = identifiers_by_scheme(records)
    clash = sorted(s for s, ids in schemes.items() if len(ids) > 1)
    return f"different identifiers of scheme {clash[0]}: {' vs '.join(sorted(schemes[clash[0]]))}" if clash else None
