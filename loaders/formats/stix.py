"""STIX 2.1 objects (a bundle, a bare array, a TAXII 2.1 envelope or JSON Lines): incidents, identities,
threat actors and intrusion sets, and how they relate.

Read like a mapping: the tables first (STIX object -> our type, STIX relationship -> our relation,
incident-core property -> Incident field), the few rules that need code after them.
- `attributed-to` is followed as a chain (incident -> intrusion-set or campaign -> threat-actor -> ...):
  every intrusion set and threat actor on it PERPETRATED the incident.
- `attributed-to` from a threat actor or intrusion set to an identity, threat actor or intrusion set is kept as
  stated: ATTRIBUTED_TO (actor -> the party or actor), with the relationship's confidence. An identity of class
  individual is a Person, an organisation a Company (an Organization in a public sector), as everywhere here.
  Attribution never makes the party liable (docs/analytics.md, liability chains).
- `targets` and `impacts` from an incident to an identity, and an impact object's `impacted_refs`,
  make the identity AFFECTED by the incident; a victim that is a company is also RESPONSIBLE_FOR it as its
  operator (the organisation whose systems were compromised, the rule VERIS records follow).
- `owns` is STIX asset ownership (an identity owns infrastructure): never corporate OWNS, so ignored.
- The incident-core extension exists in several published spellings: the extension is found under any
  key of `extensions` (or at the top level), impacts come inline (`confidentiality_impacts`, ...,
  the older `information_impacts`) or as `impact` objects named by `impact_refs`.
Provenance: the creator (`created_by_ref`, by name when the bundle holds it), `modified`, the report
that contains the object, and every `external_references` entry become the record's sources.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem

from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.formats import Raw
from corpgraph.loaders.formats.incident_parts import day_of, placeholder, safe_id, url_source
from corpgraph.loaders.formats.jsondoc import first_char, iter_json_items, read_document
from corpgraph.loaders.jsontext import loads
from corpgraph.loaders.lines import MAX_LINE

Item = tuple[str, dict[str, Any]]  # (JSON pointer, native record)
Issue = tuple[str, str, str]  # (JSON pointer, field, reason)

# STIX identity_class -> our entity type; organizations in a public sector are Organizations.
IDENTITY_CLASS = {"individual": "Person", "organization": "Company", "group": "Organization",
                  "class": "Organization", "system": "Organization", "unknown": "Organization"}
PUBLIC_SECTORS = ("government", "defense", "defence", "law-enforcement", "non-profit", "nonprofit")
ACTOR_TYPES = {"threat-actor": "threat actor", "intrusion-set": "intrusion set"}
# Nodes an attribution chain may pass through; only ACTOR_TYPES become perpetrators.
CHAIN_TYPES = frozenset({*ACTOR_TYPES, "campaign"})
# What an actor can be attributed to (ATTRIBUTED_TO): an identity (a party) or another actor.
ATTRIBUTION_TARGETS = frozenset({*ACTOR_TYPES, "identity"})
VICTIM_RELATIONSHIPS = {"targets": "targeted", "impacts": "impacted"}
# incident-core property -> Incident field (alternative spellings in order of preference).
INCIDENT_CORE = {"determination": ("determination",), "investigation_status": ("investigation_status", "status"),
                 "incident_types": ("incident_types",)}
INLINE_IMPACTS = {"confidentiality_impacts": "confidentiality", "integrity_impacts": "integrity",
                  "availability_impacts": "availability", "physical_impacts": "physical",
                  "monetary_impacts": "monetary", "external_impacts": "external", "information_impacts": "confidentiality"}
# Impact fields in their several spellings -> Impact fields.
IMPACT_FIELDS = {"information_type": ("information_type", "type"), "loss_type": ("loss_type", "impact", "alteration"),
                 "record_count": ("record_count",), "description": ("description",)}
# incident_types words -> category (checked in this order; impacts can also decide, see _category).
CATEGORY_WORDS = (("data_leak", ("breach", "exfiltration", "leak", "disclosure")),
                  ("intrusion", ("ransomware", "malware", "phishing", "exploit", "unauthorized", "intrusion",
                                 "compromise", "supply-chain", "insider", "account-takeover", "backdoor")),
                  ("outage", ("denial-of-service", "ddos", "dos", "outage", "availability")),
                  ("fraud", ("fraud",)))
NO_LOSS = frozenset({"none", "no-loss", "not-applicable", "unknown"})
_BUNDLE = re.compile(rb'"type"\s*:\s*"bundle"')
# A STIX object's id is `<type>--<UUID>` (STIX 2.1, 2.9): no other format corpgraph reads writes its ids so.
_STIX_ID = re.compile(rb'"id"\s*:\s*"[a-z][a-z0-9-]*--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                      rb'[0-9a-fA-F]{12}"')
# STIX objects that become no record of their own but part of others' (the coverage report counts them so).
FOLDED = {"report": "sources of the objects it contains", "impact": "impacts of its incident",
          "location": "the country of identities located there", "located-at": "the country of its identity"}
# Why the other objects that become nothing are left out.
NOT_KEPT = {"relationship": "`{}`: corpgraph follows only attributed-to (from an incident, a threat actor or an "
                            "intrusion set) and targets/impacts from an incident to an identity",
            "owns": "STIX owns is asset ownership, not corporate ownership",
            "campaign": "followed in attribution chains only (its actors become perpetrators)",
            "identity": "nothing to keep"}
NOT_KEPT_TYPE = "corpgraph keeps no {} objects (threat intelligence, not parties or incidents)"


class StixFormat:
    """STIX 2.1 objects as people hold them: a bundle, a bare JSON array of objects, a TAXII 2.1 envelope
    (`{"objects": [...], "more": ...}`) or JSON Lines of objects. Relationships need every object, so the
    objects of a file are read whole."""

    name = "stix"

    def sniff(self, head: bytes, path: Path) -> bool:
        """A JSON document or JSON Lines that is a bundle or holds STIX objects (ids `<type>--<UUID>`)."""
        return first_char(head) in ("{", "[") and (_BUNDLE.search(head) is not None or _STIX_ID.search(head) is not None)

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """Native records of the file, each located by the JSON pointer (or line) of the STIX object it comes from;
        the objects are counted by type in `coverage` (they are read whole, so they are counted at the end)."""
        file = str(path)
        found = _objects(path)
        if isinstance(found, Problem):
            yield found
            return
        objects, prefix, lines = found
        made: dict[int, list[str]] = defaultdict(list)
        placeholders: list[Raw] = []
        for item in read_objects(objects, prefix):
            at = _index(item[0], prefix)
            origin = Origin(file, lines[at]) if lines else Origin(file, 0 if at < 0 else at + 1, item[0])
            if len(item) == 3:
                yield origin.problem(item[1], item[2])
            elif item[1].get("placeholder"):
                placeholders.append((origin, item[1]))
            else:
                made[at].append(str(item[1]["type"]))
                yield origin, item[1]
        if coverage is not None:
            _count(objects, made, coverage)
        yield from placeholders if coverage is None else coverage.made(placeholders)


FORMAT = StixFormat()


def _objects(path: Path) -> tuple[list[Any], str, list[int]] | Problem:
    """The file's STIX objects, the JSON pointer of their list ("/objects" in a bundle or a TAXII envelope,
    "" in a bare array) and, for JSON Lines, the line of each object (empty otherwise)."""
    document = read_document(path)
    if isinstance(document, list):
        return document, "", []
    if isinstance(document, dict) and isinstance(document.get("objects"), list):
        return document["objects"], "/objects", []  # a bundle, or a TAXII envelope (no "type")
    if isinstance(document, dict):
        return [document], "", [1]  # JSON Lines of one object
    if isinstance(document, Problem) and _more_than_one_value(path):
        objects, lines = [], []
        for item in iter_json_items(path):
            if isinstance(item, Problem):
                return item
            objects.append(item[1])
            lines.append(item[0].line)
        return objects, "", lines
    if isinstance(document, Problem):
        return document
    return Problem(str(path), 0, "(document)", 'expected STIX objects: a bundle, a TAXII envelope {"objects": [...]}, '
                                               "a JSON array of objects or JSON Lines of objects", "")


def _more_than_one_value(path: Path) -> bool:
    """True when the file starts with a whole JSON object on its first line (JSON Lines, not a broken document)."""
    with path.open("rb") as handle:
        first = handle.readline(MAX_LINE + 1)  # a longer first line is no JSON Lines line anyway (loaders.lines)
    try:
        return isinstance(loads(first.decode("utf-8-sig")), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def _index(pointer: str, prefix: str) -> int:
    """The position (from 0) of the object a pointer names in the list of objects; -1 for the file itself."""
    rest = pointer[len(prefix):].split("/") if pointer.startswith(prefix + "/") else []
    return int(rest[1]) if len(rest) > 1 and rest[1].isdigit() else -1


def read_objects(objects: list[Any], prefix: str = "/objects") -> Iterator[Item | Issue]:
    """Native records of a list of STIX objects (entities first, then relations), or issues naming the pointer."""
    bundle_ = _Bundle(objects, prefix)
    yield from bundle_.issues
    yield from bundle_.entities()
    yield from bundle_.relations()


class _Bundle:
    """One bundle's objects by id, with what the rules need: reports, creators, locations, attributions."""

    def __init__(self, objects: list[Any], prefix: str) -> None:
        self.issues: list[Issue] = []
        self.objects: dict[str, tuple[str, dict[str, Any]]] = {}
        for at, obj in enumerate(objects):
            pointer = f"{prefix}/{at}"
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not isinstance(obj.get("type"), str):
                self.issues.append((pointer, "id", "every STIX object needs a string `type` and `id`"))
                continue
            self.objects[obj["id"]] = (pointer, obj)
        self.reports: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.links: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
        for pointer, obj in self.objects.values():
            self._index(pointer, obj)
        self.placeholders: dict[str, dict[str, Any]] = {}
        self.referenced_at: dict[str, str] = {}

    def _index(self, pointer: str, obj: dict[str, Any]) -> None:
        """Remember reports (as sources of what they contain) and relationships by source."""
        if obj["type"] == "report":
            for ref in obj.get("object_refs") or []:
                self.reports[ref].append(obj)
        elif obj["type"] == "relationship":
            source, target = obj.get("source_ref"), obj.get("target_ref")
            if not isinstance(source, str) or not isinstance(target, str):
                self.issues.append((pointer, "source_ref", "a relationship needs `source_ref` and `target_ref`"))
                return
            self.links[source].append((str(obj.get("relationship_type")), target, obj))

    # --- entities -------------------------------------------------------------------------------------

    def entities(self) -> Iterator[Item | Issue]:
        """Incidents, identities and actors of the bundle."""
        for pointer, obj in self.objects.values():
            kind = obj["type"]
            if kind == "incident":
                yield from self._incident(pointer, obj)
            elif kind == "identity":
                yield pointer, self._identity(obj)
            elif kind in ACTOR_TYPES:
                yield pointer, self._actor(obj)

    def _base(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Fields every entity takes from a STIX object: id, name, description, sources."""
        record: dict[str, Any] = {"id": stix_id(obj["id"]), "name": str(obj.get("name") or obj["id"]), "sources": self.sources(obj)}
        if obj.get("description"):
            record["description"] = str(obj["description"])
        if obj.get("aliases"):
            record["aliases"] = [str(a) for a in obj["aliases"]]
        return _with_confidence(record, obj)

    def _identity(self, obj: dict[str, Any]) -> dict[str, Any]:
        """identity -> Person, Company or Organization by identity_class and sectors."""
        kind = IDENTITY_CLASS.get(str(obj.get("identity_class", "unknown")), "Organization")
        sectors = [str(s) for s in obj.get("sectors") or []]
        public = [s for s in sectors if s.startswith(PUBLIC_SECTORS)]
        if kind == "Company" and public:
            kind = "Organization"
        record = {"type": kind, **self._base(obj)}
        if kind == "Organization":
            record["kind"] = public[0] if public else str(obj.get("identity_class", "unknown"))
        country = self._country(obj["id"])
        if country:
            record["country"] = country
        return record

    def _actor(self, obj: dict[str, Any]) -> dict[str, Any]:
        """threat-actor and intrusion-set -> Actor, aliases kept; kind = its STIX types or object type."""
        kinds = obj.get("threat_actor_types") or [ACTOR_TYPES[obj["type"]]]
        return {"type": "Actor", **self._base(obj), "kind": ", ".join(str(k) for k in kinds), "known": True}

    def _incident(self, pointer: str, obj: dict[str, Any]) -> Iterator[Item | Issue]:
        """incident -> Incident with the incident-core fields, impacts, figures and dates."""
        core = incident_core(obj)
        impacts, amounts = self._impacts(core)
        record: dict[str, Any] = {"type": "Incident", **self._base(obj), "as_given": {}}
        for field, spellings in INCIDENT_CORE.items():
            value = next((core[s] for s in spellings if core.get(s) not in (None, "", [])), None)
            if value is not None:
                record[field] = [str(v) for v in value] if field == "incident_types" else str(value)
        record["impacts"] = impacts
        record["amounts"] = amounts
        record["category"], record["as_given"]["category"] = _category(record.get("incident_types", []), impacts)
        counts = [i["record_count"] for i in impacts if i["category"] == "confidentiality" and "record_count" in i]
        if counts:
            record["records_affected"] = sum(counts)
        yield from _dates(pointer, core, record)
        yield pointer, record

    def _impacts(self, core: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Impacts inline (every published spelling) and from impact objects, with monetary amounts."""
        impacts: list[dict[str, Any]] = []
        for key, category in INLINE_IMPACTS.items():
            for item in core.get(key) or []:
                impacts.append(_impact(category, item))
        amounts: list[dict[str, Any]] = []
        for ref in core.get("impact_refs") or []:
            found = self.objects.get(ref)
            if found is None or found[1].get("superseded_by_ref"):
                continue  # a superseded impact is an earlier estimate of a later one: never counted twice
            obj = found[1]
            category = str(obj.get("impact_category") or "unknown")
            detail = (obj.get("extensions") or {}).get(category) or {}
            impacts.append(_impact(category, {**detail, "description": obj.get("description")}))
            if category == "monetary" and detail.get("currency") and detail.get("max_amount") is not None:
                amounts.append({"value": detail["max_amount"], "currency": str(detail["currency"]).upper(),
                                "label": str(detail.get("variety") or "monetary impact")})
        return impacts, amounts

    def _country(self, identity: str) -> str | None:
        """The country of an identity's `located-at` location, upper-cased."""
        for kind, target, _ in self.links.get(identity, []):
            location = self.objects.get(target)
            if kind == "located-at" and location and location[1].get("country"):
                return str(location[1]["country"]).upper()
        return None

    # --- relations ------------------------------------------------------------------------------------

    def relations(self) -> Iterator[Item]:
        """PERPETRATED along attribution chains, AFFECTED for victims, ATTRIBUTED_TO as stated, and placeholders
        for open references."""
        out: list[Item] = []
        for pointer, obj in self.objects.values():
            if obj["type"] in ACTOR_TYPES:
                out.extend(self._attributions(obj["id"]))
            if obj["type"] != "incident":
                continue
            incident = stix_id(obj["id"])
            for actor, rel_pointer, rel in self._attributed(obj["id"]):
                out.append((rel_pointer, {"type": "PERPETRATED", "source": stix_id(actor), "target": incident,
                                          "sources": self.sources(rel)}))
            out.extend(self._operators(list(self._victims(obj, incident))))
        for id, record in self.placeholders.items():
            yield self.referenced_at[id], record
        yield from out

    def _attributed(self, start: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(actor id, relationship pointer, relationship) for every actor on the attribution chain."""
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            for kind, target, rel in self.links.get(node, []):
                kind_of_target = target.split("--", 1)[0]
                if kind != "attributed-to" or kind_of_target not in CHAIN_TYPES or target in seen:
                    continue
                seen.add(target)
                todo.append(target)
                if kind_of_target in ACTOR_TYPES:
                    at = self.objects[rel["id"]][0]
                    self._need(target, at, "Actor", kind=ACTOR_TYPES[kind_of_target], known=True)
                    yield target, at, rel

    def _attributions(self, actor: str) -> Iterator[Item]:
        """ATTRIBUTED_TO for each `attributed-to` from an actor to an identity or another actor, as stated."""
        for kind, target, rel in self.links.get(actor, []):
            kind_of_target = target.split("--", 1)[0]
            if kind != "attributed-to" or kind_of_target not in ATTRIBUTION_TARGETS or target == actor:
                continue
            at = self.objects[rel["id"]][0]
            if kind_of_target in ACTOR_TYPES:
                self._need(target, at, "Actor", kind=ACTOR_TYPES[kind_of_target], known=True)
            else:
                self._need(target, at, "Organization", kind="unknown")  # no identity_class to read: unknown
            yield at, _with_confidence({"type": "ATTRIBUTED_TO", "source": stix_id(actor), "target": stix_id(target),
                                        "sources": self.sources(rel)}, rel)

    def _victims(self, obj: dict[str, Any], incident: str) -> Iterator[Item]:
        """AFFECTED from `targets`/`impacts` relationships and from impact objects' `impacted_refs`."""
        for kind, target, rel in self.links.get(obj["id"], []):
            if kind in VICTIM_RELATIONSHIPS and target.startswith("identity--"):
                self._need(target, self.objects[rel["id"]][0], "Company")
                yield self.objects[rel["id"]][0], {"type": "AFFECTED", "source": incident, "target": stix_id(target),
                                                   "how": VICTIM_RELATIONSHIPS[kind], "sources": self.sources(rel)}
        for ref in incident_core(obj).get("impact_refs") or []:
            found = self.objects.get(ref)
            for target in (found[1].get("impacted_refs") or []) if found else []:
                if str(target).startswith("identity--"):
                    self._need(target, found[0], "Company")  # type: ignore[index]
                    yield found[0], {"type": "AFFECTED", "source": incident, "target": stix_id(target),  # type: ignore[index]
                                     "how": str(found[1].get("impact_category") or "impacted"),  # type: ignore[index]
                                     "sources": self.sources(found[1])}  # type: ignore[index]

    def _operators(self, victims: list[Item]) -> Iterator[Item]:
        """Each AFFECTED, then, for a victim that is a company, RESPONSIBLE_FOR as the incident's operator (once).

        An incident's victim organisation is the one whose systems were compromised: its operator, as VERIS
        records read (loaders.formats.veris). Only companies answer for incidents; people and public bodies do not.
        """
        done: set[str] = set()
        for pointer, affected in victims:
            yield pointer, affected
            victim = affected["target"]
            if victim not in done and self._type_of(victim) == "Company":
                done.add(victim)
                yield pointer, {"type": "RESPONSIBLE_FOR", "source": victim, "target": affected["source"],
                                "role": "operator", "sources": affected["sources"]}

    def _type_of(self, our_id: str) -> str:
        """Our entity type of a STIX identity by our id (a placeholder's type when the file leaves it open)."""
        ref = our_id.removeprefix("stix:")
        if ref in self.objects:
            return str(self._identity(self.objects[ref][1])["type"])
        return str(self.placeholders.get(ref, {}).get("type", ""))

    def _need(self, ref: str, at: str, type_name: str, **extra: Any) -> None:
        """A placeholder for a referenced object the bundle does not define (located where it is referenced)."""
        if ref not in self.objects and ref not in self.placeholders:
            self.placeholders[ref] = placeholder(type_name, stix_id(ref), ref, **extra)
            self.referenced_at[ref] = at

    # --- provenance -----------------------------------------------------------------------------------

    def sources(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        """The object's own provenance, the reports that contain it, and its external references."""
        creator = self.objects.get(str(obj.get("created_by_ref")))
        publisher = str(creator[1].get("name") if creator else obj.get("created_by_ref") or "STIX bundle")
        out: list[dict[str, Any]] = []
        for report in self.reports.get(obj["id"], []):
            out.append({"publisher": publisher, "title": str(report.get("name") or report["id"]),
                        "published_on": day_of(report.get("published")), "record_id": obj["id"],
                        "recorded_on": day_of(obj.get("modified") or obj.get("created")), "source_type": "stix"})
        if not out:
            out.append({"publisher": publisher, "title": f"STIX {obj['type']} {obj.get('name') or obj['id']}",
                        "record_id": obj["id"], "recorded_on": day_of(obj.get("modified") or obj.get("created")),
                        "source_type": "stix"})
        for ref in obj.get("external_references") or []:
            if isinstance(ref, dict):
                out.extend(_reference(ref))
        return out


def _count(objects: list[Any], made: dict[int, list[str]], coverage: Coverage) -> None:
    """Count every object by type: the records made at its place, else what it became or why not."""
    for at, obj in enumerate(objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            continue  # reported as a problem already
        kind = obj["type"]
        detail = str(obj.get("relationship_type")) if kind == "relationship" else kind
        folded = FOLDED.get(detail) or FOLDED.get(kind)
        reason = NOT_KEPT.get(detail) or (NOT_KEPT.get(kind) or NOT_KEPT_TYPE).format(detail)
        coverage.record(kind, made.get(at) or ([folded] if folded else []), (), reason)


def stix_id(ref: str) -> str:
    """Our id of a STIX object: `stix:<type>--<uuid>`."""
    return safe_id(f"stix:{ref}")


def _with_confidence(record: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """The record with the object's confidence, when it gives one (STIX 0..100, ours 0..1)."""
    value = obj.get("confidence")
    # JSON true is a Python int: STIX wants an integer 0..100, so `true` is no confidence rather than 1 of 100.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        record["confidence"] = value / 100
    return record


def incident_core(obj: dict[str, Any]) -> dict[str, Any]:
    """The incident-core properties of an incident, whichever extension key (or none) holds them."""
    found: dict[str, Any] = {}
    for ext in (obj.get("extensions") or {}).values():
        if isinstance(ext, dict):
            found.update(ext)
    return {**{k: v for k, v in obj.items() if k not in found}, **found}


def _impact(category: str, item: Any) -> dict[str, Any]:
    """One impact in our shape from any of the published spellings (a bare string is a description)."""
    if not isinstance(item, dict):
        return {"category": category, "description": str(item)}
    out: dict[str, Any] = {"category": category}
    for field, spellings in IMPACT_FIELDS.items():
        value = next((item[s] for s in spellings if item.get(s) not in (None, "")), None)
        if value is not None:
            out[field] = value if field == "record_count" else str(value)
    if "availability_impact" in item:
        out["description"] = f"availability impact {item['availability_impact']}%"
    return out


def _category(types: list[str], impacts: list[dict[str, Any]]) -> tuple[str, str]:
    """Our category from the incident types and impacts, and the basis it was read from (kept in as_given)."""
    basis = "incident_types: " + (", ".join(types) or "none")
    lost = [i for i in impacts if i["category"] == "confidentiality"
            and (i.get("record_count") or str(i.get("loss_type", "none")) not in NO_LOSS)]
    if lost:
        return "data_leak", basis + "; confidentiality impact with a loss"
    for category, words in CATEGORY_WORDS:
        if any(w in t.lower() for t in types for w in words):
            return category, basis
    if any(i["category"] == "availability" and "availability impact 0%" != i.get("description") for i in impacts):
        return "outage", basis + "; availability impact"
    return "other", basis


def _dates(pointer: str, core: dict[str, Any], record: dict[str, Any]) -> Iterator[Issue]:
    """occurred_on/ended_on: first_seen/last_seen, or the earliest start and latest end of attacker activities."""
    activities = [a for a in core.get("attacker_activities") or [] if isinstance(a, dict)]
    starts = [core.get("first_seen"), *(a.get("start_time") for a in activities)]
    ends = [core.get("last_seen"), *(a.get("end_time") for a in activities)]
    for field, stamps, pick in (("occurred_on", starts, min), ("ended_on", ends, max)):
        given = [s for s in stamps if s]
        days = [d for d in (day_of(s) for s in given) if d]
        if len(days) < len(given):
            yield pointer, field, f"not a STIX timestamp among {given!r}"
        elif days:
            chosen = pick(given, key=lambda s: str(day_of(s)))
            record[field] = day_of(chosen)
            if chosen != record[field]:
                record["as_given"][field] = str(chosen)


def _reference(ref: dict[str, Any]) -> list[dict[str, Any]]:
    """A STIX external reference as a source (a URL, or an id within a named source)."""
    name = str(ref.get("source_name") or "external reference")
    title = str(ref.get("description") or ref.get("external_id") or name)
    if ref.get("url"):
        return [{**url_source(str(ref["url"]), title), "record_id": ref.get("external_id")}]
    if ref.get("external_id"):
        return [{"publisher": name, "title": title, "record_id": str(ref["external_id"])}]
    return []
