"""VERIS incidents (the VERIS Community Database's JSON): one per file, a JSON array, or JSON Lines.

Read like a mapping: the tables first, the rules needing code after them.
- action -> category: confidentiality with data disclosed is a data_leak; hacking/malware/social/misuse
  an intrusion; error/environmental, or availability alone, an outage; anything else `other`.
- data_total -> records_affected; the larger of data_total and the sum of data[].amount ->
  records_affected_max (real records contradict themselves; the larger is kept as the upper bound).
- availability.duration {unit, value} -> duration_hours.
- victim (and each victim.secondary) -> Company, or Organization for public administration (NAICS 92),
  AFFECTED by the incident. A primary victim that is a company is the organisation whose assets were
  compromised, so it is also RESPONSIBLE_FOR the incident as its operator (as the seed records Alipay
  and Ctrip).
- named external/partner actors -> Actor (one per name, shared across incidents) with PERPETRATED;
  the unnamed ones -> one unknown Actor per incident.
- reference URLs -> sources, beside the VERIS record itself.
"Unknown", "NA" (and "Other" where a value is expected) are sentinels: read as missing, never as
values. The one exception is a country code: VERIS's country list has "NA" for Namibia.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem

from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.formats import Raw
from corpgraph.loaders.formats.incident_parts import day_of, name_id, safe_id, url_source
from corpgraph.loaders.formats.jsondoc import first_char, iter_json_items, read_document
from corpgraph.loaders.jsontext import JsonTextError, loads

SENTINELS = frozenset({"unknown", "na", "n/a", "other", "none", ""})
INTRUSION_ACTIONS = ("hacking", "malware", "social", "misuse")
OUTAGE_ACTIONS = ("error", "environmental")
HOURS = {"seconds": 1 / 3600, "minutes": 1 / 60, "hours": 1.0, "days": 24.0, "weeks": 168.0,
         "months": 730.5, "years": 8766.0}  # a month is 1/12 of a 365.25-day year
DISCLOSURE = {"yes": "confirmed-loss", "potentially": "suspected-loss"}
DETERMINATION = {"confirmed": "confirmed", "suspected": "suspected", "false positive": "false-positive",
                 "near miss": "near-miss"}
PUBLISHERS = {"vcdb": "VERIS Community Database (VCDB)"}
# Our field -> where its value comes from in a VERIS incident (so a problem points at the source value).
INCIDENT_FIELDS = {"description": "/summary", "occurred_on": "/timeline/incident", "records_affected":
                   "/attribute/confidentiality/data_total", "records_affected_max": "/attribute/confidentiality",
                   "duration_hours": "/attribute/availability/duration", "amounts": "/impact"}
VICTIM_FIELDS = {"name": "/victim_id", "country": "/country"}
# The coverage report counts VERIS sections: the section each native record comes from (by its type), what the
# sections read into the incident itself became, and why the others are not kept. Sections that become
# records: incident, victim, actor; incident_id and schema_version name the record, they are no content.
SECTION_OF = {"Incident": "incident", "Company": "victim", "Organization": "victim", "AFFECTED": "victim",
              "RESPONSIBLE_FOR": "victim", "Actor": "actor", "PERPETRATED": "actor"}
FOLDED_SECTIONS = {"summary": "the incident's description", "timeline": "the incident's dates",
                   "action": "the incident's category and types", "attribute": "the incident's records and impacts",
                   "impact": "the incident's amounts", "security_incident": "the incident's determination",
                   "reference": "the incident's sources", "source_id": "the incident's sources",
                   "plus": "the incident's sources"}
NOT_KEPT_SECTIONS = {"asset": "corpgraph keeps no inventory of the assets hit",
                     "discovery_method": "corpgraph keeps no discovery method"}
NOT_KEPT_SECTION = "a section corpgraph does not read"
NOT_SECTIONS = frozenset({"incident_id", "schema_version"})
_HEAD = re.compile(rb'"incident_id"\s*:')
_URL = re.compile(r"https?://[^\s;,]+")


class VerisFormat:
    """VERIS incident JSON: one incident per file (an object), a JSON array of them, or JSON Lines."""

    name = "veris"

    def sniff(self, head: bytes, path: Path) -> bool:
        """JSON (an object, array or lines) whose records carry `incident_id` and a VERIS section."""
        return first_char(head) in ("{", "[") and _HEAD.search(head) is not None and (
            b'"schema_version"' in head or b'"timeline"' in head or b'"action"' in head)

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """Native records of every incident, located by JSON pointer (line numbers for JSON Lines); the
        sections of each incident are counted in `coverage`."""
        for item in _incidents(path):
            if isinstance(item, Problem):
                yield item
                continue
            made: dict[str, list[str]] = {}
            for out in incident_records(*item):
                if not isinstance(out, Problem):
                    made.setdefault(SECTION_OF.get(str(out[1]["type"]), "incident"), []).append(str(out[1]["type"]))
                yield out
            if coverage is not None and isinstance(item[1], dict):
                _count(item[1], made, coverage)


FORMAT = VerisFormat()


def _count(data: dict[str, Any], made: dict[str, list[str]], coverage: Coverage) -> None:
    """Count one incident's sections: those that made records, those read into the incident, the others."""
    for section in dict.fromkeys([*made, *data]):
        if section in NOT_SECTIONS:
            continue
        folded = [FOLDED_SECTIONS[section]] if section in FOLDED_SECTIONS and made.get("incident") else []
        reason = NOT_KEPT_SECTIONS.get(section, NOT_KEPT_SECTION)
        coverage.record(section, made.get(section) or folded, (), reason)


