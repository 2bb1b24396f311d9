"""FollowTheMoney entity streams (JSON Lines of `{id, schema, properties}`, every value a list of strings).

Read like followthemoney's own mapping code: the tables first (their schema -> our type, their property
-> our field), then the few rules that need code. The file is streamed twice: a cheap first pass finds
the Sanction entities (their target gets the topic `sanction` and cites the sanction as a source; pass 2 makes
each a designation, loaders/formats/ftm_sanctions.py), the
identity documents and Address entities (they become identifiers and addresses of the entities they belong
to), the referents OpenSanctions merged entities from, and the ids of entities of schemata corpgraph does not
keep as entities (Vessel, Address, ...: links to those are not loaded); the second pass maps line by line,
counting what each schema became (loaders/coverage.py). Links: loaders/formats/ftm_links.py. Ids the file references but never defines become
placeholders at the end. Entity files are expected aggregated (one line per id, as OpenSanctions exports
and `ftm aggregate` write them): a repeated id is a problem, not a silent overwrite.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem

from corpgraph.loaders.coverage import PROPERTY_NOT_KEPT, Coverage, Folded, Skipped
from corpgraph.loaders.formats import Raw
from corpgraph.loaders.formats import ftm_addresses as addresses
from corpgraph.loaders.formats import ftm_referents as referents
from corpgraph.loaders.formats.coerce import exact_country, native_id, source_date
from corpgraph.loaders.formats.ftm_documents import DOCUMENT_SCHEMES, FOLDED, Document, documents, holders, identifiers
from corpgraph.loaders.formats.ftm_links import LINKS, Link, dated_fields, link_fields, props_read
from corpgraph.loaders.formats.ftm_props import first as _first
from corpgraph.loaders.formats.ftm_sanctions import designation, listed_by_dataset
from corpgraph.loaders.formats.jsondoc import first_char, iter_json_items
from corpgraph.loaders.lines import bounded_lines
from corpgraph.loaders.formats.spill import DiskTable, Spill
from corpgraph.loaders.jsontext import loads

PREFIX = "ftm"

# Their schema -> our entity type. LegalEntity ("a person or a company, unspecified") becomes a Company.
ENTITY_TYPES: dict[str, str] = {
    "Company": "Company",
    "LegalEntity": "Company",
    "Organization": "Organization",
    "PublicBody": "Organization",
    "Person": "Person",
}

# Schemata read but not imported, and why (the coverage report says it for every such entity). None since
# Sanctions became designations (issue 21, loaders/formats/ftm_sanctions.py).
NOT_IMPORTED: dict[str, str] = {}
NOT_KEPT = "a schema corpgraph does not keep (links to it are dropped)"

# Their identifier property -> our identifier scheme. Schemes of national numbers that FtM does not
# qualify (registrationNumber, taxNumber, idNumber, passportNumber) are prefixed with the entity's
# country ("BY-REGISTRATION"), so equal numbers of two countries never look like one identifier.
IDENTIFIER_SCHEMES: dict[str, str] = {
    "leiCode": "LEI",
    "innCode": "RU-INN",
    "ogrnCode": "RU-OGRN",
    "okpoCode": "RU-OKPO",
    "kppCode": "RU-KPP",
    "swiftBic": "BIC",
    "dunsCode": "DUNS",
    "isinCode": "ISIN",
    "cikCode": "US-SEC-CIK",
    "irsCode": "US-EIN",
    "uniqueEntityId": "US-UEI",
    "npiCode": "US-NPI",
    "imoNumber": "IMO",
    "permId": "PERMID",
    "wikidataId": "WIKIDATA",
    "bvdId": "BVD",
    "vatCode": "VAT",
}
NATIONAL_SCHEMES: dict[str, str] = {
    "registrationNumber": "REGISTRATION",
    "taxNumber": "TAX",
    "idNumber": "ID",
    "passportNumber": "PASSPORT",
}

# Their name properties -> our name and aliases (weakAlias is left out: too weak to search by).
NAME_PROPS = ("name", "alias", "previousName")
# Their country properties, most specific first, per our type.
COUNTRY_PROPS: dict[str, tuple[str, ...]] = {
    "Person": ("nationality", "citizenship", "country"),
    "Company": ("jurisdiction", "country", "mainCountry"),
    "Organization": ("jurisdiction", "country", "mainCountry"),
}

# Their entity properties the mapping reads, for every type and per type; the coverage report lists the others
# an entity gives as left out ("birthDate 4, gender 4"), so nothing disappears unaccounted.
PROPS_READ = frozenset({*NAME_PROPS, "firstName", "lastName", "topics", *IDENTIFIER_SCHEMES, *NATIONAL_SCHEMES,
                        "description", "summary", "notes", "addressEntity", "address", "publisher", "sourceUrl",
                        "modifiedAt"})
TYPE_PROPS_READ: dict[str, frozenset[str]] = {
    "Company": frozenset({*COUNTRY_PROPS["Company"], "status"}),
    "Organization": frozenset({*COUNTRY_PROPS["Organization"], "legalForm"}),
    "Person": frozenset(COUNTRY_PROPS["Person"]),
}

_SCHEMA = re.compile(rb'"schema"\s*:\s*"([A-Za-z]+)"')
_ID = re.compile(rb'"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


class FtmFormat:
    """FollowTheMoney entity streams: Company/Organization/LegalEntity/PublicBody/Person, Ownership,
    Directorship, Family/Associate/UnknownLink, Passport/Identification and Sanction (see README, 'Importing
    BODS, FollowTheMoney and GLEIF', and docs/importers.md)."""

    name = "ftm"

    def sniff(self, head: bytes, path: Path) -> bool:
        """The first line (or first array item) is an object with `schema` and `properties`."""
        if first_char(head) not in ("{", "["):
            return False
        first = head.removeprefix(b"\xef\xbb\xbf").lstrip().lstrip(b"[").lstrip().split(b"\n", 1)[0]
        return bool(_SCHEMA.search(first)) and re.search(rb'"properties"\s*:\s*\{', first) is not None

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """Native records of the file, streamed, then placeholders for the ids it leaves open."""
        counted = Coverage() if coverage is None else coverage
        scan = _scan(path)
        reader = _Reader(str(path), scan)
        for item in iter_json_items(path):
            if isinstance(item, Problem):
                yield item
                continue
            origin, data = item
            kind = str(data.get("schema")) if isinstance(data, dict) and "schema" in data else "(no schema)"
            if scan.any_merged:
                data = referents.resolved(data, scan.merged)
            yield from counted.track(kind, reader.map(origin, data), NOT_IMPORTED.get(kind, NOT_KEPT))
        yield from counted.made(reader.placeholders())


@dataclass
class _Scan:
    """What the first pass learns: sanctions and identity documents by the entity they name, Address entities,
    referents, ids of schemata not kept as entities."""

    sanctions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    not_kept: dict[str, str] = field(default_factory=dict)  # id -> its schema
    documents: dict[str, list[Document]] = field(default_factory=dict)  # holder id -> its documents' numbers
    # On disk (loaders.formats.spill): Address entities by id (ours), and the ids entities name in addressEntity.
    spill: Spill = field(default_factory=Spill)
    addresses: DiskTable = field(init=False)
    address_refs: DiskTable = field(init=False)
    merged: DiskTable = field(init=False)  # a referent (an id an entity was merged from) -> the entity's id
    any_merged: bool = False

    def __post_init__(self) -> None:
        """The on-disk tables."""
        self.addresses, self.address_refs, self.merged = self.spill.table(), self.spill.table(), self.spill.table()

    def rekey(self) -> None:
        """Once every referent is known: what was remembered under an old id, under its entity's id."""
        self.sanctions = _merged_lists(self.sanctions, self.merged)
        self.documents = _merged_lists(self.documents, self.merged)
        refs = self.spill.table()
        for ref, _ in self.address_refs.items():
            refs.add(referents.canonical(ref, self.merged))
        self.address_refs = refs


def _scan(path: Path) -> _Scan:
    """First pass: only Sanction lines are parsed; other lines are read by a regex on their bytes."""
    scan = _Scan()
    with path.open("rb") as handle:
        for _, raw in bounded_lines(handle):
            if raw is None:
                continue  # the second pass (jsondoc's lines) reports it
            schema = _SCHEMA.search(raw)
            if schema is None:
                continue
            name = schema.group(1).decode()
            if b'"referents"' in raw:
                _referents(raw, scan)
            for ref in addresses.referenced(raw) if b'"addressEntity"' in raw else ():
                scan.address_refs.add(ref)
            if name == "Sanction":
                _scan_sanction(raw, scan)
            elif name not in ENTITY_TYPES and name not in LINKS:
                found = _ID.search(raw)
                if found:
                    _not_kept(found.group(1), name, scan)
                if name in DOCUMENT_SCHEMES:
                    _scan_document(raw, name, scan)
                elif name == "Address":
                    _scan_address(raw, scan)
    if scan.any_merged:
        scan.rekey()
    return scan


def _referents(raw: bytes, scan: _Scan) -> None:
    """Remember the ids a line's entity was merged from (OpenSanctions `referents`)."""
    found = referents.referents(raw)
    if found is not None and found[1]:
        scan.any_merged = True
        for ref in found[1]:
            scan.merged[ref] = found[0]


def _merged_lists(by_id: dict[str, list[Any]], merged: DiskTable) -> dict[str, list[Any]]:
    """A map of lists keyed by entity id, the lists of an entity's old ids joined to its own."""
    out: dict[str, list[Any]] = {}
    for key, values in by_id.items():
        out.setdefault(referents.canonical(key, merged), []).extend(values)
    return out


def _not_kept(quoted: bytes, schema: str, scan: _Scan) -> None:
    """Remember the id (JSON string contents) and schema of an entity of a schema corpgraph does not keep."""
    try:
        scan.not_kept[loads('"' + quoted.decode("utf-8") + '"')] = schema
    except (ValueError, UnicodeDecodeError):
        pass  # a broken line: the second pass reports it


def _scan_document(raw: bytes, schema: str, scan: _Scan) -> None:
    """Remember a Passport's or Identification's numbers under each holder (bad lines: pass 2 reports)."""
    try:
        props = loads(raw.decode("utf-8"))["properties"]
        for holder in holders(props):
            scan.documents.setdefault(holder, []).extend(documents(schema, props))
    except (ValueError, KeyError, TypeError):  # JsonTextError and UnicodeDecodeError are ValueErrors
        return


def _scan_address(raw: bytes, scan: _Scan) -> None:
    """Keep an Address entity as our address, under its id (bad lines: pass 2 reports)."""
    try:
        data = loads(raw.decode("utf-8"))
        found = addresses.address(data["properties"])
        if found is not None and isinstance(data["id"], str):
            scan.addresses[data["id"]] = found
    except (ValueError, KeyError, TypeError):  # JsonTextError and UnicodeDecodeError are ValueErrors
        return


def _scan_sanction(raw: bytes, scan: _Scan) -> None:
    """Remember a Sanction's source citation under each entity it targets (bad lines: pass 2 reports)."""
    try:
        data = loads(raw.decode("utf-8"))
        props = data["properties"]
        targets = props["entity"]
    except (ValueError, KeyError, TypeError):  # JsonTextError and UnicodeDecodeError are ValueErrors
        return
    if not isinstance(targets, list):
        return
    citation = _sanction_source(str(data.get("id", "")), props)
    for target in targets:
        if isinstance(target, str):
            scan.sanctions.setdefault(target, []).append(citation)


def _sanction_source(sanction_id: str, props: dict[str, Any]) -> dict[str, Any]:
    """A Source citing one sanction: the authority, the programme, its listing date."""
    authority = _first(props, "authority") or _first(props, "publisher") or "sanctioning authority not named"
    program = _first(props, "program") or _first(props, "reason") or "sanction"
    source: dict[str, Any] = {"publisher": authority, "title": f"Sanction: {program}", "record_id": sanction_id,
                              "url": _first(props, "sourceUrl") or _first(props, "programUrl")}
    listed = _first(props, "listingDate") or _first(props, "startDate")
    if listed:
        try:
            source["recorded_on"] = source_date(listed)[0]
        except ValueError:
            pass  # a citation's date is informative only; the sanction still marks its entity
    return source


class _Reader:
    """Second pass: one FtM line at a time to native records; remembers ids for the placeholders."""

    def __init__(self, file: str, scan: _Scan) -> None:
        self.file = file
        self.scan = scan
        state = Spill()  # on disk: it grows with the file (loaders.formats.spill)
        self.defined = state.table()  # FtM id -> the line that defined it
        self.referenced = state.table()  # FtM id -> where it was first referenced
        self.persons = state.table()  # FtM ids an end whose range is Person references (their placeholder's type)

    def map(self, origin: Origin, data: Any) -> Iterator[Raw | Problem | Skipped | Folded]:
        """The native records of one FtM entity, or the problems that stop it."""
        if not isinstance(data, dict):
            yield origin.problem("(line)", "expected a JSON object {id, schema, properties}")
            return
        problems = _shape_problems(data)
        if problems:
            yield from (origin.problem(name, reason) for name, reason in problems)
            return
        fid, schema, props = data["id"], data["schema"], data["properties"]
        if schema in ENTITY_TYPES:
            yield from self._entity(origin, fid, schema, props, data)
        elif schema in LINKS:
            yield from self._link(origin, fid, LINKS[schema], props, data)
        elif schema == "Sanction":
            yield from self._sanction(origin, fid, props)
        elif schema in DOCUMENT_SCHEMES:
            yield from self._document(origin, schema, props)
        elif schema == "Address":
            yield from self._address(fid, props)

    def placeholders(self) -> Iterator[Raw]:
        """A placeholder entity for every id referenced but not defined in the file."""
        for fid, origin in self.referenced.items():
            if fid in self.defined:
                continue
            kind = "Person" if fid in self.persons else "Company"
            record: dict[str, Any] = {"type": kind, "id": native_id(PREFIX, fid), "name": fid, "placeholder": True}
            if fid in self.scan.sanctions:
                record["topics"] = ["sanction"]
                record["sources"] = self.scan.sanctions[fid]
            if fid in self.scan.documents:
                record["identifiers"] = identifiers(self.scan.documents[fid], None)
            yield origin, record

    def _entity(self, origin: Origin, fid: str, schema: str, props: dict[str, list[str]],
                data: dict[str, Any]) -> Iterator[Raw | Problem | Skipped]:
        """A Company, Organization or Person."""
        if fid in self.defined:
            yield origin.problem("id", f"{fid!r} is defined again (first at line {self.defined[fid]}); "
                                       "aggregate FtM fragments first (`ftm aggregate`)")
            return
        self.defined[fid] = origin.line
        kind = ENTITY_TYPES[schema]
        for name in sorted(props.keys() - PROPS_READ - TYPE_PROPS_READ[kind]):
            yield Skipped(f"{PROPERTY_NOT_KEPT}{name}")
        record: dict[str, Any] = {"type": kind, "id": native_id(PREFIX, fid)}
        names = _names(props, data.get("caption"))
        if names:
            record["name"], record["aliases"] = names[0], names[1:]
        record.update(_country(kind, props))
        topics = list(dict.fromkeys(props.get("topics", []) + (["sanction"] if fid in self.scan.sanctions else [])))
        if topics:
            record["topics"] = topics
        found = _identifiers(props, record.get("country"))
        found += identifiers(self.scan.documents.get(fid, []), record.get("country"))
        if found:
            record["identifiers"] = [dict(pair) for pair in dict.fromkeys(tuple(i.items()) for i in found)]
        found_addresses = addresses.entity_addresses(props, self.scan.addresses)
        if found_addresses:
            record["addresses"] = found_addresses
        for ref in props.get("addressEntity", []):
            if ref not in self.scan.addresses:
                yield Skipped("an address (addressEntity) the file does not hold")
        # OpenSanctions writes what it knows of an entity in `notes` (several KB is normal) when it has no description.
        description = _first(props, "description") or _first(props, "summary") or _first(props, "notes")
        if description:
            record["description"] = description
        if kind == "Company" and _first(props, "status"):
            record["status"] = _first(props, "status")
        org_kind = "public body" if schema == "PublicBody" else _first(props, "legalForm")
        if kind == "Organization" and org_kind:
            record["kind"] = org_kind
        record["sources"] = [_source(fid, schema, props, data)] + self.scan.sanctions.get(fid, [])
        yield origin, record
        if "sanction" in topics and fid not in self.scan.sanctions:  # listed, but no Sanction in the file says how
            listed = listed_by_dataset(record["id"], data.get("datasets"), record["sources"][0])
            if listed is not None:
                yield origin, listed

    def _link(self, origin: Origin, fid: str, link: Link, props: dict[str, list[str]],
              data: dict[str, Any]) -> Iterator[Raw | Problem | Skipped]:
        """OWNS, OFFICER_OF, RELATED_TO or PAID records, one per (source, target) pair the FtM entity names."""
        problems: list[Problem] = []
        ends = {}
        for end in (link.source, link.target):
            ends[end] = props.get(end, [])
            if not ends[end]:
                problems.append(origin.problem(f"properties.{end}", f"required: an FtM {data['schema']} names its {end}"))
        fields = link_fields(link, fid, origin, props, problems)
        if problems:
            yield from problems
            return
        for name in sorted(props.keys() - props_read(link)):
            yield Skipped(f"{PROPERTY_NOT_KEPT}{name}")
        sources = [_source(fid, data["schema"], props, data)]
        for source in ends[link.source]:
            for target in ends[link.target]:
                other = self.scan.not_kept.get(source) or self.scan.not_kept.get(target)
                if other is not None:  # a link to an Address, a Vessel, ...: nothing of ours to link
                    yield Skipped(f"a link to a {other}, a schema corpgraph does not keep")
                    continue
                if source == target:  # a relation of an entity to itself means nothing here (and is refused)
                    yield Skipped("a link from an entity to itself")
                    continue
                self._refer(source, origin, link.persons)
                self._refer(target, origin, link.persons)
                yield origin, {"type": link.type, "source": native_id(PREFIX, source),
                               "target": native_id(PREFIX, target), **fields, "sources": sources}

    def _sanction(self, origin: Origin, fid: str, props: dict[str, list[str]]) -> Iterator[Raw | Problem | Skipped]:
        """A Sanction: one designation per entity it names (loaders.formats.ftm_sanctions); pass 1 gave the topic."""
        if not props.get("entity"):
            yield origin.problem("properties.entity", "required: an FtM Sanction names its entity")
            return
        problems: list[Problem] = []
        dated = dated_fields(origin, props, problems)
        if problems:
            yield from problems
            return
        citation = _sanction_source(fid, props)
        for target in props["entity"]:
            if target in self.scan.not_kept:  # a sanctioned Vessel is no party of ours
                yield Skipped(f"a designation of a {self.scan.not_kept[target]}, a schema corpgraph does not keep")
                continue
            self._refer(target, origin)
            yield origin, designation(native_id(PREFIX, target), props, dated, citation)

    def _document(self, origin: Origin, schema: str, props: dict[str, list[str]]) -> Iterator[Problem | Skipped | Folded]:
        """A Passport or Identification: its numbers went to its holder's identifiers (pass 1 found them)."""
        if not holders(props):
            yield origin.problem("properties.holder", f"required: an FtM {schema} names its holder")
            return
        if not documents(schema, props):
            yield Skipped("no document number")
            return
        for holder in holders(props):
            if holder in self.scan.not_kept:
                yield Skipped(f"its holder is a {self.scan.not_kept[holder]}, a schema corpgraph does not keep")
                continue
            self._refer(holder, origin)
            yield Folded(FOLDED)

    def _address(self, fid: str, props: dict[str, list[str]]) -> Iterator[Skipped | Folded]:
        """An Address entity: kept by pass 1 for the entities that name it."""
        if addresses.address(props) is None:
            yield Skipped("an address with no text and no parts")
        elif fid in self.scan.address_refs:
            yield Folded(addresses.FOLDED)
        else:
            yield Skipped("an address no entity of the file names")

    def _refer(self, fid: str, origin: Origin, person: bool = False) -> None:
        """Note a reference (for a placeholder, if the file never defines the id), and whether it names a Person."""
        if fid in self.defined:
            return
        if fid not in self.referenced:
            self.referenced[fid] = origin
        if person:
            self.persons.add(fid)


def _shape_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """What keeps a line from being an FtM entity at all: (field, reason) pairs."""
    out: list[tuple[str, str]] = []
    if not isinstance(data.get("id"), str) or not data["id"].strip():
        out.append(("id", "required: an FtM entity has a string id"))
    if not isinstance(data.get("schema"), str):
        out.append(("schema", "required: an FtM entity names its schema"))
    props = data.get("properties")
    if not isinstance(props, dict):
        out.append(("properties", "required: an FtM entity has an object of properties"))
        return out
    for name, values in props.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            out.append((f"properties.{name}", "expected a list of strings (FtM property values)"))
    return out


def _names(props: dict[str, list[str]], caption: Any) -> list[str]:
    """The name (caption first: the entity's display name) and then every other name, once each."""
    names = [caption] if isinstance(caption, str) and caption.strip() else []
    for prop in NAME_PROPS:
        names.extend(props.get(prop, []))
    if not names:
        full = " ".join(v for v in (_first(props, "firstName"), _first(props, "lastName")) if v)
        names = [full] if full else []
    return list(dict.fromkeys(n.strip() for n in names if n.strip()))


def _country(kind: str, props: dict[str, list[str]]) -> dict[str, Any]:
    """The first ISO country code among the type's country properties; other codes kept as given."""
    given = [v for prop in COUNTRY_PROPS[kind] for v in props.get(prop, [])]
    for value in given:
        code = exact_country(value)
        if code is not None:
            return {"country": code}
    return {"as_given": {"country": "; ".join(given)}} if given else {}


def _identifiers(props: dict[str, list[str]], country: str | None) -> list[dict[str, str]]:
    """Every identifier property as {scheme, id} (national numbers qualified by the entity's country)."""
    out: list[dict[str, str]] = []
    for prop, scheme in IDENTIFIER_SCHEMES.items():
        out.extend({"scheme": scheme, "id": v.strip()} for v in props.get(prop, []) if v.strip())
    for prop, scheme in NATIONAL_SCHEMES.items():
        qualified = f"{country}-{scheme}" if country else scheme
        out.extend({"scheme": qualified, "id": v.strip()} for v in props.get(prop, []) if v.strip())
    return out


def _source(fid: str, schema: str, props: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
    """The Source citing one FtM entity: its publisher, datasets, id and last change."""
    datasets = data.get("datasets")
    title = f"{schema} {fid}"
    if isinstance(datasets, list) and datasets:
        title += f" (datasets: {', '.join(str(d) for d in datasets)})"
    source: dict[str, Any] = {"publisher": _first(props, "publisher") or "FollowTheMoney entity file",
                              "title": title, "record_id": fid, "url": _first(props, "sourceUrl"),
                              "source_type": "ftm"}
    changed = data.get("last_change") or _first(props, "modifiedAt")
    if isinstance(changed, str):
        try:
            source["recorded_on"] = source_date(changed)[0]
        except ValueError:
            pass  # provenance metadata: an odd timestamp there does not make the record wrong
    return source


FORMAT = FtmFormat()
