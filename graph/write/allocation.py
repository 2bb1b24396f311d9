"""Owners' shares of one company valid on one day may not sum above 100% in native loads.

A native file is typed by the user, so shares that cannot all be true are an input error
(`file:line: share: reason`), checked against the batch and the shares already stored. Imported records
(any source with a `record_id`, the rule in docs/importers.md) come from registers that do publish such sums;
they are loaded, and the analytics flag the company as over-allocated and scale its owners' shares to
100% (docs/analytics.md).

Which shares count on a day D: OWNS valid on D (valid_from <= D < valid_to), one per owner (the latest
valid_from, as in the projection), each at its known minimum (`share`, else `share_min`, else 0).
The sum is piecewise constant and only rises where a stake starts, so the start days are the days to check.

Example: stored a 60% of c (open-ended); a file adds b 60% of c from 2020-01-01: on 2020-01-01 the
owners of c hold 120%, an error on the file's line.
"""
from __future__ import annotations

from datetime import date
from typing import NamedTuple

from corpgraph.schema.batch import Batch, Origin
from corpgraph.schema.declaration import relation_id
from corpgraph.schema.errors import Problem
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Owns, Relation

from corpgraph.graph.precision import FULL
from corpgraph.graph.stores.base import EdgeRow, GraphStore

_OPEN = date.min


class _Stake(NamedTuple):
    """One OWNS as the check needs it: owner, validity, its minimum share, and where a native record was read."""

    owner: str
    start: date
    end: date | None
    minimum: float
    origin: Origin | None  # None: stored, or imported (never the line an error points at)


def imported(record: Relation) -> bool:
    """Whether a relation comes from imported data: one of its sources carries the source's own record id."""
    return any(source.record_id for source in record.sources)


def check_allocation(store: GraphStore, batch: Batch) -> list[Problem]:
    """Problems for companies a native OWNS of the batch makes hold more than 100% on some day."""
    companies = sorted({rec.target for rec, _ in batch.relations if isinstance(rec, Owns) and not imported(rec)})
    if not companies:
        return []
    stakes: dict[str, dict[str, _Stake]] = {c: {} for c in companies}
    for row in store.edges_into(companies, [RelationType.OWNS]):  # the analytic columns only: no document read
        stakes[row.target][row.id] = _stored(row)
    wanted = set(companies)
    for rec, origin in batch.relations:  # later records of one relation id win, as in the stores
        if isinstance(rec, Owns) and rec.target in wanted:
            stakes[rec.target][relation_id(rec)] = stake_of(rec, None if imported(rec) else origin)
    problems = []
    for company in companies:
        found = first_excess(list(stakes[company].values()))
        if found is not None:
            day, held, origin = found
            problems.append(origin.problem("share", excess_reason(company, day, held)))
    return problems


def stake_of(rec: Owns, origin: Origin | None) -> _Stake:
    """The stake of an OWNS record (origin None: stored or imported, never the line an error points at)."""
    return _Stake(rec.source, rec.valid_from or _OPEN, rec.valid_to, _minimum(rec.share, rec.share_min), origin)


def _stored(row: EdgeRow) -> _Stake:
    """A stored stake from its analytic columns."""
    end = date.fromisoformat(row.valid_to) if row.valid_to else None
    start = date.fromisoformat(row.valid_from) if row.valid_from else _OPEN
    return _Stake(row.source, start, end, _minimum(row.share, row.share_min), None)


def first_excess(stakes: list[_Stake]) -> tuple[date, list[tuple[str, float]], Origin] | None:
    """The first day the stakes sum above 100%: that day, (owner, share) held then, the last native origin then."""
    for day in sorted({stake.start for stake in stakes}):
        held = _held_on(stakes, day)
        if sum(stake.minimum for stake in held) > FULL:
            origins = [stake.origin for stake in held if stake.origin is not None]
            if origins:
                return day, [(stake.owner, stake.minimum) for stake in held], max(origins, key=lambda o: o.line)
    return None


def _held_on(stakes: list[_Stake], day: date) -> list[_Stake]:
    """Each owner's stake valid on the day (the latest start wins), by owner."""
    latest: dict[str, _Stake] = {}
    for stake in stakes:
        if stake.start <= day and (stake.end is None or stake.end > day):
            kept = latest.get(stake.owner)
            if kept is None or stake.start >= kept.start:
                latest[stake.owner] = stake
    return [latest[owner] for owner in sorted(latest)]


def _minimum(share: float | None, share_min: float | None) -> float:
    """The share an owner holds at least: the exact share, else the range's minimum, else 0 (unknown)."""
    return share if share is not None else (share_min or 0.0)


def excess_reason(company: str, day: date, held: list[tuple[str, float]]) -> str:
    """The message: which company, which day, the sum and each owner's share."""
    when = "with no start date" if day == _OPEN else f"on {day.isoformat()}"
    parts = ", ".join(f"{owner} {share * 100:.4g}%" for owner, share in held if share > 0)
    total = sum(share for _, share in held)
    return (f"owners' shares of {company!r} valid {when} sum to {total * 100:.4g}% ({parts}), above 100%; "
            "correct a share or end the earlier stake with valid_to")
