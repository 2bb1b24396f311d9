"""GLEIF: LEI-CDF 2.x, RR-CDF 2.x and reporting-exception XML (golden copies, streamed), and the same
records as GLEIF API JSON documents (JSON:API `lei-records`, `relationship-records`, `reporting-exceptions`).

Read like followthemoney's mapping code: the tables first (their field -> our field, for the XML record
and for the API resource side by side; their relationship type -> our relation), then the few rules
that need code. In a relationship record the StartNode is the CHILD and the EndNode the PARENT; our
relations run holder -> held (parent -> child), and a fund link runs fund -> manager/umbrella/master.
Every LEI a file references but does not define becomes a placeholder `lei:<LEI>` (with its LEI as
identifier), replaced when its LEI record is loaded.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem

from corpgraph.loaders.coverage import PROPERTY_NOT_KEPT, Coverage, Skipped
from corpgraph.loaders.formats import Raw
from corpgraph.loaders.formats.coerce import country_code, source_date
from corpgraph.loaders.formats.gleif_addresses import addresses
from corpgraph.loaders.formats.jsondoc import first_char, read_document
from corpgraph.loaders.formats.spill import Spill
from corpgraph.loaders.formats.tree import View, nodes, pick
from corpgraph.loaders.formats.xmlstream import XmlRecord, iter_records

PREFIX = "lei"
PUBLISHER = "GLEIF"

# Our field <- (path in an XML record, path in an API resource), for each kind of record.
LEI_RECORD: dict[str, tuple[str, str]] = {
    "lei": ("LEI", "attributes/lei"),
    "name": ("Entity/LegalName", "attributes/entity/legalName/name"),
    "ra": ("Entity/RegistrationAuthority/RegistrationAuthorityID", "attributes/entity/registeredAt/id"),
    "ra_number": ("Entity/RegistrationAuthority/RegistrationAuthorityEntityID", "attributes/entity/registeredAs"),
    "jurisdiction": ("Entity/LegalJurisdiction", "attributes/entity/jurisdiction"),
    "status": ("Entity/EntityStatus", "attributes/entity/status"),
    "category": ("Entity/EntityCategory", "attributes/entity/category"),
    "legal_form": ("Entity/LegalForm/EntityLegalFormCode", "attributes/entity/legalForm/id"),
    "registration_status": ("Registration/RegistrationStatus", "attributes/registration/status"),
    "updated": ("Registration/LastUpdateDate", "attributes/registration/lastUpdateDate"),
}
# Our aliases <- every name at these paths.
LEI_ALIASES: tuple[tuple[str, str], ...] = (
    ("Entity/OtherEntityNames/OtherEntityName", "attributes/entity/otherNames/name"),
    ("Entity/TransliteratedOtherEntityNames/TransliteratedOtherEntityName",
     "attributes/entity/transliteratedOtherNames/name"),
)
RELATIONSHIP_RECORD: dict[str, tuple[str, str]] = {
    "child": ("Relationship/StartNode/NodeID", "attributes/relationship/startNode/id"),
    "child_type": ("Relationship/StartNode/NodeIDType", "attributes/relationship/startNode/type"),
    "parent": ("Relationship/EndNode/NodeID", "attributes/relationship/endNode/id"),
    "parent_type": ("Relationship/EndNode/NodeIDType", "attributes/relationship/endNode/type"),
    "relationship": ("Relationship/RelationshipType", "attributes/relationship/type"),
    "status": ("Relationship/RelationshipStatus", "attributes/relationship/status"),
    "registration_status": ("Registration/RegistrationStatus", "attributes/registration/status"),
    "updated": ("Registration/LastUpdateDate", "attributes/registration/lastUpdateDate"),
}
PERIODS = ("Relationship/RelationshipPeriods/RelationshipPeriod", "attributes/relationship/periods")
PERIOD: dict[str, tuple[str, str]] = {"type": ("PeriodType", "type"), "start": ("StartDate", "startDate"),
                                      "end": ("EndDate", "endDate")}
QUANTIFIERS = ("Relationship/RelationshipQuantifiers/RelationshipQuantifier", "attributes/relationship/quantifiers")
QUANTIFIER: dict[str, tuple[str, str]] = {"method": ("MeasurementMethod", "measurementMethod"),
                                          "amount": ("QuantifierAmount", "amount"),
                                          "units": ("QuantifierUnits", "units")}
EXCEPTION_RECORD: dict[str, tuple[str, str]] = {
    "lei": ("LEI", "attributes/lei"),
    "category": ("ExceptionCategory", "attributes/category"),
    "reference": ("ExceptionReference", "attributes/reference"),
}
EXCEPTION_REASONS = ("ExceptionReason", "attributes/reason")


@dataclass(frozen=True)
class Relation:
    """Our relation for a GLEIF relationship type; holder: "parent" (EndNode) or "child" (StartNode)."""

    type: str
    kind: str
    holder: str


# Their relationship type -> our relation. Consolidation means control; the ultimate parent is kept as
# declared (compared with the computed controlling parent, never added to it).
RELATIONSHIPS: dict[str, Relation] = {
    "IS_DIRECTLY_CONSOLIDATED_BY": Relation("CONTROLS", "accounting_consolidation", "parent"),
    "IS_ULTIMATELY_CONSOLIDATED_BY": Relation("DECLARED_INTEREST", "ultimate_parent", "parent"),
    "IS_FUND-MANAGED_BY": Relation("FUND_LINK", "fund_managed_by", "child"),
    "IS_SUBFUND_OF": Relation("FUND_LINK", "subfund_of", "child"),
    "IS_FEEDER_TO": Relation("FUND_LINK", "feeder_to", "child"),
}
# Their exception category -> the relation the unknown parent holds (the one a known parent would hold)
# and the suffix of the unknown parent's id.
EXCEPTIONS: dict[str, tuple[Relation, str]] = {
    "DIRECT_ACCOUNTING_CONSOLIDATION_PARENT": (RELATIONSHIPS["IS_DIRECTLY_CONSOLIDATED_BY"], "direct-parent"),
    "ULTIMATE_ACCOUNTING_CONSOLIDATION_PARENT": (RELATIONSHIPS["IS_ULTIMATELY_CONSOLIDATED_BY"], "ultimate-parent"),
}
# Registration statuses of relationship records that were found never to have been true.
VOID = frozenset({"ANNULLED", "DUPLICATE"})
# The registration authority code meaning "no registration authority".
NO_AUTHORITY = "RA999999"

XML_RECORDS = frozenset({"LEIRecord", "RelationshipRecord", "Exception"})
# The parts of an LEI record the mapping reads (XML elements below LEIRecord, API keys below `attributes`), two
# levels deep; the coverage report lists the others a record gives as left out (EntityCreationDate, ManagingLOU, ...).
LEI_PARTS_READ: dict[bool, frozenset[str]] = {
    False: frozenset({"LEI", "Entity/LegalName", "Entity/OtherEntityNames", "Entity/TransliteratedOtherEntityNames",
                      "Entity/LegalAddress", "Entity/HeadquartersAddress", "Entity/OtherAddresses",
                      "Entity/TransliteratedOtherAddresses", "Entity/RegistrationAuthority", "Entity/LegalJurisdiction",
                      "Entity/EntityCategory", "Entity/LegalForm", "Entity/EntityStatus",
                      "Registration/RegistrationStatus", "Registration/LastUpdateDate"}),
    True: frozenset({"lei", "entity/legalName", "entity/otherNames", "entity/transliteratedOtherNames",
                     "entity/legalAddress", "entity/headquartersAddress", "entity/otherAddresses",
                     "entity/transliteratedOtherAddresses", "entity/registeredAt", "entity/registeredAs",
                     "entity/jurisdiction", "entity/category", "entity/legalForm", "entity/status",
                     "registration/status", "registration/lastUpdateDate"}),
}
# Why a record becomes nothing when its mapping gives no reason of its own (the coverage report).
NOTHING_MADE = "nothing to keep"
XML_HEADER = frozenset({"ContentDate"})
API_TYPES = {"lei-records": "LEIRecord", "relationship-records": "RelationshipRecord",
             "reporting-exceptions": "Exception"}
_LEI = re.compile(r"^[A-Z0-9]{18}[0-9]{2}$")
_DIGITS = str.maketrans({chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)})  # ISO 7064: A=10 .. Z=35
_API_HEAD = re.compile(rb'"type"\s*:\s*"(lei-records|relationship-records|reporting-exceptions)"')


class GleifFormat:
    """GLEIF LEI, relationship and reporting-exception records, as golden-copy XML or API JSON."""

    name = "gleif"

    def sniff(self, head: bytes, path: Path) -> bool:
        """GLEIF's XML namespaces, or a JSON:API document of GLEIF resource types."""
        start = first_char(head)
        if start == "<":
            return b"www.gleif.org/data/schema/" in head
        return start in ("{", "[") and _API_HEAD.search(head) is not None

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """Native records of the file, streamed, then placeholders for the LEIs it leaves open; records are
        counted by type (LEIRecord, RelationshipRecord, Exception; API resources by the same names)."""
        counted = Coverage() if coverage is None else coverage
        mapper = _Mapper(str(path))
        with path.open("rb") as handle:
            xml = first_char(handle.read(4096)) == "<"
        items = _xml_items(path) if xml else _api_items(path)
        for item in items:
            if isinstance(item, Problem):
                yield item
            else:
                yield from counted.track(item[1].tag, mapper.map(*item), NOTHING_MADE)
        yield from counted.made(mapper.placeholders())


