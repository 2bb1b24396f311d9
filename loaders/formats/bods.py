"""Beneficial Ownership Data Standard 0.2, 0.3 and 0.4 (a JSON array or JSON Lines of statements) -> native records.

The table first (their field -> our field), then the few rules that need code: statement versions,
shares, and the record lifecycle (in loaders/formats/bods_lifecycle.py). See docs/importers.md.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem
from corpgraph.schema.values import COUNTRIES

from corpgraph.loaders.coverage import PROPERTY_NOT_KEPT, Coverage, Skipped
from corpgraph.loaders.formats import Raw
from corpgraph.loaders.formats.bods_lifecycle import Lifecycle
from corpgraph.loaders.formats.bods_values import as_date, source_of
from corpgraph.loaders.formats.coerce import address_of
from corpgraph.loaders.formats.jsondoc import first_char, iter_json_items

# entityType -> native type (0.2/0.3 a string, 0.4 {"type": ...}).
ENTITY_TYPES = {
    "registeredEntity": "Company", "legalEntity": "Company", "anonymousEntity": "Company",
    "unknownEntity": "Company", "state": "Organization", "stateBody": "Organization", "arrangement": "Organization",
}
UNKNOWN_ENTITY_TYPES = frozenset({"anonymousEntity", "unknownEntity"})
UNKNOWN_PERSON_TYPES = frozenset({"anonymousPerson", "unknownPerson"})
# Identifier scheme (or schemeName when no scheme is given) -> the scheme corpgraph carries.
SCHEMES = {"XI-LEI": "LEI", "DK Centrale Virksomhedsregister": "DK-CVR"}
# Native field -> where it comes from in an entity or person statement (relative to its details).
ENTITY_FIELDS = {"name": "/name", "aliases": "/alternateNames", "identifiers": "/identifiers",
                 "country": "/incorporatedInJurisdiction", "unknown_reason": "/unspecifiedEntityDetails",
                 "addresses": "/addresses"}
PERSON_FIELDS = {"name": "/names", "aliases": "/names", "identifiers": "/identifiers", "country": "/nationalities",
                 "unknown_reason": "/unspecifiedPersonDetails", "addresses": "/addresses"}
# The topic (FollowTheMoney's vocabulary, as every importer's topics) of a person a statement says is a PEP.
PEP_TOPIC = "role.pep"
# An address's parts: our field <- theirs (0.2-0.4 `{type, address, postCode, country}`; 0.4's country an object).
ADDRESS_PARTS = {"kind": "type", "full": "address", "postal_code": "postCode"}
_STATEMENT_ID = re.compile(rb'"statementI[Dd]"\s*:')
_KINDS = {"entityStatement": "entity", "personStatement": "person", "ownershipOrControlStatement": "relationship",
          "entity": "entity", "person": "person", "relationship": "relationship"}
# The fields of a statement's details its mapping reads, per kind; in 0.2/0.3 the details are the statement itself,
# whose own fields are read as provenance. The coverage report lists the others a statement gives as left out.
DETAILS_READ: dict[str, frozenset[str]] = {
    "entity": frozenset({"entityType", "name", "alternateNames", "incorporatedInJurisdiction", "jurisdiction",
                         "identifiers", "unspecifiedEntityDetails", "addresses", "isComponent"}),
    "person": frozenset({"personType", "names", "identifiers", "nationalities", "addresses", "unspecifiedPersonDetails",
                         "politicalExposure", "hasPepStatus", "isComponent"}),
    "relationship": frozenset({"subject", "interestedParty", "interests", "isComponent"}),
}
STATEMENT_FIELDS = frozenset({"statementID", "statementType", "statementDate", "publicationDetails", "source",
                              "replacesStatements"})
# Why a statement of each kind becomes nothing when its mapping gives no reason of its own (coverage report).
NOTHING_MADE = {"entity": "nothing to keep", "person": "nothing to keep",
                "relationship": "the statement states no interest"}


@dataclass
class Statement:
    """One BODS statement seen the same way whatever its version."""

    sid: str
    kind: str                 # entity | person | relationship
    version: str              # "0.2", "0.3", "0.4"
    details: dict[str, Any]   # 0.4 recordDetails; 0.2/0.3 the statement itself
    detail_pointer: str       # "/recordDetails" (0.4) or ""
    origin: Origin            # the statement's place in the file
    date: str | None          # statementDate as a date
    record_id: str | None     # 0.4 recordId
    status: str | None        # 0.4 recordStatus (new, updated, closed)
    replaces: list[str]       # 0.2/0.3 replacesStatements
    source: dict[str, Any]    # the native Source every record of this statement cites

    def at(self, pointer: str, fields: dict[str, str] | None = None) -> Origin:
        """An origin below the statement's details (a pointer for JSON documents, the line for JSON Lines)."""
        base = self.origin
        if base.pointer is None:
            return base
        return Origin(base.file, base.line, base.pointer + self.detail_pointer + pointer, fields)


