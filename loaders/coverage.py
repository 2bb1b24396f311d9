"""What an import did with each kind of source record: how many were read, what they became, what was left out and why.

A format's reader counts as it maps (no second pass): every source record goes through `Coverage.track` under
its kind (an FtM schema, a BODS statement type, a GLEIF record type, a STIX object type, a VERIS section),
which counts the native records it yields by type. A record that yields nothing is "not imported", for the
reason the mapping gives (`Skipped`) or the one its format's table gives for the kind. Counting is per
source record, so read = imported + not imported + with problems holds for every kind, and a peer tool that
reads the same file can check the figures kind by kind (tests/test_ftm_peer.py).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from corpgraph.schema.errors import Problem

from corpgraph.loaders.formats import Raw

PLACEHOLDERS = "(references left open)"  # the kind under which placeholders are counted: no source record
# The reason of a property a reader does not keep, followed by the property's name: the text report lists them
# on one line per kind ("Person: properties not kept: birthDate 4, gender 4").
PROPERTY_NOT_KEPT = "property not kept: "


@dataclass(frozen=True)
class Skipped:
    """Yielded by a mapping instead of a record: this part of the source record is left out, and why."""

    reason: str


@dataclass(frozen=True)
class Folded:
    """Yielded by a mapping instead of a record: the source record became part of another record (`what`:
    "identifiers of the holder"), so it counts as imported without a record of its own."""

    what: str


@dataclass
class KindCount:
    """The figures of one source kind."""

    read: int = 0
    imported: int = 0  # records that became at least one native record
    problems: int = 0  # records refused with a problem (the file is then not loaded)
    became: Counter[str] = field(default_factory=Counter)  # native type -> records made
    not_imported: Counter[str] = field(default_factory=Counter)  # reason -> source records left out whole
    parts_left_out: Counter[str] = field(default_factory=Counter)  # reason -> parts of imported records left out

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready data."""
        return {"read": self.read, "imported": self.imported, "problems": self.problems,
                "became": dict(sorted(self.became.items())), "not_imported": dict(self.not_imported),
                "parts_left_out": dict(self.parts_left_out)}


