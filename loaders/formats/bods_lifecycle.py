"""The BODS record lifecycle: relationship statements -> dated OWNS/CONTROLS/DECLARED_INTEREST, history kept.

- An interest's startDate/endDate give valid_from/valid_to.
- A statement that updates a relationship (0.2/0.3 `replacesStatements`; 0.4 a later statement of the same
  `recordId`) keeps an unchanged stake as it is; a stake whose share changed ends at the update's
  statementDate and the new one starts there (BODS gives no better date), so answers `as_of` before the
  update still see the old share. Stakes the update no longer carries end at its statementDate.
- A closing statement (0.4 `recordStatus: closed`) ends its stakes at its statementDate unless the
  interest carries its own endDate.
- `directOrIndirect: indirect` (0.2 `interestLevel`) is a declared figure (DECLARED_INTEREST), never an
  edge: the chain's components carry the direct stakes, and both would double count.
- An unspecified interested party becomes an unknown Person with the source's reason, its stake without
  a share (the source's figure stays in as_given).
State is kept per relationship of the file, so an update must come in the same file as what it
updates to end it; across files, the projection keeps the latest-starting stake of an owner.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem

from corpgraph.loaders.coverage import Skipped
from corpgraph.loaders.formats import Raw
from corpgraph.loaders.formats.bods_values import as_date, native_id, share_fields
from corpgraph.loaders.formats.gleif import RELATIONSHIPS
from corpgraph.loaders.formats.spill import Spill

if TYPE_CHECKING:
    from corpgraph.loaders.formats.bods import Statement

# Native field -> where it comes from, relative to an interest.
INTEREST_FIELDS = {"share": "/share", "share_min": "/share", "share_max": "/share", "valid_from": "/startDate",
                   "valid_to": "/endDate", "kind": "/type"}
_TERMS = ("share", "share_min", "share_max")
# Open Ownership's GLEIF-derived BODS 0.2 names the GLEIF relationship only in an interest's details
# ("LEI RelationshipType: IS_FUND-MANAGED_BY"): load each as what it is, as the GLEIF importer does.
GLEIF_RELATIONSHIPS = {name: (rel.type, rel.kind) for name, rel in RELATIONSHIPS.items()}  # GLEIF's one table
_GLEIF_DETAILS = re.compile(r"^LEI RelationshipType: (\S+)$")


@dataclass
class Stake:
    """One native relation record made from one interest, and where it came from."""

    record: dict[str, Any]
    origin: Origin

    def key(self) -> tuple[str, str, str, str]:
        """What makes two stakes of successive statements the same interest: type, kind and endpoints."""
        r = self.record
        return r["type"], r.get("kind", ""), r["source"], r["target"]


class Lifecycle:
    """What one file has said so far: ids it defines, references still open, the current stakes.

    Kept on disk (loaders.formats.spill): it grows with the file (every relationship's stakes, every id).
    """

    def __init__(self) -> None:
        state = Spill()
        self.defined = state.table()  # ids of entity records emitted
        self.alias = state.table()  # 0.2/0.3: a replacing statement's id -> the id of its chain's first
        self.pending = state.table()  # open references: id -> (type, Origin, source, source id)
        self.stakes = state.table()  # relationship (statementID or recordId) -> its list of Stake
        self.latest = state.table()  # 0.4 recordId -> the latest statementDate read

    def entity_id(self, st: "Statement") -> str:
        """The native id of an entity or person statement: its record, or the first statement of its chain."""
        if st.record_id:
            return native_id(st.record_id)
        for old in st.replaces:
            root = self.alias.get(old) or (native_id(old) if native_id(old) in self.defined else None)
            if root:
                self.alias[st.sid] = root
                return root
        return native_id(st.sid)

    def define(self, id: str) -> None:
        """An entity record with this id was emitted: references to it are no longer open."""
        self.defined.add(id)
        self.pending.pop(id, None)

    def placeholders(self) -> Iterator[Raw]:
        """A placeholder record for every id the file referenced and never defined (named by its source id)."""
        for id, (type, origin, source, source_id) in self.pending.items():
            yield origin, {"type": type, "id": id, "name": source_id, "placeholder": True, "sources": [source]}

    def relationship(self, st: "Statement") -> Iterator[Raw | Problem | Skipped]:
        """The stakes of a relationship statement, and the earlier stakes it ends."""
        key = st.record_id or st.sid
        if st.record_id:
            if self.latest.get(key, "") > (st.date or ""):  # the latest statementDate wins
                yield Skipped("an older statement of a record already read")
                return
            self.latest[key] = st.date or ""
        ends = self._ends(st)
        if isinstance(ends, Problem):
            yield ends
            return
        (subject, holder, unknown) = ends
        if unknown is not None:
            self.define(unknown["id"])
            yield st.at("/interestedParty"), unknown
        previous = [s for k in (st.replaces or [key]) for s in self.stakes.pop(k, [])]
        new: list[Stake] = []
        for index, interest in enumerate(st.details.get("interests") or []):
            made = _stake(st, index, interest, holder, subject, unknown is not None)
            if isinstance(made, Problem):
                yield made
            else:
                new.append(made)
        yield from _settle(st, previous, new)
        if st.status != "closed":
            self.stakes[key] = new

    def _ends(self, st: "Statement") -> tuple[str, str, dict[str, Any] | None] | Problem:
        """(subject id, interested party id, the unknown party's record or None), or the Problem."""
        subject = st.details.get("subject")
        if isinstance(subject, dict):
            subject = subject.get("describedByEntityStatement")
        if not isinstance(subject, str) or not subject:
            return st.at("/subject").problem("subject", "a relationship needs the id of its subject")
        party = st.details.get("interestedParty")
        if st.version == "0.4" and isinstance(party, str) and party:
            return self._ref(subject, "Company", st), self._ref(party, "Company", st), None
        if isinstance(party, dict) and isinstance(party.get("describedByEntityStatement"), str):
            return self._ref(subject, "Company", st), self._ref(party["describedByEntityStatement"], "Company", st), None
        if isinstance(party, dict) and isinstance(party.get("describedByPersonStatement"), str):
            return self._ref(subject, "Company", st), self._ref(party["describedByPersonStatement"], "Person", st), None
        details = party.get("unspecified", party) if isinstance(party, dict) else None
        if not isinstance(details, dict) or not (details.get("reason") or details.get("description")):
            return st.at("/interestedParty").problem("source", "a relationship needs its interested party")
        return self._ref(subject, "Company", st), *_unknown_party(st, details)

    def _ref(self, source_id: str, type: str, st: "Statement") -> str:
        """The native id a statement reference points at; remembered as open until the file defines it."""
        id = self.alias.get(source_id) or native_id(source_id)
        if id not in self.defined and id not in self.pending:
            self.pending[id] = (type, st.origin, st.source, source_id)
        return id


def _unknown_party(st: "Statement", details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An unspecified interested party as an unknown Person record (id from the relationship's id)."""
    reason = str(details.get("reason") or "unspecified")
    record: dict[str, Any] = {"type": "Person", "id": native_id(st.record_id or st.sid, ".unspecified"),
                              "name": f"unspecified interested party ({reason})", "unknown_reason": reason,
                              "sources": [st.source]}
    if details.get("description"):
        record["description"] = str(details["description"])
    return record["id"], record


def _stake(st: "Statement", index: int, interest: Any, holder: str, subject: str, unknown: bool) -> Stake | Problem:
    """The native record of one interest: OWNS (shareholding), CONTROLS (other interests) or DECLARED_INTEREST."""
    origin = st.at(f"/interests/{index}", INTEREST_FIELDS)
    if not isinstance(interest, dict):
        return origin.problem("(interest)", "expected an object")
    kind = _camel(interest.get("type")) or "unknownInterest"
    record: dict[str, Any] = {"type": "CONTROLS", "source": holder, "target": subject, "sources": [st.source]}
    if (interest.get("directOrIndirect") or interest.get("interestLevel")) == "indirect":
        record.update(type="DECLARED_INTEREST", kind="indirect_ownership" if kind == "shareholding" else f"indirect_{kind}")
    elif kind == "shareholding":
        record["type"] = "OWNS"
    elif _gleif(interest) is not None:
        record["type"], record["kind"] = _gleif(interest)  # type: ignore[misc]
        if record["type"] == "FUND_LINK":
            record["source"], record["target"] = subject, holder
    else:
        record["kind"] = kind
        if interest.get("details"):
            record["details"] = str(interest["details"])
    try:
        shares, given = share_fields(interest.get("share"), st.version)
    except ValueError as exc:
        return origin.problem("share", str(exc))
    as_given: dict[str, str] = {}
    if unknown and (shares or given):  # an unknown party's figure is kept as given, never as a number
        given = given or f"{interest['share'].get('exact')}%"
    else:
        record.update(shares)
    if given:
        as_given["share"] = given
    for field, name in (("valid_from", "startDate"), ("valid_to", "endDate")):
        value, text = as_date(interest.get(name))
        if value:
            record[field] = value
        if text:
            as_given[field] = text
    if as_given:
        record["as_given"] = as_given
    return Stake(record, origin)


def _gleif(interest: dict[str, Any]) -> tuple[str, str] | None:
    """(type, kind) of a GLEIF relationship named in an interest's details, or None."""
    match = _GLEIF_DETAILS.match(str(interest.get("details") or ""))
    return GLEIF_RELATIONSHIPS.get(match.group(1)) if match else None


def _settle(st: "Statement", previous: list[Stake], new: list[Stake]) -> Iterator[Raw]:
    """Emit the new stakes, continuing unchanged ones and ending the earlier stakes the statement replaces."""
    date, closing = st.date, st.status == "closed"
    updating = bool(previous) or bool(st.replaces) or st.status == "updated"
    ending: list[Stake] = []
    for stake in new:
        old = _take(previous, stake.key())
        record = stake.record
        if old is not None and all(old.record.get(t) == record.get(t) for t in _TERMS):
            _continue(old, stake)
        else:
            if old is not None:
                ending.append(old)
            if updating and not closing and date and _starts_before(record, date):
                if record.get("valid_from"):  # the interest's own start, kept as given
                    record.setdefault("as_given", {}).setdefault("valid_from", record["valid_from"])
                record["valid_from"] = date
        if closing and date and not record.get("valid_to") and (record.get("valid_from") or "") < date:
            record["valid_to"] = date
        yield stake.origin, record
    for old in ending + previous:
        record = old.record
        if date and (record.get("valid_to") or "9999") > date and (record.get("valid_from") or "") < date:
            record["valid_to"] = date
            yield old.origin, record


def _take(stakes: list[Stake], key: tuple[str, str, str, str]) -> Stake | None:
    """Remove and return the first stake with that key."""
    for i, stake in enumerate(stakes):
        if stake.key() == key:
            return stakes.pop(i)
    return None


def _continue(old: Stake, new: Stake) -> None:
    """An unchanged stake keeps its start (and so its identity) and cites every statement that stated it."""
    record = new.record
    for field in ("valid_from",):
        if old.record.get(field):
            record[field] = old.record[field]
    if "valid_from" in old.record.get("as_given", {}):
        record.setdefault("as_given", {})["valid_from"] = old.record["as_given"]["valid_from"]
    seen = {s.get("record_id") for s in record["sources"]}
    record["sources"] = [s for s in old.record["sources"] if s.get("record_id") not in seen] + record["sources"]


def _starts_before(record: dict[str, Any], date: str) -> bool:
    """True when a stake would start before an update's date and is still running at it."""
    return (record.get("valid_from") or "") < date and (record.get("valid_to") or "9999") > date


def _camel(kind: Any) -> str | None:
    """An interest type in 0.3/0.4 spelling ("voting-rights" in 0.2 is "votingRights")."""
    if not isinstance(kind, str) or not kind.strip():
        return None
    head, *rest = kind.strip().split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
