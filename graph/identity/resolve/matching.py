"""Matching over a store: the open candidates, and the decisions users take on them.

Decisions are identity's (graph/identity/clusters.py, stored as judgements in both stores): `merge` records that
two entities are the same, `split` that they must never be merged. Nothing is merged on a score alone:
`accept_above` merges the candidates at or above a score the user chose, and never two entities whose
clusters would then hold two identifiers of one scheme or two countries (those are held back, with why).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from corpgraph.schema.kinds import EntityType
from corpgraph.schema.records import Entity

from corpgraph.graph.identity.clusters import IdentityMap
from corpgraph.graph.identity.resolve.candidates import (GROUPS, Candidate, CandidateSet, country_of, find_candidates,
                                                       identifiers_by_scheme)
from corpgraph.graph.stores.base import GraphStore, Verdict

PAGE = 10_000


@dataclass
class Accepted:
    """What `accept_above` did: the pairs it merged and those it held back, each with why."""

    merged: list[Candidate] = field(default_factory=list)
    held: list[tuple[Candidate, str]] = field(default_factory=list)


def accept_above(candidates: CandidateSet, store: GraphStore, identity: Callable[[], IdentityMap],
                 merge: Callable[[str, str], object]) -> Accepted:
    """Merge each candidate (already at or above the user's score) unless the merge would join conflicting facts.

    `identity` is asked again before each candidate, so a merge earlier in the same run is taken into account.
    """
    done = Accepted()
    for candidate in candidates.candidates:
        why = candidate.conflicts[0] if candidate.conflicts else cluster_conflict(store, identity(), candidate)
        if why:
            done.held.append((candidate, why))
            continue
        merge(candidate.a, candidate.b)
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


def compute_candidates(store: GraphStore, identity: IdentityMap) -> CandidateSet:
    """Candidates of the whole store, with identity's clusters and the `different` decisions applied."""
    apart = {frozenset((identity.canonical(j.a), identity.canonical(j.b)))
             for j in store.judgements() if j.verdict == Verdict.DIFFERENT}
    return find_candidates(stored_entities(store), canonical=identity.canonical,
                           different=lambda x, y: frozenset((identity.canonical(x), identity.canonical(y))) in apart)


def cluster_conflict(store: GraphStore, identity: IdentityMap, candidate: Candidate) -> str | None:
    """Why merging the two clusters would join two countries or two identifiers of one scheme (None: it would not).

    Checked on the clusters as they are now, so a merge earlier in the same run is taken into account.
    """
    members = [*identity.ids(candidate.a), *identity.ids(candidate.b)]
    records = store.get_entities(members).values()
    countries = sorted({c for r in records if (c := country_of(r))})
    if len(countries) > 1:
        return f"different countries: {' vs '.join(countries)}"
    schemes = identifiers_by_scheme(records)
    clash = sorted(s for s, ids in schemes.items() if len(ids) > 1)
    return f"different identifiers of scheme {clash[0]}: {' vs '.join(sorted(schemes[clash[0]]))}" if clash else None