@dataclass
class Coverage:
    """The coverage of one file: figures per source kind, in the order the kinds were first met."""

    file: str = ""
    format: str = ""
    kinds: dict[str, KindCount] = field(default_factory=dict)
    # Placeholders the store already held (an earlier file defined or referenced their ids): not written.
    placeholders_held: int = 0

    def track(self, kind: str, items: Iterable[Raw | Problem | Skipped | Folded], reason: str) -> Iterator[Raw | Problem]:
        """Count one source record of `kind` and what its mapping yields (passed on, less the `Skipped`);
        `reason` says why a record that yields nothing and gives no reason of its own is not imported."""
        count = self._kind(kind)
        made = problems = 0
        skipped: list[str] = []
        for item in items:
            if type(item) is tuple:  # a record, by far the most common item: counted without isinstance calls
                count.became[item[1].get("type", "?")] += 1
                made += 1
            elif isinstance(item, Skipped):
                skipped.append(item.reason)
                continue
            elif isinstance(item, Folded):
                count.became[item.what] += 1
                made += 1
                continue
            else:
                problems += 1
            yield item  # a record or a Problem: the markers were taken out above
        _settle(count, made, skipped, reason, problems)

    def record(self, kind: str, made: Iterable[str], skipped: Iterable[str], reason: str, problems: int = 0) -> None:
        """Count one source record of `kind`: the native types it became, the parts it left out and why,
        and `reason` for leaving it out whole when it became nothing (nor was refused, nor gave a reason)."""
        count = self._kind(kind)
        made = list(made)
        count.became.update(made)
        _settle(count, len(made), list(skipped), reason, problems)

    def not_imported(self, kind: str, reason: str) -> None:
        """Count one source record of `kind` that the format does not import at all, and why."""
        self.record(kind, (), (), reason)

    def made(self, items: Iterable[Raw | Problem]) -> Iterator[Raw | Problem]:
        """Count records made for no one source record (placeholders for open references), passed on."""
        for item in items:
            if not isinstance(item, Problem):
                self._kind(PLACEHOLDERS).became[item[1].get("type", "?")] += 1
            yield item

    def written(self, new_placeholders: int) -> None:
        """Note how many of the file's placeholders the store wrote (the rest it already held: not written)."""
        made = sum(self.kinds[PLACEHOLDERS].became.values()) if PLACEHOLDERS in self.kinds else 0
        self.placeholders_held = max(0, made - new_placeholders)

    def as_is(self, type_name: Any, times: int = 1) -> None:
        """Count `times` native records of one type: their kind is their type, and each becomes itself (what
        `record` counts for one, added in one step: a load counts a batch's records by type, not one by one)."""
        name = str(type_name)
        count = self._kind(name)
        count.read += times
        count.imported += times
        count.became[name] += times

    def merge(self, other: "Coverage") -> None:
        """Add another count of the same file (a reading child's) into this one."""
        for kind, theirs in other.kinds.items():
            ours = self._kind(kind)
            ours.read += theirs.read
            ours.imported += theirs.imported
            ours.problems += theirs.problems
            ours.became.update(theirs.became)
            ours.not_imported.update(theirs.not_imported)
            ours.parts_left_out.update(theirs.parts_left_out)

    def as_dict(self) -> dict[str, Any]:
        """The report of this file as JSON-ready data (`corpgraph load --report`)."""
        kinds = {kind: count.as_dict() for kind, count in self.kinds.items()}
        read = sum(c.read for k, c in self.kinds.items() if k != PLACEHOLDERS)
        left = sum(sum(c.not_imported.values()) for c in self.kinds.values())
        imported = sum(c.imported for k, c in self.kinds.items() if k != PLACEHOLDERS)
        return {"file": self.file, "format": self.format, "read": read, "imported": imported, "not_imported": left,
                "placeholders_already_stored": self.placeholders_held, "kinds": kinds}

    def lines(self) -> list[str]:
        """The report as plain lines: `Sanction 41 -> not imported: <why>`, one per kind (and reason)."""
        out = [f"coverage of {self.file} ({self.format}):"]
        for kind, count in self.kinds.items():
            out.extend(_kind_lines(kind, count))
            if kind == PLACEHOLDERS and self.placeholders_held:
                out[-1] += f" ({self.placeholders_held} already stored: not written)"
        return out

    def _kind(self, kind: str) -> KindCount:
        """The figures of a kind, created when first met (not with setdefault: that built three Counters for every
        record counted, 13% of a native load's time)."""
        found = self.kinds.get(kind)
        if found is None:
            found = self.kinds[kind] = KindCount()
        return found


def _settle(count: KindCount, made: int, skipped: list[str], reason: str, problems: int) -> None:
    """Count one read source record once its records are counted: imported (with the parts it left out), refused,
    or not imported for its first reason that is more than a property left out (else `reason`)."""
    count.read += 1
    if made:
        count.imported += 1
        count.parts_left_out.update(skipped)
    elif problems:
        count.problems += 1
    else:
        why = next((s for s in skipped if not s.startswith(PROPERTY_NOT_KEPT)), reason)
        count.not_imported[why] += 1


def _kind_lines(kind: str, count: KindCount) -> list[str]:
    """One kind's lines: what it became, then what was left out and why."""
    became = ", ".join(f"{name} {n}" for name, n in sorted(count.became.items()))
    if kind == PLACEHOLDERS:
        return [f"  {kind} -> placeholders: {became}"]
    out = []
    if count.imported:
        out.append(f"  {kind} {count.imported} -> {became}")
    out.extend(f"  {kind} {n} -> not imported: {reason}" for reason, n in count.not_imported.items())
    properties = {r.removeprefix(PROPERTY_NOT_KEPT): n for r, n in count.parts_left_out.items()
                  if r.startswith(PROPERTY_NOT_KEPT)}
    out.extend(f"  {kind}: {n} part(s) left out: {reason}" for reason, n in count.parts_left_out.items()
               if not reason.startswith(PROPERTY_NOT_KEPT))
    if properties:
        out.append(f"  {kind}: properties not kept: " + ", ".join(f"{p} {n}" for p, n in sorted(properties.items())))
    if count.problems:
        out.append(f"  {kind} {count.problems} -> refused (see the problems above)")
    return out
