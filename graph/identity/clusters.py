"""One entity per identifier: clusters of ids that are the same entity, their canonical id and referents.

nomenklatura's resolver is the model. The store keeps every source's records as they came; identity is
computed here, from two things the stores keep (graph.stores.base):

- identifier links: entities of the same type carrying the same normalised identifier (graph.identity.identifiers);
- users' decisions (judgements): `same` joins two ids, `different` keeps them apart for good.

Clusters are the connected components of the links and the `same` decisions, minus the `different` ones.
A `different` decision always wins: when a link or a `same` decision would put two ids kept apart into one
cluster, that link is not followed and is reported in `IdentityMap.conflicts` (say what links them and
which decision keeps them apart). Links are followed in a fixed order (`same` decisions by pair, then
identifier keys in key order), so the clusters never depend on the order the sources were loaded in.

The canonical id of a cluster is a rule on the ids alone: ids without a `prefix:` (chosen by a person
in a native file, like `lakala`) before imported ones (`lei:...`, `bods:...`), then the smallest in
code-point order. The other ids of the cluster are its referents.

Example: `lei:5493...` (GLEIF) and `bods:gb-coh-03209885` (BODS) both carry LEI 5493...; they are one
cluster, canonical `bods:gb-coh-03209885` ("bods:" < "lei:"), referents `["lei:5493..."]`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from corpgraph.schema.errors import CorpgraphError, NotFound
from corpgraph.schema.kinds import EntityType

from corpgraph.graph.identity.identifiers import parse_identifier_ref
from corpgraph.graph.stores.base import GraphStore, Judgement, Verdict


class IdentityError(CorpgraphError):
    """A reference or decision identity cannot honour: an identifier carried by entities kept apart,
    a merge of entities of different types."""


@dataclass(frozen=True)
class IdentityConflict:
    """A link identity did not follow: what would have joined a and b, and why they stay apart."""

    a: str
    b: str
    link: str  # "LEI:5493..." for a shared identifier, "decision by alice" for a `same` decision
    reason: str


@dataclass
class IdentityMap:
    """Which ids are one entity: canonical id and referents of every merged cluster (built by `build_identity`)."""

    revision: int
    mapping: dict[str, str] = field(default_factory=dict)  # referent -> canonical (referents only)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)  # canonical -> its ids, canonical first
    conflicts: list[IdentityConflict] = field(default_factory=list)

    def canonical(self, id: str) -> str:
        """The canonical id of the entity `id` names (itself when it was merged with nothing)."""
        return self.mapping.get(id, id)

    def referents(self, id: str) -> list[str]:
        """The other ids of the entity `id` names (sorted; empty when it was merged with nothing)."""
        return list(self.members.get(self.canonical(id), (id,))[1:])

    def ids(self, id: str) -> tuple[str, ...]:
        """Every id of the entity `id` names, canonical first."""
        return self.members.get(self.canonical(id), (id,))

    def __bool__(self) -> bool:
        """True when at least two ids were merged (an empty map changes nothing downstream)."""
        return bool(self.mapping)


def canonical_key(id: str) -> tuple[bool, str]:
    """Sort key of the canonical-id rule: ids without a `prefix:` first, then code-point order."""
    return (":" in id, id)


def build_identity(store: GraphStore, revision: int | None = None) -> IdentityMap:
    """The identity clusters of the store's shared identifiers and decisions (cheap when nothing is shared)."""
    revision = store.revision() if revision is None else revision
    shared = list(store.shared_identifiers())
    judgements = store.judgements()
    if not shared and not any(j.verdict == Verdict.SAME for j in judgements):
        return IdentityMap(revision)
    ids = {i for _, group in shared for i in group} | {x for j in judgements for x in (j.a, j.b)}
    types = store.entity_types(ids)
    links, conflicts = _links(shared, judgements, types)
    splits = {(j.a, j.b) for j in judgements if j.verdict == Verdict.DIFFERENT and j.a in types and j.b in types}
    clusters, more = _clusters(links, splits)
    return _identity_map(revision, clusters, conflicts + more)


def resolve_ref(store: GraphStore, identity: IdentityMap, ref: str) -> str:
    """The canonical id of an entity id or of a `SCHEME:ID` reference to one of its identifiers."""
    if store.entity_types([ref]):
        return identity.canonical(ref)
    key = parse_identifier_ref(ref)
    found = sorted({identity.canonical(i) for i in store.ids_with_identifier(key)}) if key else []
    if len(found) > 1:
        raise IdentityError(f"{ref} is carried by entities kept apart by a decision ({', '.join(found)}); "
                            "ask for one of them by id")
    if not found:
        also = f" nor with the identifier {key}" if key else ""
        raise NotFound(f"no entity with id {ref!r}{also}; search for the entity to find its id")
    return found[0]