@dataclass
class _Item:
    """One GLEIF record, from XML or JSON, ready to be mapped."""

    tag: str
    tree: Any
    api: bool
    published: str | None
    record_id: str | None = None


def _xml_items(path: Path) -> Iterator[tuple[Origin, _Item] | Problem]:
    """The records of a golden-copy XML file, each with its line."""
    for record in iter_records(path, XML_RECORDS, XML_HEADER):
        if isinstance(record, Problem):
            yield record
            continue
        assert isinstance(record, XmlRecord)
        yield Origin(str(path), record.line), _Item(record.tag, record.tree, False, record.header.get("ContentDate"))


def _api_items(path: Path) -> Iterator[tuple[Origin, _Item] | Problem]:
    """The resources of a GLEIF API document (one API page: read whole), each with its JSON pointer."""
    file = str(path)
    document = read_document(path)
    if isinstance(document, Problem):
        yield document
        return
    published = pick(document, "meta/goldenCopy/publishDate")
    data, base = (document.get("data"), "/data") if isinstance(document, dict) else (document, "")
    resources = data if isinstance(data, list) else [data]
    for index, resource in enumerate(resources):
        pointer = f"{base}/{index}" if isinstance(data, list) else base
        kind = API_TYPES.get(resource.get("type", "")) if isinstance(resource, dict) else None
        if kind is None:
            yield Problem(file, index + 1, "type", "expected a GLEIF resource of type "
                          + ", ".join(API_TYPES), pointer + "/type")
            continue
        item = _Item(kind, resource, True, published[0][1] if published else None, resource.get("id"))
        yield Origin(file, index + 1, pointer), item


