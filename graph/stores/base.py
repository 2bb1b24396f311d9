"""The one store interface both backends implement (embedded SQLite, Neo4j); one contract suite tests it."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date
from dataclasses import dataclass
from pathlib import Path
from datetime import datetime, timezone
from enum import Enum
from typing import Any, NamedTuple, Protocol, runtime_checkable

from corpgraph.schema.batch import Batch, LoadPhase, WriteSummary
from corpgraph.schema.declaration import ANALYTIC_FIELDS, EDGE_FIELDS, relation_id
from corpgraph.schema.errors import InvalidInput, Problem
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity, Relation


class EdgeRow(NamedTuple):
    """One relation as the projection reads it: identity, endpoints and the analytic scalars.

    A NamedTuple, not a dataclass: the projection reads millions of them and a tuple is built 3x faster.
    """

    id: str
    type: RelationType
    source: str
    target: str
    share: float | None
    valid_from: str | None
    valid_to: str | None
    incident: str | None
    share_min: float | None = None  # a reported range (OWNS, CONTROLS' votes, DECLARED_INTEREST)
    share_max: float | None = None
    kind: str | None = None  # CONTROLS' interest type, DECLARED_INTEREST's kind (what the control rule reads)
    share_min_exclusive: bool | None = None  # share_min is exclusive ("more than"): the control rule reads it


# EdgeRow spells its fields out for type checkers; the declaration is what they must be.
if EdgeRow._fields != EDGE_FIELDS:  # pragma: no cover - a drift between the declaration and this module
    raise ImportError(f"EdgeRow fields {EdgeRow._fields} differ from schema.declaration.EDGE_FIELDS {EDGE_FIELDS}")


class ColumnPage(Sequence[EdgeRow]):
    """A page of the projection feed held as columns (one list per EDGE_FIELDS name), read as EdgeRows.

    A store that reads columns (Neo4j answers one record of lists per page) hands them on as they are:
    graph.projection.build extends its own columns with them, where building an EdgeRow per relation and
    transposing the rows back took longer than the read itself (5.1 of 22 s for 640k relations, cProfile).
    """

    def __init__(self, columns: dict[str, list[Any]]) -> None:
        self.columns = columns  # every EDGE_FIELDS name, each list as long as `id`

    def __len__(self) -> int:
        """Relations in the page."""
        return len(self.columns["id"])

    def __getitem__(self, at: Any) -> Any:
        """The EdgeRow at a position (a list of them for a slice)."""
        if isinstance(at, slice):
            return [self[k] for k in range(*at.indices(len(self)))]
        return EdgeRow(*(self.columns[name][at] for name in EDGE_FIELDS))


class RawEntity(NamedTuple):
    """An entity row as stored, not decoded (for `corpgraph check`, which must not trust it)."""

    id: str
    type: str | None
    doc: str | None


class RawRelation(NamedTuple):
    """A relation row as stored, not decoded: identity, endpoints, the analytic scalars and the document."""

    id: str
    type: str
    source: str | None
    target: str | None
    share: object
    valid_from: object
    valid_to: object
    incident: object
    share_min: object
    share_max: object
    kind: object
    share_min_exclusive: object
    doc: str | None


# Stored types of ids, read inside the write transaction.
TypeLookup = Callable[[Iterable[str]], dict[str, EntityType]]
# A check a store runs inside its write transaction, after the write lock is taken and before anything is
# written: given a way to read stored types, the problems that forbid the write (graph.write.ingest.check_references).
Check = Callable[[TypeLookup], list[Problem]]


def refuse_problems(problems: list[Problem]) -> None:
    """Raise InvalidInput when a check found problems (the store then rolls its transaction back)."""
    if problems:
        raise InvalidInput(problems)


def batch_rows(batch: Batch) -> tuple[dict[str, Entity], dict[str, Relation]]:
    """The records a store writes: entities by id and relations by identity (later records for a key win)."""
    return ({rec.id: rec for rec, _ in batch.entities}, {relation_id(rec): rec for rec, _ in batch.relations})


def write_summary(ents: Mapping[str, Any], rels: Mapping[str, Any]) -> WriteSummary:
    """Records written per type (records, or a store's stand-ins for them: anything with a `type`)."""
    summary = WriteSummary()
    summary.entities.update(r.type for r in ents.values())
    summary.relations.update(r.type for r in rels.values())
    return summary


@dataclass(frozen=True)
class StoredRelation:
    """A relation record with its identity, as read back from a store."""

    id: str
    record: Relation


class Verdict(str, Enum):
    """A user's decision about two entity ids: the same entity, or never to be merged."""

    SAME = "same"
    DIFFERENT = "different"


@dataclass(frozen=True)
class Judgement:
    """A stored decision about a pair of ids (a < b), who took it and when (ISO timestamp, UTC)."""

    a: str
    b: str
    verdict: Verdict
    by: str
    at: str

    @classmethod
    def new(cls, a: str, b: str, verdict: Verdict | str, by: str) -> "Judgement":
        """A decision taken now, with the pair in order (the stores keep one decision per unordered pair)."""
        if a == b:
            raise ValueError(f"a decision needs two different ids, got {a!r} twice")
        low, high = sorted((a, b))
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(low, high, Verdict(verdict), by, stamp)


class ChangeKind(str, Enum):
    """What a committed write was, as the change log records it."""

    WRITE = "write"  # records upserted: their relation and entity ids are listed
    BULK = "bulk"  # more records than the log lists (a big load): a reader reads everything again
    DECISION = "decision"  # a user's identity decision (identity may merge or split anything)
    DELETE = "delete"  # everything deleted


CHANGE_LOG_KEEP = 1000  # revisions the change log keeps; a reader further behind reads everything again
CHANGE_LOG_IDS = 20_000  # ids one entry lists at most; a write of more records is logged as BULK


@dataclass(frozen=True)
class Change:
    """One entry of a store's change log: what the write that made `revision` changed.

    Ended stakes are changed relations (their valid_to was set); stores never delete single relations.
    """

    revision: int
    kind: ChangeKind
    relations: tuple[str, ...] = ()  # relation ids added or changed
    entities: tuple[str, ...] = ()  # entity ids added or changed


class ChangeRecorder:
    """What one write transaction changed, collected while it writes and logged under its revision."""

    def __init__(self, kind: ChangeKind = ChangeKind.WRITE) -> None:
        self.kind = kind
        self.relations: set[str] = set()
        self.entities: set[str] = set()
        self._touched = False  # any id noted (the sets are emptied once the entry turns BULK)

    def nothing_changed(self) -> bool:
        """A WRITE transaction that noted no record: the store is as it was, so no revision is due."""
        return self.kind == ChangeKind.WRITE and not self._touched

    def wrote(self, entities: Iterable[str], relations: Iterable[str]) -> None:
        """Note ids written; past CHANGE_LOG_IDS the entry becomes BULK and stops listing them."""
        if self.kind != ChangeKind.WRITE:
            return
        before = len(self.entities) + len(self.relations)
        self.entities.update(entities)
        self.relations.update(relations)
        self._touched = self._touched or len(self.entities) + len(self.relations) > before
        if len(self.entities) + len(self.relations) > CHANGE_LOG_IDS:
            self.kind, self.entities, self.relations = ChangeKind.BULK, set(), set()

    def entry(self, revision: int) -> Change:
        """The log entry for the revision the transaction made (ids sorted)."""
        return Change(revision, self.kind, tuple(sorted(self.relations)), tuple(sorted(self.entities)))


def contiguous(changes: Sequence[Change], since: int) -> list[Change]:
    """The entries that follow `since` without a gap (a reader can apply these and no more)."""
    out: list[Change] = []
    for change in changes:
        if change.revision != since + len(out) + 1:
            break
        out.append(change)
    return out


@dataclass(frozen=True)
class Location:
    """Where a store lives: what messages name and what keys its projection snapshots."""

    kind: str  # the store's name: embedded | neo4j
    where: str  # the file's path or the server's URI
    instance: str  # drawn when the store was created ("" if it has none): tells it from a later one at `where`
    folder: Path | None = None  # a folder beside the data where snapshots may go (None: only a configured one)


class StoreReader(Protocol):
    """The reads an answer makes: what a store offers and what a store read through identity offers alike."""

    def entity_types(self, ids: Iterable[str]) -> dict[str, EntityType]:
        """The stored type of each id that exists (missing ids are absent from the answer)."""
        ...

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """Entity records by id (missing ids are absent)."""
        ...

    def get_relations(self, ids: Sequence[str]) -> dict[str, StoredRelation]:
        """Relation records by relation id (missing ids are absent)."""
        ...

    def relations_touching(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[StoredRelation]:
        """Relations of the given types with either endpoint among ids."""
        ...

    def search(self, text: str, types: Sequence[EntityType] | None, limit: int,
               topics: Sequence[str] | None = None) -> list[Entity]:
        """Entities whose name or alias contains the folded text, exact key matches first; with topics,
        only those carrying any of them (matched as graph.identity.topics says)."""
        ...

    def list_entities(self, type: EntityType, after: str | None, limit: int) -> list[Entity]:
        """Entities of one type ordered by id, starting after the given id (cursor pagination)."""
        ...


@runtime_checkable
class GraphStore(StoreReader, Protocol):
    """What every store offers; writes are all-or-nothing per batch and idempotent.

    Every capability a caller needs is a method here: a store implements it, or refuses it with a StoreError
    naming it. Callers never probe a store with getattr.
    """

    name: str

    def location(self) -> Location:
        """Where the store lives (path or URI) and the instance drawn when it was created."""
        ...

    def write_stream(self, label: str, batches: Iterable[Batch], on_batch: Callable[[Batch], None] | None = None,
                     on_phase: Callable[[LoadPhase], None] | None = None) -> WriteSummary:
        """Write one file's validated batches all-or-nothing; InvalidInput with every problem of every batch.

        `on_batch` is called after each batch is taken, `on_phase` at each change of LoadPhase (progress). How
        much is held at once is the store's: the embedded store writes each batch as it comes in one
        transaction checked at its end.
        """
        ...

    def batch_work(self) -> Callable[[Batch], Batch] | None:
        """What the store does to each validated batch alone before `write_stream` takes it (its rows worked out),
        for the processes that validate a file to run it (loaders.validate.iter_batches' `work`); None when the
        store takes the records as they are."""
        ...

    def write(self, batch: Batch, check: Check | None = None) -> WriteSummary:
        """Upsert a validated batch in one transaction; `check` runs inside it, under the write lock.

        Concurrent writers are serialised before the check reads the store, so what the check saw is what the
        write builds on (an id cannot change type between the check and the commit). InvalidInput when the
        check finds problems; nothing is written then.
        """
        ...

    def edges_into(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[EdgeRow]:
        """The analytic scalars of the relations of the given types whose target is among ids (no document read)."""
        ...

    def iter_edges(self, types: Sequence[RelationType], page_size: int = 50_000) -> Iterator[Sequence[EdgeRow]]:
        """All relations of the given types, in pages (lists of EdgeRow, or ColumnPage), for the projection."""
        ...

    def raw_entities(self, after: str, limit: int) -> list[RawEntity]:
        """One page of stored entity rows ordered by id, after the given id, not decoded."""
        ...

    def raw_relations(self, after: str, limit: int) -> list[RawRelation]:
        """One page of stored relation rows ordered by relation id, after the given id, not decoded."""
        ...

    def counts(self) -> dict[str, int]:
        """Number of stored entities and relations per type name."""
        ...

    def ids_with_identifier(self, key: str) -> list[str]:
        """Ids of the entities carrying the normalised identifier key (graph.identity.identifiers), sorted."""
        ...

    def shared_identifiers(self) -> Iterator[tuple[str, list[str]]]:
        """Every identifier key held by more than one entity, with their ids (sorted), in key order."""
        ...

    def add_judgement(self, a: str, b: str, verdict: Verdict | str, by: str) -> Judgement:
        """Store a decision now, replacing any earlier one for the same pair; bumps the revision."""
        ...

    def judgements(self) -> list[Judgement]:
        """Every stored decision, ordered by pair."""
        ...

    def revision(self) -> int:
        """A number that changes whenever a write commits (projection caches key on it)."""
        ...

    def changes_since(self, revision: int) -> list[Change]:
        """The change log's entries for the revisions after `revision`, oldest first.

        Every committed write logs one entry under the revision it made, in the same transaction; entries older
        than CHANGE_LOG_KEEP revisions are pruned, so a missing revision means: read everything again.
        """
        ...

    def unmapped_reads(self) -> AbstractContextManager[None]:
        """For the block, the calling thread's reads keep no shared mapping of the store's files: a long scan (the
        pages of a large export) then holds only the store's bounded private cache, where mapped file pages would
        stay in the process's RSS until the connection lets them go. A store that maps nothing does nothing."""
        ...

    def warm_up(self) -> int:
        """Make ready what the first write and the first change read would otherwise wait for (a server's plans of
        their statements), writing nothing; a server calls it once at start, off the request path. How many write
        transactions it ran and rolled back (0: nothing to warm)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def edge_row(rel_id: str, record: Relation) -> dict[str, Any]:
    """The analytic scalars of a relation record (schema.declaration.ANALYTIC_FIELDS), as both stores keep them."""
    return dict(zip(EDGE_FIELDS, edge_values(rel_id, record)))


def edge_values(rel_id: str, record: Relation) -> tuple[Any, ...]:
    """edge_row's values in EDGE_FIELDS order, as a tuple (what an SQL insert binds, without a dict per row)."""
    fields = vars(record)  # a dict lookup: getattr with a default is slow on pydantic models for missing fields
    # False flags are not kept (no property on a million relationships for the common case)
    return (rel_id, fields["type"], fields["source"], fields["target"],
            *[value.isoformat() if isinstance(value, date) else (None if value is False else value)
              for value in map(fields.get, ANALYTIC_FIELDS)])