def decide(store: GraphStore, identity: IdentityMap, a: str, b: str, verdict: Verdict | str, by: str) -> Judgement:
    """Record a user's decision about two entities (ids, or `SCHEME:ID` read as the canonical id), checked."""
    ids = [ref if store.entity_types([ref]) else resolve_ref(store, identity, ref) for ref in (a, b)]
    if ids[0] == ids[1]:
        raise IdentityError(f"{a} and {b} both name {ids[0]}; a decision needs two ids (to split records merged "
                            "by an identifier, give their own ids: the entity's `referents`)")
    types = store.entity_types(ids)
    if Verdict(verdict) == Verdict.SAME and types[ids[0]] != types[ids[1]]:
        raise IdentityError(_types_differ(ids[0], types[ids[0]], ids[1], types[ids[1]]))
    return store.add_judgement(ids[0], ids[1], verdict, by)


# A link: (a, b, what links them); `same` decisions first, then identifier keys, each in sorted order.
Link = tuple[str, str, str]


def _links(shared: list[tuple[str, list[str]]], judgements: list[Judgement],
           types: dict[str, EntityType]) -> tuple[list[Link], list[IdentityConflict]]:
    """The links to follow, in priority order, and those refused because their ends differ in type."""
    links: list[Link] = []
    conflicts: list[IdentityConflict] = []
    for j in judgements:
        ta, tb = types.get(j.a), types.get(j.b)
        if j.verdict != Verdict.SAME or ta is None or tb is None:
            continue  # a decision about an id not loaded (yet) applies once the entity is there
        link = f"decision by {j.by} at {j.at}"
        if ta != tb:
            conflicts.append(IdentityConflict(j.a, j.b, link, _types_differ(j.a, ta, j.b, tb)))
        else:
            links.append((j.a, j.b, link))
    for key, group in shared:
        by_type: dict[EntityType, list[str]] = defaultdict(list)
        for member in group:
            if member in types:
                by_type[types[member]].append(member)
        firsts = [(kind, members[0]) for kind, members in by_type.items()]
        for members in by_type.values():  # a star on each type's first id connects the group
            links.extend((members[0], other, key) for other in members[1:])
        for (ka, a), (kb, b) in zip(firsts, firsts[1:]):
            conflicts.append(IdentityConflict(a, b, key, _types_differ(a, ka, b, kb)))
    return links, conflicts


def _types_differ(a: str, ta: EntityType, b: str, tb: EntityType) -> str:
    """Why two ids of different types are not merged."""
    return f"{a} is of type {ta.value} and {b} of type {tb.value}: entities of different types are never merged"


def _clusters(links: list[Link], splits: set[tuple[str, str]]) -> tuple[list[list[str]], list[IdentityConflict]]:
    """Connected components of the links (vectorised); those holding a split pair are rebuilt link by link."""
    if not links:
        return [], []
    index: dict[str, int] = {}
    ends = np.array([(index.setdefault(a, len(index)), index.setdefault(b, len(index))) for a, b, _ in links])
    n = len(index)
    graph = sp.coo_matrix((np.ones(len(ends)), (ends[:, 0], ends[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    names = list(index)
    groups: dict[int, list[str]] = defaultdict(list)
    for name, label in zip(names, labels.tolist()):
        groups[label].append(name)
    torn = {int(labels[index[a]]) for a, b in splits if a in index and b in index and labels[index[a]] == labels[index[b]]}
    clusters = [g for label, g in groups.items() if label not in torn]
    conflicts: list[IdentityConflict] = []
    if torn:
        inside = [link for link in links if int(labels[index[link[0]]]) in torn]
        rebuilt, conflicts = _greedy(inside, splits)
        clusters.extend(rebuilt)
    return clusters, conflicts


def _greedy(links: list[Link], splits: set[tuple[str, str]]) -> tuple[list[list[str]], list[IdentityConflict]]:
    """Union the links in priority order, refusing (and reporting) each one that would join a split pair."""
    apart: dict[str, set[str]] = defaultdict(set)
    for a, b in splits:
        apart[a].add(b)
        apart[b].add(a)
    cluster: dict[str, set[str]] = {}
    conflicts: list[IdentityConflict] = []
    for a, b, link in links:
        ca, cb = cluster.setdefault(a, {a}), cluster.setdefault(b, {b})
        if ca is cb:
            continue
        kept = next(((x, y) for x in sorted(ca) for y in sorted(apart[x] & cb)), None)
        if kept is not None:
            x, y = sorted(kept)
            conflicts.append(IdentityConflict(a, b, link, f"a split decision keeps {x} and {y} apart"))
            continue
        ca |= cb
        for member in cb:
            cluster[member] = ca
    unique = {id(c): c for c in cluster.values()}
    return [sorted(c) for c in unique.values() if len(c) > 1], conflicts


def _identity_map(revision: int, clusters: Iterable[list[str]], conflicts: list[IdentityConflict]) -> IdentityMap:
    """The map of the clusters: canonical by `canonical_key`, referents sorted after it."""
    out = IdentityMap(revision, conflicts=sorted(conflicts, key=lambda c: (c.a, c.b, c.link)))
    for members in clusters:
        ordered = sorted(members, key=canonical_key)
        canonical, referents = ordered[0], sorted(ordered[1:])
        out.members[canonical] = (canonical, *referents)
        out.mapping.update((r, canonical) for r in referents)
    return out
