"""Owners' shares of one company valid on one day may not sum above 100% in native loads.

A native file is typed by the user, so shares that cannot all be true are an input error
(`file:line: share: reason`), checked against the batch and the shares already stored. Imported records
(any source with a `record_id`, the rule in docs/importers.md) come from registers that do publish such sums;
they are loaded, and the analytics let a later statement end earlier ones (graph.projection.build._later_wins),
flagging and scaling to 100% only same-day conflicts (docs/analytics.md).

Which shares count on a day D: OWNS valid on D (valid_from <= D < valid_to), one per owner (the latest
valid_from, then the latest valid_to, as in the projection), each at its known minimum (`share`, else `share_min`,
else 0). Owners merged by an identifier can state one holding twice with the same dates; then the smaller share
counts (as a range counts at its minimum: a sum is refused only when no reading of the statements stays under
100%), so the answer never depends on the order a store reads its stakes in.
The sum is piecewise constant and changes only where a stake starts or ends; it can rise where one ends
(an owner's later row ends and its earlier open-ended row counts again), so every start and end day is checked.
A company is checked together with every entity that carries one of its identifiers (stored or in the
batch): identity merges them into one company (graph.identity), so their owners' shares add up.

Example: stored a 60% of c (open-ended); a file adds b 60% of c from 2020-01-01: on 2020-01-01 the
owners of c hold 120%, an error on the file's line. Example: a holds 10% from 2019, and 5% from 2020 to
2021-01-01; b 95% from 2020-07-01: on 2021-01-01 a's 10% counts again, 105%.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple, Protocol

from corpgraph.schema.batch import Batch, Origin
from corpgraph.schema.declaration import relation_id
from corpgraph.schema.errors import Problem
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Entity, Owns, Relation

from corpgraph.graph.identity.identifiers import entity_identifier_keys
from corpgraph.graph.precision import FULL
from corpgraph.graph.stores.base import EdgeRow

_OPEN = date.min
# Far above the rounding of summing a company's shares in another order (n * 2**-53 of a sum near 1), far below
# any share: a sum of all stakes this far under FULL cannot reach FULL on one day whatever the order of addition.
_ROUNDING = 1e-9


class Stake(NamedTuple):
    """One OWNS as the check needs it: owner, validity, its minimum share, and where a native record was read."""

    owner: str
    start: date
    end: date | None
    minimum: float
    origin: Origin | None  # None: stored, or imported (never the line an error points at)


def imported(record: Relation) -> bool:
    """Whether a relation comes from imported data: one of its sources carries the source's own record id."""
    return any(source.record_id for source in record.sources)