def _incidents(path: Path) -> Iterator[tuple[Origin, Any] | Problem]:
    """Each incident with its origin: a single (pretty-printed) object, or the items of an array or lines.

    A file starting with "{" is a JSON document unless its first line holds a whole object (JSON Lines): so a
    truncated or wrongly encoded document is reported once as such, not as a hundred broken lines.
    """
    with path.open("rb") as probe:
        head = probe.read(4096)
        first_line = head.split(b"\n", 1)[0] if b"\n" in head else head + probe.readline(1 << 20)
    if first_char(head) == "{" and not _whole_object(first_line):
        document = read_document(path)
        if isinstance(document, Problem):
            yield document
        else:
            yield Origin(str(path), 1, ""), document
        return
    yield from iter_json_items(path)


def _whole_object(line: bytes) -> bool:
    """The line holds one whole JSON value (the first line of a JSON Lines file)."""
    try:
        loads(line.decode("utf-8-sig"))
    except (UnicodeDecodeError, JsonTextError):
        return False
    return True


def incident_records(at: Origin, data: Any) -> Iterator[Raw | Problem]:
    """The records of one VERIS incident: the incident, its victims, its actors and their relations."""
    if not isinstance(data, dict) or not isinstance(data.get("incident_id"), str) or not data["incident_id"].strip():
        yield _problem(at, "", "incident_id", "a VERIS incident needs a non-empty string incident_id")
        return
    parts = _Incident(data, at)
    records = list(parts.records())
    yield from parts.issues
    yield from records