class _Mapper:
    """GLEIF records to native records; remembers LEIs for the placeholders."""

    def __init__(self, file: str) -> None:
        self.file = file
        state = Spill()  # on disk: a golden copy has millions of LEIs (loaders.formats.spill)
        self.defined = state.table()
        self.referenced = state.table()  # LEI -> the Origin of its first reference

    def map(self, origin: Origin, item: _Item) -> Iterator[Raw | Problem | Skipped]:
        """The native records of one GLEIF record, or the problems that stop it."""
        if item.tag == "LEIRecord":
            yield from self._company(origin, item)
        elif item.tag == "RelationshipRecord":
            yield from self._relationship(origin, item)
        else:
            yield from self._exception(origin, item)

    def placeholders(self) -> Iterator[Raw]:
        """A placeholder Company for every LEI referenced but not defined in the file."""
        for lei, origin in self.referenced.items():
            if lei not in self.defined:
                yield origin, {"type": "Company", "id": f"{PREFIX}:{lei}", "name": lei, "placeholder": True,
                               "identifiers": [{"scheme": "LEI", "id": lei}]}

    def _company(self, origin: Origin, item: _Item) -> Iterator[Raw | Problem | Skipped]:
        """An LEI record as a Company: LEI and registration-authority number, names, country, status."""
        view = _view(item, LEI_RECORD)
        problems = _lei_problems(origin, view, "lei")
        if problems:
            yield from problems
            return
        lei = view.text("lei")
        self.defined.add(lei)
        record: dict[str, Any] = {"type": "Company", "id": f"{PREFIX}:{lei}", "identifiers": _identifiers(view)}
        if "name" in view:
            record["name"] = view.text("name")
        aliases = [text for paths in LEI_ALIASES for _, text in pick(item.tree, paths[item.api])]
        record["aliases"] = [a for a in dict.fromkeys(aliases) if a != record.get("name")]
        if "jurisdiction" in view:
            record.update(_country(view.text("jurisdiction")))
        if "status" in view:
            record["status"] = view.text("status")
        found = addresses(item.tree, item.api)
        if found:
            record["addresses"] = found
        for part in sorted(_parts(item, LEI_PARTS_READ[item.api])):
            yield Skipped(f"{PROPERTY_NOT_KEPT}{part}")
        record["description"] = _describe(view)
        record["sources"] = [_source(item, f"LEI record {lei}", lei, view, lei)]
        yield view.located(origin, {"name": "name", "country": "jurisdiction"}), record

    def _relationship(self, origin: Origin, item: _Item) -> Iterator[Raw | Problem | Skipped]:
        """A relationship record as CONTROLS (+ OWNS with a percentage), DECLARED_INTEREST or FUND_LINK."""
        view = _view(item, RELATIONSHIP_RECORD)
        problems = _lei_problems(origin, view, "child", "parent")
        relation = RELATIONSHIPS.get(view.text("relationship"))
        if relation is None:
            problems.append(view.problem(origin, "relationship", "expected one of " + ", ".join(RELATIONSHIPS)))
        for end in ("child_type", "parent_type"):
            if end in view and view.text(end) != "LEI":
                problems.append(view.problem(origin, end, f"only LEI nodes are supported, got {view.text(end)!r}"))
        fields, date_problems = _period(origin, item, view)
        if problems or date_problems:
            yield from problems + date_problems
            return
        assert relation is not None
        if view.text("registration_status") in VOID:
            yield Skipped(f"registration status {view.text('registration_status')}: the relationship never held")
            return
        child, parent, kind = view.text("child"), view.text("parent"), view.text("relationship")
        for lei in (child, parent):
            self._refer(lei, origin)
        holder, held = (parent, child) if relation.holder == "parent" else (child, parent)
        record_id = item.record_id or f"{child}|{kind}|{parent}"
        source = _source(item, f"Relationship record: {child} {kind} {parent}", record_id, view, child)
        base = {"source": f"{PREFIX}:{holder}", "target": f"{PREFIX}:{held}", **fields, "sources": [source]}
        held_end = "child" if relation.holder == "parent" else "parent"
        where = view.located(origin, {"source": relation.holder, "target": held_end})
        share = _share(item)
        main = {"type": relation.type, "kind": relation.kind, **base}
        if relation.type == "DECLARED_INTEREST" and share:
            main = _with_share(main, share)
        yield where, main
        if relation.type == "CONTROLS" and share:
            yield where, _with_share({"type": "OWNS", **base}, share)

    def _exception(self, origin: Origin, item: _Item) -> Iterator[Raw | Problem]:
        """A reporting exception as an unknown parent (Company with unknown_reason) holding what a known
        parent would hold: CONTROLS accounting_consolidation (direct) or DECLARED_INTEREST ultimate_parent."""
        view = _view(item, EXCEPTION_RECORD)
        problems = _lei_problems(origin, view, "lei")
        spec = EXCEPTIONS.get(view.text("category"))
        if spec is None:
            problems.append(view.problem(origin, "category", "expected one of " + ", ".join(EXCEPTIONS)))
        reasons = [text for _, text in pick(item.tree, EXCEPTION_REASONS[item.api])]
        if not reasons:
            problems.append(view.problem(origin, "reason", "required: the exception's reason"))
        if problems:
            yield from problems
            return
        assert spec is not None
        relation, suffix = spec
        lei, category = view.text("lei"), view.text("category")
        self._refer(lei, origin)
        unknown = f"{PREFIX}:{lei}:{suffix}"
        source = _source(item, f"Reporting exception: {lei} {category}", item.record_id or f"{lei}|{category}", view, lei)
        entity: dict[str, Any] = {"type": "Company", "id": unknown, "name": f"Unknown {suffix.replace('-', ' ')} of {lei}",
                                  "unknown_reason": ", ".join(reasons), "sources": [source]}
        if "reference" in view:
            entity["description"] = view.text("reference")
        yield origin, entity
        yield origin, {"type": relation.type, "kind": relation.kind, "source": unknown, "target": f"{PREFIX}:{lei}",
                       "sources": [source]}

    def _refer(self, lei: str, origin: Origin) -> None:
        """Note a referenced LEI (for a placeholder, if the file never defines it)."""
        if lei not in self.defined and lei not in self.referenced:
            self.referenced[lei] = origin