class StoredShares(Protocol):
    """What the check reads of a store (every GraphStore has it; a bulk import into an empty database too)."""

    def edges_into(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[EdgeRow]:
        """The analytic scalars of the relations of the given types into the ids."""
        ...

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """Entity records by id (missing ids are absent)."""
        ...

    def ids_with_identifier(self, key: str) -> list[str]:
        """Ids of the entities carrying the normalised identifier key, sorted."""
        ...


def check_allocation(store: StoredShares, batch: Batch) -> list[Problem]:
    """Problems for companies a native OWNS of the batch makes hold more than 100% on some day."""
    companies = sorted({rec.target for rec, _ in batch.relations if isinstance(rec, Owns) and not imported(rec)})
    if not companies:
        return []
    stakes: dict[str, dict[str, Stake]] = {c: {} for c in companies}
    of_member = _companies_of_members(store, batch, companies)
    for row in store.edges_into(sorted(of_member), [RelationType.OWNS]):  # the analytic columns: no document read
        for company in of_member[row.target]:
            stakes[company][row.id] = stored_stake(row)
    for rec, origin in batch.relations:  # later records of one relation id win, as in the stores
        if isinstance(rec, Owns) and rec.target in of_member:
            for company in of_member[rec.target]:
                stakes[company][relation_id(rec)] = stake_of(rec, None if imported(rec) else origin)
    owners = sorted({stake.owner for held in stakes.values() for stake in held.values()})
    one_owner = owner_groups(_identifier_keys(store, batch, owners))
    problems = []
    for company in companies:
        found = first_excess([s._replace(owner=one_owner.get(s.owner, s.owner)) for s in stakes[company].values()])
        if found is not None:
            day, held, origin = found
            problems.append(origin.problem("share", excess_reason(company, day, held)))
    return problems


def _companies_of_members(store: StoredShares, batch: Batch, companies: list[str]) -> dict[str, list[str]]:
    """Every id merged with a checked company by a shared identifier (the company itself included), with the
    checked companies it belongs to."""
    in_batch = {rec.id: rec for rec, _ in batch.entities}
    keys_in_batch = {id: set(entity_identifier_keys(rec)) for id, rec in in_batch.items() if rec.identifiers}
    stored = store.get_entities([c for c in companies if c not in in_batch])
    out: dict[str, list[str]] = {}
    for company in companies:
        record = in_batch.get(company) or stored.get(company)
        members = {company}
        for key in entity_identifier_keys(record) if record is not None else []:
            members.update(store.ids_with_identifier(key))
            members.update(id for id, keys in keys_in_batch.items() if key in keys)
        for member in members:
            out.setdefault(member, []).append(company)
    return out


def _identifier_keys(store: StoredShares, batch: Batch, ids: list[str]) -> dict[str, list[str]]:
    """The identifier keys of each id (the batch's record when it has one, else the stored one)."""
    in_batch = {rec.id: rec for rec, _ in batch.entities}
    stored = store.get_entities([i for i in ids if i not in in_batch])
    records = {i: in_batch.get(i) or stored.get(i) for i in ids}
    return {i: entity_identifier_keys(rec) for i, rec in records.items() if rec is not None and rec.identifiers}


def owner_groups(keys_of: dict[str, list[str]]) -> dict[str, str]:
    """Owners that share an identifier are one owner (identity merges them, and their stakes are statements of
    one holding, never summed): each owner id -> the smallest id of its group."""
    parent: dict[str, str] = {}

    def top(id: str) -> str:
        """The group's representative (path halving)."""
        while parent.setdefault(id, id) != id:
            parent[id] = parent[parent[id]]
            id = parent[id]
        return id

    first_with: dict[str, str] = {}
    for id in sorted(keys_of):
        for key in keys_of[id]:
            a, b = top(id), top(first_with.setdefault(key, id))
            parent[max(a, b)] = min(a, b)
    return {id: top(id) for id in keys_of}


def stake_of(rec: Owns, origin: Origin | None) -> Stake:
    """The stake of an OWNS record (origin None: stored or imported, never the line an error points at)."""
    return Stake(rec.source, rec.valid_from or _OPEN, rec.valid_to, _minimum(rec.share, rec.share_min), origin)


def stored_stake(row: EdgeRow, origin: Origin | None = None) -> Stake:
    """A stored stake from its analytic columns (origin: where a native record of the load being checked was read)."""
    end = date.fromisoformat(row.valid_to) if row.valid_to else None
    start = date.fromisoformat(row.valid_from) if row.valid_from else _OPEN
    return Stake(row.source, start, end, _minimum(row.share, row.share_min), origin)


def first_excess(stakes: list[Stake]) -> tuple[date, list[tuple[str, float]], Origin] | None:
    """The first day the stakes sum above 100%: that day, (owner, share) held then, the last native origin then."""
    if not may_exceed(sum(stake.minimum for stake in stakes)):
        return None
    for day in sorted({stake.start for stake in stakes} | {stake.end for stake in stakes if stake.end is not None}):
        held = _held_on(stakes, day)
        if sum(stake.minimum for stake in held) > FULL:
            origins = [stake.origin for stake in held if stake.origin is not None]
            if origins:
                return day, [(stake.owner, stake.minimum) for stake in held], max(origins, key=lambda o: o.line)
    return None


def may_exceed(total: float) -> bool:
    """Whether stakes whose minimums sum to `total`, all of them together, may sum above 100% on some day: a day
    holds a subset of them (one per owner), none negative, so under 100% together means under it every day."""
    return total > FULL - _ROUNDING


def _held_on(stakes: list[Stake], day: date) -> list[Stake]:
    """Each owner's stake valid on the day (the first by _precedence), by owner."""
    latest: dict[str, Stake] = {}
    for stake in stakes:
        if stake.start <= day and (stake.end is None or stake.end > day):
            kept = latest.get(stake.owner)
            if kept is None or _precedence(stake) > _precedence(kept):
                latest[stake.owner] = stake
    return [latest[owner] for owner in sorted(latest)]


def _precedence(stake: Stake) -> tuple[date, date, float, int]:
    """Which of an owner's stakes valid on a day counts, the greatest first: the latest start, the latest end (open
    is latest), the smaller share, then a native record at the later line. A total order on what the stakes state,
    not on the order they were read in: the embedded store (rowid order), Neo4j (its relationship chains) and the
    bulk import's arrays read one company's stakes in different orders (see the module docstring)."""
    return (stake.start, stake.end or date.max, -stake.minimum, stake.origin.line if stake.origin else -1)


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