class _Incident:
    """One VERIS incident read into native records."""

    def __init__(self, data: dict[str, Any], at: Origin) -> None:
        self.data, self.at = data, at
        self.issues: list[Problem] = []
        self.key = data["incident_id"].strip()
        self.id = safe_id(f"veris:{self.key}")
        self.sources = self._sources()

    def records(self) -> Iterator[Raw]:
        """Entities first (incident, victims, actors), then the relations between them."""
        incident = self._incident()
        victims = list(self._victims())
        actors = list(self._actors())
        yield self._where("", INCIDENT_FIELDS), incident
        for record, _ in victims:
            yield self._where("/victim", VICTIM_FIELDS), record
        for record in actors:
            yield self._where("/actor"), record
        for record, how in victims:
            yield self._where("/victim"), self._rel("AFFECTED", self.id, record["id"], how=how)
            if how == "victim" and record["type"] == "Company":  # only companies answer for incidents
                yield self._where("/victim"), self._rel("RESPONSIBLE_FOR", record["id"], self.id, role="operator")
        for record in actors:
            yield self._where("/actor"), self._rel("PERPETRATED", record["id"], self.id)

    # --- the incident ---------------------------------------------------------------------------------

    def _incident(self) -> dict[str, Any]:
        """The Incident record: category, summary, timeline, figures, determination, impacts."""
        d = self.data
        category = self._category()
        record: dict[str, Any] = {"type": "Incident", "id": self.id, "category": category, "as_given": {},
                                  "sources": self.sources, "incident_types": self._types(), "impacts": self._impacts()}
        if _known(d.get("summary")):
            record["description"] = str(d["summary"])
        determination = DETERMINATION.get(str(d.get("security_incident", "")).lower())
        if determination:
            record["determination"] = determination
        self._timeline(record)
        self._records_affected(record)
        self._duration(record)
        self._amounts(record)
        victim = self._victim_name(d.get("victim") or {})
        when = record["as_given"].get("occurred_on") or record.get("occurred_on") or "date unknown"
        record["name"] = f"{victim or 'Unnamed victim'}: {category.replace('_', ' ')} ({when})"
        return record

    def _category(self) -> str:
        """data_leak > intrusion > outage > other, from the attributes and the actions."""
        action = _dict(self.data.get("action"))
        attribute = _dict(self.data.get("attribute"))
        if str(_dict(attribute.get("confidentiality")).get("data_disclosure", "")).lower() == "yes":
            return "data_leak"
        if any(a in action for a in INTRUSION_ACTIONS):
            return "intrusion"
        if any(a in action for a in OUTAGE_ACTIONS) or (attribute and set(attribute) == {"availability"}):
            return "outage"
        return "other"

    def _types(self) -> list[str]:
        """The source's own classification: `action: variety` for every action variety given."""
        out: list[str] = []
        for action, detail in sorted(_dict(self.data.get("action")).items()):
            varieties = [v for v in _dict(detail).get("variety") or [] if _known(v)]
            out.extend(f"{action}: {v}" for v in varieties) if varieties else out.append(action)
        return out

    def _impacts(self) -> list[dict[str, Any]]:
        """Confidentiality impacts per data variety (with amounts), availability and integrity varieties."""
        attribute = _dict(self.data.get("attribute"))
        conf = _dict(attribute.get("confidentiality"))
        loss = DISCLOSURE.get(str(conf.get("data_disclosure", "")).lower())
        out = []
        for item in conf.get("data") or []:
            item = _dict(item)
            impact: dict[str, Any] = {"category": "confidentiality"}
            if _known(item.get("variety")):
                impact["information_type"] = str(item["variety"])
            if loss:
                impact["loss_type"] = loss
            if isinstance(item.get("amount"), int) and item["amount"] >= 0:
                impact["record_count"] = item["amount"]
            if "information_type" in impact or "record_count" in impact:  # an "Unknown" variety says nothing
                out.append(impact)
        for category in ("availability", "integrity"):
            for variety in _dict(attribute.get(category)).get("variety") or []:
                if _known(variety):
                    out.append({"category": category, "loss_type": str(variety)})
        return out

    def _timeline(self, record: dict[str, Any]) -> None:
        """timeline.incident year/month/day: a partial date is its first day, kept as given in as_given."""
        when = _dict(_dict(self.data.get("timeline")).get("incident"))
        year, month, day = when.get("year"), when.get("month"), when.get("day")
        if not isinstance(year, int):
            return
        parts = [f"{year:04d}"] + ([f"{month:02d}"] if isinstance(month, int) else [])
        parts += [f"{day:02d}"] if isinstance(month, int) and isinstance(day, int) else []
        given = "-".join(parts)
        full = "-".join(parts + ["01"] * (3 - len(parts)))
        record["occurred_on"] = full
        if given != full:
            record["as_given"]["occurred_on"] = given

    def _records_affected(self, record: dict[str, Any]) -> None:
        """records_affected = data_total; records_affected_max = max(data_total, sum of data[].amount)."""
        conf = _dict(_dict(self.data.get("attribute")).get("confidentiality"))
        total = conf.get("data_total")
        amounts = [i["amount"] for i in conf.get("data") or [] if isinstance(_dict(i).get("amount"), int)]
        if total is not None and not isinstance(total, int):
            if _known(total):
                self.issues.append(_problem(self.at, "/attribute/confidentiality/data_total", "data_total",
                                            f"expected a whole number of records, got {total!r}"))
            total = None
        bounds = [x for x in (total, sum(amounts) if amounts else None) if x is not None]
        if total is not None:
            record["records_affected"] = total
        if bounds:
            record["records_affected_max"] = max(bounds)

    def _duration(self, record: dict[str, Any]) -> None:
        """availability.duration {unit, value} in hours; Never/NA/Unknown units are no duration."""
        duration = _dict(_dict(_dict(self.data.get("attribute")).get("availability")).get("duration"))
        unit, value = str(duration.get("unit", "")).lower(), duration.get("value")
        if unit in HOURS and isinstance(value, (int, float)) and not isinstance(value, bool):
            record["duration_hours"] = value * HOURS[unit]
            if unit != "hours":
                record["as_given"]["duration_hours"] = f"{value:g} {duration['unit']}"

    def _amounts(self, record: dict[str, Any]) -> None:
        """impact.overall_amount with its ISO currency, as an amount of the incident."""
        impact = _dict(self.data.get("impact"))
        value, currency = impact.get("overall_amount"), impact.get("iso_currency_code")
        if isinstance(value, (int, float)) and _known(currency) and re.fullmatch(r"[A-Z]{3}", str(currency)):
            record["amounts"] = [{"value": value, "currency": currency, "label": "overall loss"}]

    # --- parties --------------------------------------------------------------------------------------

    def _victims(self) -> Iterator[tuple[dict[str, Any], str]]:
        """(record, how) for the primary victim and every named secondary victim."""
        victim = _dict(self.data.get("victim"))
        name = self._victim_name(victim)
        kind = "Organization" if str(victim.get("industry", "")).startswith("92") else "Company"
        record: dict[str, Any] = {"type": kind, "sources": self.sources}
        if name:
            record.update(id=name_id("veris:victim", name), name=name, sources=self._named("victim", name))
        else:
            record.update(id=f"{self.id}:victim", name=f"Unnamed victim of VERIS incident {self.key}",
                          unknown_reason="the VERIS record does not name its victim")
        country = _country(victim.get("country"))
        if country:
            record["country"] = country
        if kind == "Organization":
            record["kind"] = "government"
        yield record, "victim"
        for entry in _dict(victim.get("secondary")).get("victim_id") or []:
            name, _, _naics = str(entry).partition(";")  # "name;NAICS" or ";NAICS" when only the code is known
            if _known(name.strip()):
                yield {"type": "Company", "id": name_id("veris:victim", name.strip()), "name": name.strip(),
                       "sources": self._named("victim", name.strip())}, "secondary victim"

    def _victim_name(self, victim: dict[str, Any]) -> str | None:
        """The victim's name (victim_id), or None for a sentinel."""
        name = victim.get("victim_id")
        return str(name).strip() if _known(name) else None

    def _actors(self) -> Iterator[dict[str, Any]]:
        """Named external/partner actors, then one unknown actor for all unnamed ones."""
        actors = _dict(self.data.get("actor"))
        unnamed = []
        for kind in sorted(actors):
            detail = _dict(actors[kind])
            names = [n for n in _list(detail.get("name")) if _known(n)] if kind in ("external", "partner") else []
            for name in names:
                yield {"type": "Actor", "id": name_id("veris:actor", str(name)), "name": str(name).strip(),
                       "kind": kind, "known": True, "sources": self._named("actor", str(name).strip())}
            if not names:
                unnamed.append(kind)
        if unnamed:
            varieties = sorted({str(v) for k in unnamed for v in _dict(actors[k]).get("variety") or [] if _known(v)})
            yield {"type": "Actor", "id": f"{self.id}:actor", "name": f"Unknown actor (VERIS incident {self.key})",
                   "kind": ", ".join(unnamed), "known": False, "sources": self.sources,
                   **({"description": "variety: " + ", ".join(varieties)} if varieties else {})}

    # --- provenance -----------------------------------------------------------------------------------

    def _sources(self) -> list[dict[str, Any]]:
        """The VERIS record itself, then every reference URL."""
        d = self.data
        plus = _dict(d.get("plus"))
        source_id = str(d.get("source_id") or "veris")
        own = {"publisher": PUBLISHERS.get(source_id.lower(), source_id), "title": f"VERIS incident {self.key}",
               "record_id": self.key, "recorded_on": day_of(plus.get("modified") or plus.get("created")),
               "source_type": "veris"}
        urls = _URL.findall(str(d.get("reference") or ""))
        return [own, *(url_source(u, f"reference of VERIS incident {self.key}") for u in dict.fromkeys(urls))]

    def _named(self, role: str, name: str) -> list[dict[str, Any]]:
        """The source of a party known by name across incidents: the same in every incident naming it, so
        that loading incidents in any order (or again) leaves the party's record as it is."""
        return [{"publisher": self.sources[0]["publisher"], "title": f"VERIS {role} named {name!r}",
                 "source_type": "veris"}]

    def _rel(self, type_name: str, source: str, target: str, **fields: Any) -> dict[str, Any]:
        """A relation record carrying the incident's sources."""
        return {"type": type_name, "source": source, "target": target, "sources": self.sources, **fields}

    def _where(self, pointer: str, fields: dict[str, str] | None = None) -> Origin:
        """The origin of a part of this incident (JSON pointer below the incident's; JSON Lines: its line)."""
        at = self.at
        return Origin(at.file, at.line, at.pointer + pointer, fields) if at.pointer is not None else at


def _problem(at: Origin, pointer: str, field: str, reason: str) -> Problem:
    """A problem at a part of an incident (by JSON pointer; JSON Lines: the incident's line)."""
    return Problem(at.file, at.line, field, reason, None if at.pointer is None else at.pointer + pointer)


def _known(value: Any) -> bool:
    """False for missing values and VERIS sentinels ("Unknown", "NA", "Other")."""
    return value is not None and not (isinstance(value, str) and value.strip().lower() in SENTINELS)


def _country(value: Any) -> str | None:
    """The first real country code of a VERIS country list ("NA" is Namibia there, not a sentinel)."""
    for code in _list(value):
        if isinstance(code, str) and re.fullmatch(r"[A-Z]{2}", code.strip()):
            return code.strip()
    return None


def _dict(value: Any) -> dict[str, Any]:
    """The value if it is an object, else an empty one (VERIS sections are optional)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """The value as a list (VERIS has both string and list spellings of some fields)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