def _parts(item: _Item, read: frozenset[str]) -> set[str]:
    """The parts an LEI record gives (non-blank), two levels deep, that are not `read`: `Entity/EntityCreationDate`,
    `registration/status`. The parts read are not looked into (most of a record, addresses included)."""
    tree = item.tree.get("attributes") if item.api and isinstance(item.tree, dict) else item.tree
    out: set[str] = set()
    for key, value in (tree.items() if isinstance(tree, dict) else ()):
        if key.lower() in ("entity", "registration") and isinstance(value, dict):
            for sub, part in value.items():
                name = f"{key}/{sub}"
                if name not in read and _given(part):
                    out.add(name)
        elif key not in read and _given(value):
            out.add(key)
    return out


def _given(value: Any) -> bool:
    """True when a source value says something: a non-blank text, a number, a structure holding one."""
    if type(value) is str:  # most values of an XML record: no str() copy
        return value.strip() != ""
    if isinstance(value, dict):
        return any(_given(v) for v in value.values())
    if isinstance(value, list):
        return any(_given(v) for v in value)
    return value is not None and value is not False and str(value).strip() != ""


def _view(item: _Item, table: dict[str, tuple[str, str]], tree: Any = None, pointer: str = "") -> View:
    """Our fields of one record (or of a sub-record at pointer) by the table's XML or API paths."""
    return View(item.tree if tree is None else tree, _side(table, item.api), pointer)