class BodsFormat:
    """BODS statements: entity and person statements -> entities, relationships -> OWNS/CONTROLS/DECLARED_INTEREST."""

    name = "bods"

    def sniff(self, head: bytes, path: Path) -> bool:
        """A JSON array or JSON Lines whose first item carries a BODS statementID (0.2/0.3) or statementId (0.4)."""
        return first_char(head) in ("[", "{") and _STATEMENT_ID.search(head[:8192]) is not None

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """Native records of every statement in file order; placeholders for open references at the end.
        Statements are counted by kind (entity, person, relationship statement) in `coverage`."""
        counted = Coverage() if coverage is None else coverage
        lifecycle = Lifecycle()
        for item in iter_json_items(path):
            if isinstance(item, Problem):
                yield item
                continue
            statement = _statement(*item)
            if isinstance(statement, Problem):
                yield from counted.track("(not a statement)", [statement], "")
            else:
                kind = f"{statement.kind} statement"
                yield from counted.track(kind, _records(lifecycle, statement), NOTHING_MADE[statement.kind])
        yield from counted.made(lifecycle.placeholders())


def _records(lifecycle: Lifecycle, statement: Statement) -> Iterator[Raw | Problem | Skipped]:
    """The native records of one statement: its entity or person, or the stakes of its relationship (and the
    fields of its details that no mapping reads, for the coverage report)."""
    for name in sorted(statement.details.keys() - DETAILS_READ[statement.kind] - STATEMENT_FIELDS):
        yield Skipped(f"{PROPERTY_NOT_KEPT}{name}")
    if statement.kind == "relationship":
        yield from lifecycle.relationship(statement)
        return
    id = lifecycle.entity_id(statement)
    record = _entity(statement, id) if statement.kind == "entity" else _person(statement, id)
    lifecycle.define(id)
    yield statement.at("", ENTITY_FIELDS if statement.kind == "entity" else PERSON_FIELDS), record


def _statement(origin: Origin, data: Any) -> Statement | Problem:
    """A Statement, or the Problem that makes the item no BODS statement."""
    if not isinstance(data, dict):
        return origin.problem("(statement)", "expected a BODS statement (a JSON object)")
    v4 = "recordDetails" in data or "statementId" in data
    sid = data.get("statementId" if v4 else "statementID")
    kind = _KINDS.get(str(data.get("recordType" if v4 else "statementType")))
    if not isinstance(sid, str) or not sid:
        return origin.problem("statementId" if v4 else "statementID", "a BODS statement needs its id")
    if kind is None:
        field = "recordType" if v4 else "statementType"
        return origin.problem(field, f"not a BODS statement type: {data.get(field)!r}")
    details = data.get("recordDetails") if v4 else data
    if not isinstance(details, dict):
        return origin.problem("recordDetails", "expected an object")
    publication = data.get("publicationDetails") or {}
    version = "0.4" if v4 else str(publication.get("bodsVersion") or "0.2")
    date, _ = as_date(data.get("statementDate"))
    record_id = data.get("recordId") if v4 else None
    return Statement(sid, kind, version, details, "/recordDetails" if v4 else "", origin, date,
                     record_id if isinstance(record_id, str) else None, data.get("recordStatus"),
                     [s for s in data.get("replacesStatements") or [] if isinstance(s, str)],
                     source_of(data, sid, version, date))


def _entity(st: Statement, id: str) -> dict[str, Any]:
    """An entity statement as a Company or Organization record."""
    d = st.details
    kind = d.get("entityType")
    kind = kind.get("type") if isinstance(kind, dict) else kind
    record: dict[str, Any] = {"type": ENTITY_TYPES.get(str(kind), "Company"), "id": id, "name": d.get("name"), "sources": [st.source]}
    if record["type"] == "Organization":
        record["kind"] = kind
    aliases = [a for a in d.get("alternateNames") or [] if isinstance(a, str) and a != d.get("name")]
    if aliases:
        record["aliases"] = aliases
    jurisdiction = d.get("incorporatedInJurisdiction") or d.get("jurisdiction")
    _country(record, jurisdiction.get("code") if isinstance(jurisdiction, dict) else None)
    _unknown(record, kind in UNKNOWN_ENTITY_TYPES, d.get("unspecifiedEntityDetails"), kind, "unknown entity")
    _identifiers(record, d.get("identifiers"))
    _addresses(record, d.get("addresses"))
    return record


