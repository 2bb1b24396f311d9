"""Candidate pairs of entities that may be the same, blocked on match keys and scored with their reasons.

Blocking: entities are grouped by match key (graph.identity.resolve.keys) and by identifier; only entities
sharing a group are compared, never all pairs. A group larger than MAX_BLOCK (a stem such as "china"
shared by thousands) is skipped and counted, never silently compared in full.

Score: each piece of evidence has a strength p and the score is 1 - prod(1 - p) (independent
evidence adds up, never past 1): shared identifier 0.9; identical names 0.85; same name after
normalisation 0.8; a known alias 0.75; a transliteration 0.65, of an alias 0.55 (only the strongest
name evidence counts); same address 0.4 (the same postal code in the same city, or the same whole text;
never evidence alone: a registered agent's address is shared by thousands); same country 0.3 (an entity
without a country is read with its first address's).
Conflicts lower the score and block `--accept-above`: identifiers of one scheme that differ (x0.2),
countries that differ (x0.5). A party that is not known is never an automatic merge: a placeholder (a
reference a file left open), an unknown or unspecified party (`unknown_reason`: BODS unknown persons and
exempt interested parties, GLEIF reporting exceptions) or an anonymous actor (`known: false`). Two
"unknown entity (interested-party-exempt-from-disclosure)" records share a name and nothing else; the pair
is still listed with its score, with the conflict "not a known party", so a human can merge it by name. Example: "Lakala Payment Co., Ltd." (CN) and Lakala (CN, alias
"Lakala Payment Co., Ltd."): alias 0.75 and country 0.3 give 1 - 0.25 x 0.7 = 0.825.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import combinations

from corpgraph.schema.records import Entity

from corpgraph.graph.identity.identifiers import entity_identifier_keys
from corpgraph.graph.identity.resolve.keys import NameKey, exact_key, name_keys
from corpgraph.graph import budget

MAX_BLOCK = 500
# Entities are compared with their own type only: identity never merges entities of different types.
GROUPS = {"Company": "Company", "Organization": "Organization", "Person": "Person", "Actor": "Actor"}
IDENTIFIER, SAME_NAME, IDENTICAL_NAME, ALIAS, TRANSLITERATION, COUNTRY = 0.9, 0.8, 0.85, 0.75, 0.65, 0.3
ADDRESS = 0.4
# Evidence that supports a match but never makes a candidate alone.
_SUPPORTING = ("same country", "same address")
# A transliterated alias is two inferences deep ("카오라", a short form of Kaola Credit, reads "kaola" like
# any other Kaola): weaker than either alone.
ALIAS_TRANSLITERATION = 0.55
ID_CONFLICT, COUNTRY_CONFLICT = 0.2, 0.5


@dataclass
class Candidate:
    """Two entities that may be the same: score 0..1, the reasons for it, and conflicts that forbid auto-merging."""

    a: str
    b: str
    score: float
    reasons: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass
class _Party:
    """What scoring reads of one entity."""

    entity: Entity
    keys: dict[str, NameKey]
    identifiers: dict[str, set[str]]  # scheme -> ids


@dataclass
class CandidateSet:
    """Candidates (highest score first) and the blocks skipped for being too large."""

    candidates: list[Candidate]
    skipped_blocks: list[tuple[str, int]]


def find_candidates(entities: Iterable[Entity], canonical: Callable[[str], str] = lambda x: x,
                    different: Callable[[str, str], bool] = lambda a, b: False,
                    max_block: int = MAX_BLOCK) -> CandidateSet:
    """Scored pairs of entities from different clusters (canonical ids) that no decision has kept apart."""
    parties: dict[str, _Party] = {}
    blocks: dict[tuple[str, str], list[str]] = defaultdict(list)
    for entity in entities:
        group = GROUPS.get(entity.type)  # type: ignore[attr-defined]
        if group is None:
            continue
        budget.check()  # keying a name (folding, transliteration) costs far more than the check
        party = _party(entity)
        parties[entity.id] = party
        for key in [*(f"n:{k}" for k in party.keys), *(f"i:{s}:{i}" for s, ids in party.identifiers.items() for i in ids)]:
            blocks[(group, key)].append(entity.id)
    best: dict[tuple[str, str], Candidate] = {}
    skipped: list[tuple[str, int]] = []
    seen: set[tuple[str, str]] = set()
    for (group, key), members in blocks.items():
        if len(members) < 2:
            continue
        if len({canonical(m) for m in members}) > max_block:
            skipped.append((key[2:], len(members)))
            continue
        budget.check()  # a block of up to max_block members: a few thousand pairs at most
        for x, y in combinations(sorted(members), 2):
            if (x, y) in seen:
                continue
            seen.add((x, y))
            cx, cy = sorted((canonical(x), canonical(y)))
            if cx == cy or different(x, y):
                continue
            found = score_pair(parties[x], parties[y])
            if found.score > 0 and ((cx, cy) not in best or found.score > best[(cx, cy)].score):
                best[(cx, cy)] = found
    ordered = sorted(best.values(), key=lambda c: (-c.score, c.a, c.b))
    return CandidateSet(ordered, sorted(skipped))


def score_pair(x: _Party, y: _Party) -> Candidate:
    """The score of two parties with its reasons and conflicts (see the module docstring)."""
    evidence: list[float] = []
    reasons: list[str] = []
    conflicts: list[str] = []
    _identifiers(x, y, evidence, reasons, conflicts)
    _names(x, y, evidence, reasons)
    _addresses(x.entity, y.entity, evidence, reasons)
    _countries(x.entity, y.entity, evidence, reasons, conflicts)
    if not any(r for r in reasons if not r.startswith(_SUPPORTING)):
        return Candidate(x.entity.id, y.entity.id, 0.0)
    missing = 1.0
    for p in evidence:
        missing *= 1 - p
    score = 1 - missing
    for conflict in conflicts:
        score *= ID_CONFLICT if conflict.startswith("different identifiers") else COUNTRY_CONFLICT
    # Not a conflict of facts (the score stays): a party that is not known is merged by a human only.
    conflicts.extend(f"not a known party: {e.id} is {why}"
                     for e in (x.entity, y.entity) if (why := not_known(e)))
    return Candidate(x.entity.id, y.entity.id, round(score, 3), reasons, conflicts)


def not_known(entity: Entity) -> str | None:
    """Why an entity is not a known party (a placeholder, an unknown or anonymous party), or None."""
    if entity.placeholder:
        return "a placeholder for a reference a file left open"
    if entity.unknown_reason:
        return f"an unknown party ({entity.unknown_reason})"
    if getattr(entity, "known", True) is False:
        return "an anonymous actor"
    return None


def party(entity: Entity) -> _Party:
    """The scoring view of one entity (public for tests and the benchmark)."""
    return _party(entity)


def identifiers_by_scheme(entities: Iterable[Entity]) -> dict[str, set[str]]:
    """The normalised identifiers of the entities (identity's keys, graph.identity.identifiers), grouped by scheme."""
    out: dict[str, set[str]] = defaultdict(set)
    for entity in entities:
        for key in entity_identifier_keys(entity):
            scheme, _, value = key.partition(":")
            out[scheme].add(value)
    return dict(out)


def _party(entity: Entity) -> _Party:
    """Keys by key text and identifiers by scheme of one entity."""
    return _Party(entity, {k.key: k for k in name_keys(entity)}, identifiers_by_scheme([entity]))


def _identifiers(x: _Party, y: _Party, evidence: list[float], reasons: list[str], conflicts: list[str]) -> None:
    """Shared identifiers are strong evidence; ids of one scheme that differ are a conflict."""
    for scheme in sorted(set(x.identifiers) & set(y.identifiers)):
        shared = x.identifiers[scheme] & y.identifiers[scheme]
        if shared:
            evidence.append(IDENTIFIER)
            reasons.append(f"shared identifier {scheme}:{min(shared)}")
        else:
            conflicts.append(f"different identifiers of scheme {scheme}: {min(x.identifiers[scheme])} "
                             f"vs {min(y.identifiers[scheme])}")


def _names(x: _Party, y: _Party, evidence: list[float], reasons: list[str]) -> None:
    """The strongest name evidence: identical or same normalised name, known alias, transliteration."""
    found: list[tuple[float, str]] = []
    for key in set(x.keys) & set(y.keys):
        kx, ky = x.keys[key], y.keys[key]
        if kx.transliterated or ky.transliterated:
            via = kx if kx.transliterated else ky
            other = ky if via is kx else kx
            strength = ALIAS_TRANSLITERATION if kx.alias or ky.alias else TRANSLITERATION
            found.append((strength, f'transliteration: "{via.name}" reads "{key}" like "{other.name}"'
                                    + (" (an alias)" if kx.alias or ky.alias else "")))
        elif kx.alias or ky.alias:
            alias, owner = (kx, x) if kx.alias else (ky, y)
            other = ky if alias is kx else kx
            found.append((ALIAS, f'known alias: "{alias.name}" is an alias of {owner.entity.id}, '
                                 f'matching "{other.name}"'))
        elif exact_key(kx.name) == exact_key(ky.name):
            found.append((IDENTICAL_NAME, f'identical names: "{kx.name}" and "{ky.name}"'))
        else:
            found.append((SAME_NAME, f'same name after normalisation: "{kx.name}" and "{ky.name}" (both "{key}")'))
    if found:
        strength, reason = max(found, key=lambda f: (f[0], f[1]))
        evidence.append(strength)
        reasons.append(reason)


def _addresses(x: Entity, y: Entity, evidence: list[float], reasons: list[str]) -> None:
    """A shared address (postal code and city, or the whole text, compared without case and spaces) supports a match."""
    shared = sorted(set(_address_keys(x)) & set(_address_keys(y)))
    if shared:
        evidence.append(ADDRESS)
        reasons.append(f"same address: {_address_keys(x)[shared[0]]}")


def _address_keys(entity: Entity) -> dict[str, str]:
    """Comparable keys of an entity's addresses (postal code with city; whole text) -> the address as shown."""
    out: dict[str, str] = {}
    for address in entity.addresses:
        if address.postal_code and address.city:
            out[f"p:{_squash(address.postal_code)}|{_squash(address.city)}"] = f"{address.postal_code} {address.city}"
        if address.full:
            out[f"f:{_squash(address.full)}"] = address.full
    return out


def _squash(text: str) -> str:
    """Text without case, spaces and punctuation, for comparing addresses."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def country_of(entity: Entity) -> str | None:
    """The entity's country, else the country of its first address that names one."""
    return getattr(entity, "country", None) or next((a.country for a in entity.addresses if a.country), None)


def _countries(x: Entity, y: Entity, evidence: list[float], reasons: list[str], conflicts: list[str]) -> None:
    """Same country supports a match; two different countries are a conflict."""
    cx, cy = country_of(x), country_of(y)
    if cx and cy and cx == cy:
        evidence.append(COUNTRY)
        reasons.append(f"same country {cx}")
    elif cx and cy:
        conflicts.append(f"different countries: {cx} vs {cy}")