# The XML or the API side of each table, made once (a golden copy maps millions of records by the same tables).
_SIDES: dict[tuple[int, bool], dict[str, str]] = {}


def _side(table: dict[str, tuple[str, str]], api: bool) -> dict[str, str]:
    """`our field -> path` of one side of a table (the tables are module constants: their id is their name)."""
    paths = _SIDES.get((id(table), api))
    if paths is None:
        paths = _SIDES[(id(table), api)] = {ours: pair[api] for ours, pair in table.items()}
    return paths


def _lei_problems(origin: Origin, view: View, *fields: str) -> list[Problem]:
    """An LEI field that is missing or not an ISO 17442 code (20 characters, check digits mod 97 = 1)."""
    out: list[Problem] = []
    for name in fields:
        if name not in view:
            out.append(view.problem(origin, name, "required: an LEI"))
        elif not is_lei(view.text(name)):
            out.append(view.problem(origin, name, f"{view.text(name)!r} is not an LEI (20 characters, ISO 17442 check digits)"))
    return out


def is_lei(text: str) -> bool:
    """True for a well-formed LEI: 18 letters or digits, 2 check digits, mod 97 = 1 (ISO 17442 / ISO 7064)."""
    return bool(_LEI.match(text)) and int(text.translate(_DIGITS)) % 97 == 1


def _identifiers(view: View) -> list[dict[str, str]]:
    """The LEI and, when there is one, the registration-authority number (scheme: the RA code)."""
    out = [{"scheme": "LEI", "id": view.text("lei")}]
    ra, number = view.text("ra"), view.text("ra_number")
    if ra and number and ra != NO_AUTHORITY:
        out.append({"scheme": ra, "id": number})
    return out