def _person(st: Statement, id: str) -> dict[str, Any]:
    """A person statement as a Person record (an unknown or anonymous person keeps its reason)."""
    d = st.details
    names = [n for n in d.get("names") or [] if isinstance(n, dict)]
    full = [_full_name(n) for n in sorted(names, key=lambda n: n.get("type") not in ("individual", "legal"))]
    full = [n for n in full if n]
    record: dict[str, Any] = {"type": "Person", "id": id, "name": full[0] if full else None,
                              "sources": [st.source]}
    if len(full) > 1:
        record["aliases"] = list(dict.fromkeys(n for n in full[1:] if n != full[0]))
    nationalities = [n for n in d.get("nationalities") or [] if isinstance(n, dict)]
    _country(record, nationalities[0].get("code") if nationalities else None)
    if len(nationalities) > 1:  # our Person has one country: every nationality stays as given
        record.setdefault("as_given", {})["nationalities"] = "; ".join(str(n.get("code") or n.get("name"))
                                                                     for n in nationalities)
    kind = d.get("personType")
    _unknown(record, kind in UNKNOWN_PERSON_TYPES, d.get("unspecifiedPersonDetails"), kind, "unknown person")
    _identifiers(record, d.get("identifiers"))
    _addresses(record, d.get("addresses"))
    if _is_pep(d):
        record["topics"] = [PEP_TOPIC]
    return record


def _is_pep(details: dict[str, Any]) -> bool:
    """A person the statement says is politically exposed (0.3/0.4 `politicalExposure.status`, 0.2 `hasPepStatus`)."""
    exposure = details.get("politicalExposure")
    return (isinstance(exposure, dict) and exposure.get("status") == "isPep") or details.get("hasPepStatus") is True


def _full_name(name: dict[str, Any]) -> str | None:
    """fullName, or given and family names joined."""
    full = name.get("fullName") or " ".join(str(name[k]) for k in ("givenName", "familyName") if name.get(k))
    return str(full).strip() or None


def _country(record: dict[str, Any], code: Any) -> None:
    """An ISO country code goes to `country`; anything else (a sub-division, XK) is kept as given."""
    if isinstance(code, str) and code.strip().upper() in COUNTRIES:
        record["country"] = code.strip().upper()
    elif code:
        record.setdefault("as_given", {})["country"] = str(code)


def _unknown(record: dict[str, Any], unknown: bool, details: Any, kind: Any, fallback: str) -> None:
    """Mark an unknown or anonymous party with the source's reason, and name it when the source gives no name."""
    details = details if isinstance(details, dict) else {}
    if unknown or details:
        record["unknown_reason"] = str(details.get("reason") or kind or "unknown")
        if details.get("description"):
            record["description"] = str(details["description"])
    if not record.get("name"):
        record["name"] = fallback if not record.get("unknown_reason") else f"{fallback} ({record['unknown_reason']})"


def _addresses(record: dict[str, Any], addresses: Any) -> None:
    """Every address of a statement that says something, with its type (registered, business, residence, ...)."""
    out = []
    for item in addresses if isinstance(addresses, list) else []:
        if not isinstance(item, dict):
            continue
        country = item.get("country")
        country = country.get("code") or country.get("name") if isinstance(country, dict) else country
        found = address_of(country, **{ours: item.get(theirs) for ours, theirs in ADDRESS_PARTS.items()})
        if found is not None and found not in out:
            out.append(found)
    if out:
        record["addresses"] = out


def _identifiers(record: dict[str, Any], identifiers: Any) -> None:
    """Every identifier with an id and a scheme (or schemeName), schemes mapped by SCHEMES."""
    out: list[dict[str, str]] = []
    for item in identifiers or []:
        if not isinstance(item, dict):
            continue
        scheme, value = item.get("scheme") or item.get("schemeName"), item.get("id")
        if isinstance(scheme, str) and scheme.strip() and isinstance(value, (str, int)) and str(value).strip():
            entry = {"scheme": SCHEMES.get(scheme.strip(), scheme.strip()), "id": str(value).strip()}
            if entry not in out:
                out.append(entry)
    if out:
        record["identifiers"] = out


FORMAT = BodsFormat()
