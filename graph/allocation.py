"""Owners' shares of one company valid on one day may not sum above 100% in native loads.

A native file is typed by the user, so shares that cannot all be true are an input error
(`file:line: share: reason`), checked against the batch and the shares already stored. Imported records
(any source with a `record_id`, the rule in IMPORTERS.md) come from registers that do publish such sums;
they are loaded, and the analytics flag the company as over-allocated and scale its owners' shares to
100% (docs/analytics.md).

Which shares count on a day D: OWNS valid on D (valid_from <= D < valid_to), one per owner (the latest
valid_from, as in the projection), each at its known minimum (`share`, else `share_min`, else 0).
The sum is piecewise constant and only rises where a stake starts, so the start days are the days to check.

Example: stored a 60% of c (open-ended); a file adds b 60% of c from 2020-01-01: on 2020-01-01 the
owners of c hold 120%, an error on the file's line.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from schema.batch import Batch, Origin
from schema.declaration import relation_id
from schema.errors import Problem
from schema.kinds import RelationType
from schema.records import Owns, Relation

from graph.projection import FULL
from graph.stores.base import GraphStore

_OPEN = date.min


def imported(record: Relation) -> bool:
    """Whether a relation comes from imported data: one of its sources carries the source's own record id."""
    return any(source.record_id for source in record.sources)


def check_allocation(store: GraphStore, batch: Batch) -> list[Problem]:
    """Problems for companies a native OWNS of the batch makes hold more than 100% on some day."""
    native = [(rec, origin) for rec, origin in batch.relations if isinstance(rec, Owns) and not imported(rec)]
    companies = sorted({rec.target for rec, _ in native})
    if not companies:
        return []
    stakes: dict[str, dict[str, tuple[Owns, Origin | None]]] = {c: {} for c in companies}
    wanted = set(companies)
    for stored in store.relations_touching(companies, [RelationType.OWNS]):
        if stored.record.target in wanted:
            stakes[stored.record.target][stored.id] = (stored.record, None)  # type: ignore[assignment]
    for rec, origin in batch.relations:  # later records of one relation id win, as in the stores
        if isinstance(rec, Owns) and rec.target in wanted:
            stakes[rec.target][relation_id(rec)] = (rec, None if imported(rec) else origin)
    problems = []
    for company in companies:
        found = _first_excess(list(stakes[company].values()))
        if found is not None:
            day, held, origin = found
            problems.append(origin.problem("share", _reason(company, day, held)))
    return problems


def _first_excess(stakes: list[tuple[Owns, Origin | None]]) -> tuple[date, list[tuple[str, float]], Origin] | None:
    """The first day the stakes sum above 100%: that day, (owner, share) held then, the last native origin then."""
    for day in sorted({rec.valid_from or _OPEN for rec, _ in stakes}):
        held = _held_on(stakes, day)
        if sum(share for _, share, _ in held) > FULL:
            origins = [origin for _, _, origin in held if origin is not None]
            if origins:
                return day, [(owner, share) for owner, share, _ in held], max(origins, key=lambda o: o.line)
    return None


def _held_on(stakes: Iterable[tuple[Owns, Origin | None]], day: date) -> list[tuple[str, float, Origin | None]]:
    """(owner, minimum share, native origin) of each owner's stake valid on the day (latest valid_from wins)."""
    latest: dict[str, tuple[Owns, Origin | None]] = {}
    for rec, line in stakes:
        start = rec.valid_from or _OPEN
        if start <= day and (rec.valid_to is None or rec.valid_to > day):
            kept = latest.get(rec.source)
            if kept is None or start >= (kept[0].valid_from or _OPEN):
                latest[rec.source] = (rec, line)
    return [(owner, _minimum(rec), line) for owner, (rec, line) in sorted(latest.items())]


def _minimum(rec: Owns) -> float:
    """The share an owner holds at least: the exact share, else the range's minimum, else 0 (unknown)."""
    return rec.share if rec.share is not None else (rec.share_min or 0.0)


def _reason(company: str, day: date, held: list[tuple[str, float]]) -> str:
    """The message: which company, which day, the sum and each owner's share."""
    when = "with no start date" if day == _OPEN else f"on {day.isoformat()}"
    parts = ", ".join(f"{owner} {share * 100:.4g}%" for owner, share in held if share > 0)
    total = sum(share for _, share in held)
    return (f"owners' shares of {company!r} valid {when} sum to {total * 100:.4g}% ({parts}), above 100%; "
            "correct a share or end the earlier stake with valid_to")