def _country(jurisdiction: str) -> dict[str, Any]:
    """The country of a jurisdiction that is (or begins with) a country code; a subdivision is kept as given."""
    code = country_code(jurisdiction)
    if code is None:
        return {"as_given": {"country": jurisdiction}}
    return {"country": code} if code == jurisdiction.upper() else {"country": code, "as_given": {"country": jurisdiction}}


def _describe(view: View) -> str:
    """What the LEI record says beyond our fields: category, legal form, registration status."""
    parts = [f"{view.text('category').lower()} entity" if "category" in view else "entity"]
    if "legal_form" in view:
        parts.append(f"legal form {view.text('legal_form')}")
    if "registration_status" in view:
        parts.append(f"LEI registration {view.text('registration_status')}")
    return "GLEIF: " + ", ".join(parts)


def _source(item: _Item, title: str, record_id: str, view: View, lei: str) -> dict[str, Any]:
    """The Source citing one GLEIF record: publication (file header/API meta) and last update dates."""
    source: dict[str, Any] = {"publisher": PUBLISHER, "title": title, "record_id": record_id,
                              "url": f"https://search.gleif.org/#/record/{lei}", "source_type": "gleif"}
    for ours, text in (("published_on", item.published), ("recorded_on", view.text("updated"))):
        if text:
            try:
                source[ours] = source_date(text)[0]
            except ValueError:
                pass  # provenance metadata: an odd timestamp there does not make the record wrong
    return source


def _period(origin: Origin, item: _Item, view: View) -> tuple[dict[str, Any], list[Problem]]:
    """valid_from/valid_to from the RELATIONSHIP_PERIOD; an INACTIVE relationship with no end date
    ends at the record's last update (kept as given)."""
    fields: dict[str, Any] = {}
    problems: list[Problem] = []
    for pointer, node in nodes(item.tree, PERIODS[item.api]):
        period = _view(item, PERIOD, node, pointer)
        if period.text("type") != "RELATIONSHIP_PERIOD":
            continue
        for ours, theirs in (("valid_from", "start"), ("valid_to", "end")):
            if theirs in period:
                try:
                    fields[ours] = source_date(period.text(theirs))[0]
                except ValueError as exc:
                    problems.append(period.problem(origin, theirs, str(exc), label=ours))
        break
    if view.text("status") == "INACTIVE" and "valid_to" not in fields and "updated" in view:
        try:
            ended = source_date(view.text("updated"))[0]
        except ValueError:
            return fields, problems
        if fields.get("valid_from") is None or date.fromisoformat(ended) > date.fromisoformat(fields["valid_from"]):
            fields["valid_to"] = ended
            fields["as_given"] = {"valid_to": "RelationshipStatus INACTIVE, no end date: the record's LastUpdateDate"}
    return fields, problems


def _share(item: _Item) -> dict[str, Any]:
    """Share fields from a PERCENTAGE quantifier. Amounts up to 1 are ambiguous (GLEIF files carry "1.00"
    for a wholly consolidated child): both readings, a fraction and a percent, are kept as the range."""
    for pointer, node in nodes(item.tree, QUANTIFIERS[item.api]):
        quantifier = _view(item, QUANTIFIER, node, pointer)
        if quantifier.text("units") != "PERCENTAGE" or "amount" not in quantifier:
            continue
        text = quantifier.text("amount")
        try:
            amount = float(text)
        except ValueError:
            return {}
        given = {"share": f"{text} PERCENTAGE"}
        if 0 < amount <= 1:
            return {"share_min": amount / 100.0, "share_max": amount, "as_given": given}
        if 1 < amount <= 100:
            return {"share": amount / 100.0}
        return {}
    return {}


def _with_share(record: dict[str, Any], share: dict[str, Any]) -> dict[str, Any]:
    """A relation record with share fields (as_given merged, not replaced)."""
    given = {**record.get("as_given", {}), **share.get("as_given", {})}
    out = {**record, **{k: v for k, v in share.items() if k != "as_given"}}
    if given:
        out["as_given"] = given
    return out


FORMAT = GleifFormat()
