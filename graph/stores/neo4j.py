"""The Neo4j store: the official driver over Bolt, the same semantics as the embedded store.

Each node carries its entity label plus `Entity`, a JSON document `doc` (the full record, replaced on every
upsert) and the scalars reads need: id, type, name, keys (search keys) and search (the keys as one indexable
string). Each relationship carries `id` = relation identity (schema.declaration), `doc` and the analytic
scalars of `edge_row()`.

A write (one `Batch`: a file or a mutation) of at most `batch_size` records is ONE transaction, sent as
`UNWIND $rows ... MERGE` chunks, nodes before relationships, re-run whole after a transient error (every
statement is an idempotent MERGE). A larger one is a batched load (graph/stores/neo4j_loads.py): one
transaction per chunk, its records hidden from every read until one small final transaction publishes them,
so server memory stays bounded whatever the file's size and readers still see all of a file or none of it.
Writers take turns: a write waits (up to busy_timeout) while a load is unpublished.
"""
from __future__ import annotations

import functools
import itertools
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
import dataclasses
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import neo4j
from neo4j import exceptions as nx
from neo4j.api import BookmarkManager

from corpgraph.schema.batch import Batch, LoadPhase, WriteSummary
from corpgraph.schema.declaration import ANALYTIC_FIELDS, entity_type
from corpgraph.schema.errors import (ConstraintViolation, Problem, SchemaMissing, StoreAuthError, StoreError,
                           StoreLocked, StoreUnavailable, TransactionTooLarge)
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity, Relation

from corpgraph.graph.identity.identifiers import entity_identifier_keys
from corpgraph.graph.identity.topics import entity_topic_keys
from corpgraph.graph.settings import Settings
from corpgraph.graph.stores import cypher
from corpgraph.graph.write.ingest import batch_problems, ingest, join_batches
from corpgraph.graph.stores.base import (
    Location,
    CHANGE_LOG_KEEP,
    Change,
    ChangeKind,
    ChangeRecorder,
    Check,
    ColumnPage,
    EdgeRow,
    Judgement,
    RawEntity,
    RawRelation,
    StoredRelation,
    TypeLookup,
    Verdict,
    batch_rows,
    edge_row,
    refuse_problems,
    write_summary,
)
from corpgraph.graph.stores.codec import (decode_entity, decode_found, decode_relation, encode, entity_keys,
                                         search_terms, stored_type)
from corpgraph.graph.stores import cypher_loads, neo4j_warm
from corpgraph.graph.stores.neo4j_steps import Step, log_steps, run_plan, run_step
from corpgraph.graph.stores.neo4j_loads import LoadRunning, Loads, Recovery, unpublished


class _NothingChanged(Exception):
    """Raised inside a write transaction whose every record is stored as it is: roll back, report the count."""

    def __init__(self, unchanged: int) -> None:
        super().__init__(f"{unchanged} records unchanged")
        self.unchanged = unchanged


_RETRY_SECONDS = 30.0  # as the driver's managed transactions: deadlocks, leader switches, lost connections
# Neo4j's answer when a transaction outgrows db.memory.transaction.max or dbms.memory.transaction.total.max.
# It is classed as transient (other transactions may free memory), but retrying a file that alone is too big
# cannot help.
_MEMORY_LIMIT_CODES = {"Neo.TransientError.General.MemoryPoolOutOfMemoryError"}
_MEMORY_REMEDY = ("lower CORPGRAPH_BATCH_SIZE (records per transaction; a load's last transaction also holds the "
                  "stored records it changes) or raise the server's db.memory.transaction.max "
                  "(one transaction) and dbms.memory.transaction.total.max (all transactions)")


# Nodes deleted per transaction by delete_all: each costs about 1.8 KB of transaction memory with its
# relationship (measured on Neo4j 5.26), so a batch stays a few MB whatever the graph's size.
_DELETE_ROWS = 1_000

T = TypeVar("T")


@dataclass(frozen=True)
class SchemaReport:
    """What `init_schema` did: statements in place, and the Enterprise-only ones a Community server skipped."""

    applied: int
    needs_enterprise: list[str]


# The projection feed's queues (Neo4jStore.iter_edges): a share's pages then None, and the shares in feed order
# then None; an error travels in place of an item, to be raised by the caller's thread.
_Pages: TypeAlias = "queue.SimpleQueue[ColumnPage | BaseException | None]"
_Shares: TypeAlias = "queue.SimpleQueue[_Pages | BaseException | None]"


class Neo4jStore:
    """GraphStore over a Neo4j (or Bolt-compatible) server; safe to share between threads (the driver is)."""

    name = "neo4j"

    def __init__(self, driver: neo4j.Driver, *, database: str | None = None, batch_size: int = 10_000,
                 uri: str = "", bookmarks: BookmarkManager | None = None, busy_timeout: float = 30.0,
                 load_lease: float = 20.0, writers: int = 2, readers: int = 2) -> None:
        self._driver = driver
        self.database = database
        self.batch_size = batch_size
        self.uri = uri
        self.busy_timeout = busy_timeout  # seconds a write waits for an unpublished load
        self.load_lease = load_lease  # seconds without a heartbeat after which a load counts as dead
        self.writers = writers  # a batched load's chunk transactions in flight at once (neo4j_loads)
        self.readers = readers  # the projection feed's sessions at once (iter_edges)
        self._loads = Loads(self)
        # One bookmark manager for every session and query of this store: what it wrote, it reads back.
        self.bookmarks = bookmarks or neo4j.GraphDatabase.bookmark_manager()

    def init_schema(self) -> SchemaReport:
        """Create the constraints and indexes (IF NOT EXISTS), then drop those of earlier versions this one no
        longer keeps; Enterprise-only ones are skipped on Community."""
        statements = cypher.schema_statements()
        enterprise = cypher.enterprise_schema_statements()
        editions = {row["edition"] for row in self._read(cypher.EDITION)}
        skipped = [] if editions == {"enterprise"} else enterprise
        for statement in statements + ([] if skipped else enterprise):
            self._query(statement, {}, neo4j.RoutingControl.WRITE, "creating constraints and indexes")
        for statement in cypher.obsolete_schema_statements():  # after: the new index is there before the old goes
            self._query(statement, {}, neo4j.RoutingControl.WRITE, "dropping obsolete constraints and indexes")
        return SchemaReport(len(statements) + len(enterprise) - len(skipped), skipped)

    def missing_schema(self) -> list[str]:
        """Names of the constraints and indexes `init_schema` creates that the database does not hold."""
        present = {row["name"] for statement in (cypher.SHOW_CONSTRAINTS, cypher.SHOW_INDEXES)
                   for row in self._read(statement)}
        return [name for name in cypher.schema_names() if name not in present]

    def verify(self) -> None:
        """Check that the server answers and accepts the credentials."""
        with self._translate("connecting"):
            self._driver.verify_connectivity()

    def write(self, batch: Batch, check: Check | None = None) -> WriteSummary:
        """Upsert the batch all or nothing, `check` run first under the write lock: one transaction up to
        batch_size records, a batched load published at once past it (graph/stores/neo4j_loads.py).

        Records equal to what is stored are not written again; a batch of nothing else bumps no revision (as
        the embedded store)."""
        if len(batch) > self.batch_size:
            done = self._loads.write(batch, check)
            summary = write_summary(done.entities, done.relations)
            summary.unchanged = done.unchanged
            summary.notes += [recovery.message() for recovery in done.recoveries]
            return summary
        deadline, notes = time.monotonic() + self.busy_timeout, list[str]()
        while True:
            try:
                with self._translate(f"writing {batch.label}"):
                    ents, rels, unchanged = self._commit(lambda tx: self._write_tx(tx, batch, check), batch.label)
                summary = write_summary(ents, rels)
                summary.unchanged = unchanged
            except _NothingChanged as nothing:
                summary = WriteSummary(unchanged=nothing.unchanged)
            except LoadRunning as running:
                if running.found.quiet > self.load_lease:  # its loader died: finish or remove it, then write
                    recovery = self._loads.take_over(running.found)
                    notes += [recovery.message()] if recovery else []
                    continue
                if time.monotonic() > deadline:
                    raise StoreLocked(running.found.busy()) from None
                time.sleep(0.5)
                continue
            summary.notes += notes
            return summary

    def recover(self) -> Recovery | None:
        """Publish or remove a load whose loader died (`corpgraph db recover`); None when none is unpublished."""
        return self._loads.recover()

    def _write_tx(self, tx: neo4j.Transaction, batch: Batch, check: Check | None
                  ) -> tuple[dict[str, Entity], dict[str, Relation], int]:
        """The transaction function: lock, check, then every chunk in order (re-run whole after a transient error).

        Bumping the revision first write-locks the one meta node until commit, so corpgraph writers take turns
        and the check and the endpoint labels read what the previous writer committed; an unpublished batched
        load holds the turn until it is published (LoadRunning: the caller waits).
        """
        found = unpublished(tx.run(cypher_loads.LOCK_META, {"key": cypher.REVISION_KEY}).single(strict=True))
        if found is not None:
            raise LoadRunning(found)
        run_step(tx, Step(cypher.BUMP_REVISION, {"key": cypher.REVISION_KEY}))

        def stored_types(ids: Iterable[str]) -> dict[str, EntityType]:
            """Stored type per existing id, read inside this transaction."""
            out: dict[str, EntityType] = {}
            for chunk in self._chunks(sorted(set(ids))):
                for record in tx.run(cypher.ENTITY_TYPES, {"ids": chunk, "key": cypher.REVISION_KEY}):
                    out[record["id"]] = stored_type(record["id"], record["type"])
            return out

        if check is not None:  # it may drop records (placeholders), so the rows are taken after it
            refuse_problems(check(stored_types))
        ents, rels = batch_rows(batch)
        ents, rels, unchanged = self._changed_only(tx, ents, rels)
        if not ents and not rels:
            raise _NothingChanged(unchanged)  # the transaction (and its revision bump) is rolled back
        for step in [*self._plan(ents, rels, stored_types, batch.retyped), *self._relabel(ents, batch.retyped)]:
            run_step(tx, step)
        log = ChangeRecorder()
        log.wrote(ents, rels)
        run_plan(tx, log_steps(log))
        return ents, rels, unchanged

    def _changed_only(self, tx: neo4j.Transaction, ents: dict[str, Entity], rels: dict[str, Relation]
                      ) -> tuple[dict[str, Entity], dict[str, Relation], int]:
        """The records whose stored document differs (or that are not stored), and how many are stored as they are."""
        same: set[str] = set()
        docs = {i: encode(r) for i, r in ents.items()}
        groups: list[tuple[str, dict[str, str]]] = [(cypher.GET_ENTITIES, docs)]
        by_kind: dict[RelationType, dict[str, str]] = defaultdict(dict)
        for rel_id, relation in rels.items():
            by_kind[RelationType(relation.type)][rel_id] = encode(relation)  # type: ignore[attr-defined]
        groups += [(cypher.get_relations(kind), kind_docs) for kind, kind_docs in by_kind.items()]
        for statement, wanted in groups:
            for chunk in self._chunks(sorted(wanted)):
                same.update(r["id"] for r in tx.run(statement, {"ids": chunk, "key": cypher.REVISION_KEY})
                            if wanted.get(r["id"]) == r["doc"])
        return ({i: r for i, r in ents.items() if i not in same}, {i: r for i, r in rels.items() if i not in same},
                len(same))

    def _plan(self, ents: dict[str, Entity], rels: dict[str, Relation], stored_types: TypeLookup,
              retyped: Mapping[str, EntityType]) -> Iterator[Step]:
        """Chunked steps in order: entities per label, then relations per (type, source, target label).

        A placeholder the write retypes (Batch.retyped) is written under its stored label, which the write's
        last steps replace (`_relabel`): a batched load writes its chunks before it publishes.
        The groups and the endpoint labels (read from the store) are settled here, before any step runs; each
        chunk's rows are built only when its step is reached, so a batched load builds the next chunk on a
        thread while the server writes this one (neo4j_steps.ahead)."""
        labels = {i: retyped.get(i, entity_type(rec)) for i, rec in ents.items()}
        by_label: dict[EntityType, list[Entity]] = defaultdict(list)
        for id in sorted(ents):  # id order: see _relation_groups
            by_label[labels[id]].append(ents[id])
        return self._steps(by_label, self._relation_groups(labels, rels, stored_types))

    def _steps(self, by_label: dict[EntityType, list[Entity]],
               groups: dict[tuple[RelationType, EntityType, EntityType], list[tuple[str, Relation]]]) -> Iterator[Step]:
        """One step per chunk of records, its rows built when it is asked for (written visible at commit unless a
        batched load tags them)."""
        for label, records in by_label.items():
            shape = Step(cypher.merge_entities(label), {}, None, cypher_loads.EXISTING_ENTITIES,
                         cypher_loads.CHANGED_ENTITIES, cypher.merge_entities(label, create=True))
            for chunk in self._chunks(records):
                yield _chunk_step(shape, [_entity_row(entity) for entity in chunk])
        for (kind, source, target), members in groups.items():
            shape = Step(cypher.merge_relations(kind, source, target), {}, None, cypher_loads.existing_relations(kind),
                         cypher_loads.changed_relations(kind), cypher.merge_relations(kind, source, target, create=True))
            for pairs in self._chunks(members):
                yield _chunk_step(shape, [{**edge_row(rel_id, relation), "doc": encode(relation)}
                                          for rel_id, relation in pairs])

    def _relation_groups(self, written: dict[str, EntityType], rels: dict[str, Relation], stored_types: TypeLookup
                         ) -> dict[tuple[RelationType, EntityType, EntityType], list[tuple[str, Relation]]]:
        """Relations (with their ids) grouped by type and endpoint labels (a relation type may join several labels)."""
        labels = self._endpoint_labels(written, rels.values(), stored_types)
        grouped: dict[tuple[RelationType, EntityType, EntityType], list[tuple[str, Relation]]] = defaultdict(list)
        # In id order, which is the feed's (it pages each type through its unique id index): Neo4j gives new
        # records the next free slot, so records created in this order lie in the order the feed reads them, as
        # an import's do (its CSV is written in id order); in file order a feed page reads records from all over
        # the store. The feed read a transactionally written world with more server CPU than an imported one
        # (2.89 against 1.86 s at 200,000 companies); the gain of this order was within a loaded machine's noise
        # (docs/neo4j.md, "The feed on a transactionally written world").
        for rel_id in sorted(rels):
            relation = rels[rel_id]
            kind = RelationType(relation.type)  # type: ignore[attr-defined]
            grouped[(kind, labels[relation.source], labels[relation.target])].append((rel_id, relation))
        return grouped

    def _commit(self, work: Callable[[neo4j.Transaction], T], label: str) -> T:
        """Run `work` in one explicit transaction, retried whole after a transient error for up to 30 s.

        Not `execute_write`: the driver would also retry a transaction that outgrew the server's memory
        limit (Neo4j reports it as transient, at commit), for 30 s, where nothing but a smaller file helps.
        """
        delay, deadline = 0.2, time.monotonic() + _RETRY_SECONDS
        while True:
            try:
                with self._session() as session, session.begin_transaction() as tx:
                    done = work(tx)
                    tx.commit()
                return done
            except (nx.Neo4jError, nx.DriverError) as exc:
                if getattr(exc, "code", None) in _MEMORY_LIMIT_CODES:
                    raise TransactionTooLarge(f"{label}: too large for one Neo4j transaction "
                                              f"({exc.message}); {_MEMORY_REMEDY}; nothing of it was written"
                                              ) from exc
                if not exc.is_retryable() or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay *= 2

    def _relabel(self, ents: dict[str, Entity], retyped: Mapping[str, EntityType]) -> list[Step]:
        """The last steps of a write that retypes placeholders: each written one's node takes its new label."""
        by_label: dict[EntityType, list[str]] = defaultdict(list)
        for id in sorted(retyped.keys() & ents.keys()):
            by_label[entity_type(ents[id])].append(id)
        return [Step(cypher.relabel_entities(label), {"ids": chunk}, len(chunk))
                for label, ids in by_label.items() for chunk in self._chunks(ids)]

    def _endpoint_labels(self, written: dict[str, EntityType], rels: Iterable[Relation], stored_types: TypeLookup
                         ) -> dict[str, EntityType]:
        """The label of every relation endpoint, as the batch writes it or else from the store."""
        labels = dict(written)
        ends = {x for rec in rels for x in (rec.source, rec.target)}
        labels.update(stored_types(ends - labels.keys()))
        missing = sorted(ends - labels.keys())
        if missing:
            raise StoreError(f"relations point at unknown ids {missing[:10]}: write through graph.write.ingest, "
                             "which checks references, or load those entities first")
        return labels

    def entity_types(self, ids: Iterable[str]) -> dict[str, EntityType]:
        """Stored type per existing id."""
        out: dict[str, EntityType] = {}
        for chunk in self._chunks(sorted(set(ids))):
            for row in self._read(cypher.ENTITY_TYPES, ids=chunk):
                out[row["id"]] = stored_type(row["id"], row["type"])
        return out

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """Entity records by id."""
        out: dict[str, Entity] = {}
        for chunk in self._chunks(list(dict.fromkeys(ids))):
            for row in self._read(cypher.GET_ENTITIES, ids=chunk):
                out[row["id"]] = decode_entity(row["type"], row["doc"], row["id"])
        return out

    def get_relations(self, ids: Sequence[str]) -> dict[str, StoredRelation]:
        """Relation records by relation id (the id starts with its type, which picks the statement)."""
        by_type: dict[RelationType, list[str]] = defaultdict(list)
        for rel_id in dict.fromkeys(ids):
            kind = _relation_type_of(rel_id)
            if kind is not None:
                by_type[kind].append(rel_id)
        out: dict[str, StoredRelation] = {}
        for kind, kind_ids in by_type.items():
            statement = cypher.get_relations(kind)
            for chunk in self._chunks(kind_ids):
                for row in self._read(statement, ids=chunk):
                    out[row["id"]] = StoredRelation(row["id"], decode_relation(kind.value, row["doc"], row["id"]))
        return out

    def relations_touching(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[StoredRelation]:
        """Relations of the given types with an endpoint among ids."""
        found: dict[str, StoredRelation] = {}
        for kind in dict.fromkeys(types):
            statement = cypher.relations_touching(kind)
            for chunk in self._chunks(list(dict.fromkeys(ids))):
                for row in self._read(statement, ids=chunk):
                    found[row["id"]] = StoredRelation(row["id"], decode_relation(kind.value, row["doc"], row["id"]))
        return [found[k] for k in sorted(found)]

    def edges_into(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[EdgeRow]:
        """Analytic scalars of the relations of these types into the ids (no document decoded)."""
        out: list[EdgeRow] = []
        for kind in dict.fromkeys(types):
            for chunk in self._chunks(list(dict.fromkeys(ids))):
                out += [EdgeRow(type=kind, **row) for row in self._read(cypher.edges_into(kind), ids=chunk)]
        return out

    def search(self, text: str, types: Sequence[EntityType] | None, limit: int,
               topics: Sequence[str] | None = None) -> list[Entity]:
        """Entities whose folded name or alias contains the folded text; exact, then prefix, then contained.
        With topics: only entities carrying any of them (graph.identity.topics)."""
        terms = search_terms(text, types, topics)
        if terms is None:
            return []
        key, names, wanted = terms
        rows = self._read(cypher.SEARCH, text=key, exact=f"\n{key}\n", prefix=f"\n{key}", types=names, limit=limit,
                          topics=wanted)
        return decode_found((row["type"], row["doc"], row["id"]) for row in rows)

    def list_entities(self, type: EntityType, after: str | None, limit: int) -> list[Entity]:
        """One page of entities of a type, ordered by id."""
        rows = self._read(cypher.list_entities(type), type=type.value, after=after or "", limit=limit)
        return [decode_entity(row["type"], row["doc"], row["id"]) for row in rows]

    def iter_edges(self, types: Sequence[RelationType], page_size: int = 50_000) -> Iterator[ColumnPage]:
        """Relations of the given types in pages, one type after another, each ordered by relation id.

        Each page is one record of columns (cypher.edge_columns), read through the relationship id index and
        handed on as columns (ColumnPage). Each type's id range is split into up to `readers` shares at ids
        taken from the index (cypher.edge_split), and the shares are read at once, each on its own session
        and thread, page after page, so the server reads on as many cores while the caller turns the pages
        into arrays (the wait is the driver's socket read, which releases the GIL). Pages are handed on in
        the order one reader would give them: share after share, each in id order.
        """
        stop = threading.Event()
        shares: _Shares = queue.SimpleQueue()
        pool = ThreadPoolExecutor(max_workers=self.readers, thread_name_prefix="corpgraph-feed")
        # The shares are planned on a thread of their own: the first type's readers start after its own count
        # and split, not after every type's (ten types' round trips, 0.3 s on a loaded machine).
        planner = threading.Thread(target=self._plan_feed, args=(list(dict.fromkeys(types)), page_size, pool,
                                                                 shares, stop), name="corpgraph-feed-plan")
        planner.start()
        try:
            while (share := shares.get()) is not None:
                if isinstance(share, BaseException):
                    raise share
                while (page := share.get()) is not None:
                    if isinstance(page, BaseException):
                        raise page
                    yield page
        finally:
            stop.set()  # a caller that stops early (or an error) ends the readers after their current page
            planner.join()
            pool.shutdown(wait=True, cancel_futures=True)

    def _plan_feed(self, kinds: list[RelationType], page_size: int, pool: ThreadPoolExecutor,
                   shares: _Shares, stop: threading.Event) -> None:
        """Split each type into shares and hand each to a reader, its page queue into `shares` in feed order,
        then None; an error is put in its place, for the caller to raise."""
        try:
            for kind in kinds:
                splits = self._feed_splits(kind, page_size)
                for after, upto in zip(["", *splits], [*splits, None]):
                    if stop.is_set():
                        return
                    pages: _Pages = queue.SimpleQueue()
                    pool.submit(self._feed_share, kind, after, upto, page_size, pages, stop)
                    shares.put(pages)
        except BaseException as exc:  # handed to the caller's thread, raised there
            shares.put(exc)
        shares.put(None)

    def _feed_splits(self, kind: RelationType, page_size: int) -> list[str]:
        """Ids that split a type's relations into up to `readers` shares of about the same size, ascending
        (none for one reader, or a type of at most one page: a second share would not pay its round trips)."""
        (row,) = self._read(cypher.relation_count(kind))
        parts = min(self.readers, -(-row["count"] // page_size))
        splits = (self._read(cypher.edge_split(kind), skip=row["count"] * k // parts - 1) for k in range(1, parts))
        return sorted({rows[0]["id"] for rows in splits if rows})

    def _feed_share(self, kind: RelationType, after: str, upto: str | None, page_size: int,
                    out: _Pages, stop: threading.Event) -> None:
        """Read the relations of `kind` after `after` up to `upto` (included; None: to the end) page by page into
        `out`, then None; an error is put in its place, for the caller to raise."""
        statement, fields = cypher.edge_columns(kind, bounded=upto is not None), cypher.feed_fields(kind)
        try:
            while not stop.is_set():
                page = self._read_page(statement, after=after, upto=upto, limit=page_size)
                ids: list[str] = page["id"]
                if ids:
                    out.put(_feed_page(kind, fields, page))
                if len(ids) < page_size:
                    break
                after = ids[-1]
        except BaseException as exc:  # handed to the caller's thread, raised there
            out.put(exc)
        out.put(None)

    def raw_entities(self, after: str, limit: int) -> list[RawEntity]:
        """One page of entity nodes by id, not decoded."""
        return [RawEntity(**row) for row in self._read(cypher.RAW_ENTITIES, after=after, limit=limit)]

    def raw_relations(self, after: str, limit: int) -> list[RawRelation]:
        """One page of relationships between entities by relation id, not decoded."""
        return [RawRelation(**row) for row in self._read(cypher.RAW_RELATIONS, after=after, limit=limit)]

    def counts(self) -> dict[str, int]:
        """Stored entities and relations per type name."""
        out = {row["type"]: row["count"] for row in self._read(cypher.COUNT_ENTITIES)}
        out.update({row["type"]: row["count"] for row in self._read(cypher.COUNT_RELATIONS)})
        return out

    def ids_with_identifier(self, key: str) -> list[str]:
        """Ids of the entities carrying the normalised identifier key, sorted."""
        return [row["id"] for row in self._read(cypher.IDS_WITH_IDENTIFIER, needle=f"\n{key}\n")]

    def shared_identifiers(self) -> Iterator[tuple[str, list[str]]]:
        """Identifier keys held by more than one entity, with their ids, in key order (grouped by the server)."""
        for row in self._read(cypher.SHARED_IDENTIFIERS):
            yield row["key"], sorted(row["ids"])

    def add_judgement(self, a: str, b: str, verdict: Verdict | str, by: str) -> Judgement:
        """Store a decision now (replacing the pair's earlier one) and bump the revision, in one transaction."""
        made = Judgement.new(a, b, verdict, by)
        params = {"pair": f"{made.a}|{made.b}", "a": made.a, "b": made.b, "verdict": made.verdict.value,
                  "by": made.by, "at": made.at}
        plan = [Step(cypher.MERGE_JUDGEMENT, params, expected=1),
                Step(cypher.BUMP_REVISION, {"key": cypher.REVISION_KEY}), *log_steps(ChangeRecorder(ChangeKind.DECISION))]
        with self._translate("storing a decision"):
            self._commit(lambda tx: run_plan(tx, plan), "a decision")
        return made

    def judgements(self) -> list[Judgement]:
        """Every stored decision, ordered by pair."""
        return [Judgement(r["a"], r["b"], Verdict(r["verdict"]), r["by"], r["at"]) for r in self._read(cypher.JUDGEMENTS)]

    def location(self) -> Location:
        """The server's URI (and database); no instance number and no folder of its own for snapshots."""
        where = f"{self.uri}/{self.database}" if self.database else self.uri
        return Location(self.name, where, "")

    def write_stream(self, label: str, batches: Iterable[Batch], on_batch: Callable[[Batch], None] | None = None,
                     on_phase: Callable[[LoadPhase], None] | None = None) -> WriteSummary:
        """A file's batches written all or nothing. Past batch_size records: streamed, the loader holding a batch at
        a time, the checks reading what the database holds in pages (Loads.stream, graph/stores/neo4j_stream.py),
        published at once; up to batch_size records: joined and written by graph.write.ingest in one transaction.
        Its phases: reading, then writing (joined: references are checked and the file committed inside that one
        write, no phases apart)."""
        phase = on_phase or (lambda _: None)
        phase(LoadPhase.READING)
        head, rest = _head(iter(batches), self.batch_size)
        if rest is not None:
            streamed, recoveries = self._loads.stream(label, itertools.chain(head, rest), on_batch, phase,
                                                       _entity_row)
            streamed.notes[:0] = [recovery.message() for recovery in recoveries]
            return streamed
        whole = join_batches(label, head, on_batch)
        phase(LoadPhase.WRITING)
        return ingest(self, whole)

    def batch_work(self) -> None:
        """None: the file's records are joined and written by graph.write.ingest as they are."""
        return None

    def revision(self) -> int:
        """Counter bumped by every committed write (0 before the first)."""
        rows = self._read(cypher.READ_REVISION)
        return int(rows[0]["revision"]) if rows else 0

    def delete_all(self) -> None:
        """Delete every corpgraph entity, relation and decision (tests and re-imports; other labels are left alone).

        In batches of _DELETE_ROWS nodes, each its own transaction (cypher.DELETE_ALL), so a large graph can be
        emptied within the server's transaction memory; it is therefore not all-or-nothing: a failure midway
        leaves part deleted, and running it again finishes the job. The revision is bumped afterwards (also
        after a failure), never reset, so projections built before see the change.
        """
        try:
            with self._translate("deleting all corpgraph data"), self._session() as session:
                session.run(cypher.DELETE_ALL, {"rows": _DELETE_ROWS}).consume()
        finally:
            self._bump_revision("deleting all corpgraph data")

    def _bump_revision(self, action: str) -> None:
        """Bump the revision in a transaction of its own; an unpublished load's name goes with its records."""
        plan = [Step(cypher.BUMP_REVISION, {"key": cypher.REVISION_KEY}),
                Step(cypher_loads.DROP_LOAD, {"key": cypher.REVISION_KEY, "load": None}),
                *log_steps(ChangeRecorder(ChangeKind.DELETE))]
        with self._translate(action):
            self._commit(lambda tx: run_plan(tx, plan), action)

    def changes_since(self, revision: int) -> list[Change]:
        """The change log after `revision`, oldest first (pruned past CHANGE_LOG_KEEP revisions)."""
        return [Change(int(r["revision"]), ChangeKind(r["kind"]), tuple(r["relations"] or ()),
                       tuple(r["entities"] or ())) for r in self._read(cypher.CHANGES_SINCE, since=revision)]

    def unmapped_reads(self) -> AbstractContextManager[None]:
        """Nothing to do: the server holds the store's files, this process maps none of them."""
        return nullcontext()

    def warm_up(self) -> int:
        """Run the write transactions of a mutation's commonest shapes and roll them back, then the reads of a
        replica's first delta, so that the server has planned them before the first user's write waits for it
        (what and why: graph.stores.neo4j_warm); nothing is written. How many write transactions were run."""
        batches = neo4j_warm.batches()
        for batch in batches:
            with self._translate("warming up the write statements"), self._session() as session, \
                    session.begin_transaction() as tx:
                try:
                    self._write_tx(tx, batch, functools.partial(_problems_of, self, batch))
                except _NothingChanged:
                    pass  # someone stored these very records: the statements up to that check are planned all the same
                tx.rollback()
        for statement, params in neo4j_warm.delta_reads():
            self._read(statement, **params)
        return len(batches)

    def close(self) -> None:
        """Close the driver and its connections."""
        self._driver.close()

    def _read(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        """Run one read statement (routed to a reader on a cluster) and return its rows as dicts.

        Every read gets `$key`, the revision node, where cypher.HIDDEN finds the load to hide."""
        return [record.data() for record in self._query(statement, {"key": cypher.REVISION_KEY, **params})]

    def _read_page(self, statement: str, **params: Any) -> neo4j.Record:
        """Run a read that answers one record, returned as the driver gives it.

        Not record.data(): it walks every value of every list in Python (2 of the 2.1 s a 66k-relation feed
        took), where the record's values are already plain lists.
        """
        (record,) = self._query(statement, {"key": cypher.REVISION_KEY, **params})
        return record

    def _query(self, statement: str, params: dict[str, Any], routing: neo4j.RoutingControl = neo4j.RoutingControl.READ,
               action: str = "reading") -> list[neo4j.Record]:
        """Run one statement in its own managed transaction, after every write this store has made.

        The store's bookmark manager is shared with its write sessions: on a cluster a read routed to a
        follower waits until that follower has applied this store's last committed write (causal consistency).
        """
        with self._translate(action):
            records, _, _ = self._driver.execute_query(statement, params, database_=self.database, routing_=routing,
                                                       bookmark_manager_=self.bookmarks)
        return records

    def _session(self) -> neo4j.Session:
        """A session on the configured database, sharing the store's bookmarks (reads see the writes before)."""
        return self._driver.session(database=self.database, bookmark_manager=self.bookmarks)

    def _chunks(self, items: list[Any]) -> Iterator[list[Any]]:
        """Split rows or ids into chunks of at most batch_size items."""
        for start in range(0, len(items), self.batch_size):
            yield items[start:start + self.batch_size]

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """Turn driver exceptions into the project's store errors, with what to check."""
        try:
            yield
        except nx.AuthError as exc:
            raise StoreAuthError(f"Neo4j at {self.uri} refused the credentials while {action}: {exc.message}; "
                                 "check NEO4J_USERNAME and NEO4J_PASSWORD") from exc
        except nx.ConstraintError as exc:
            raise ConstraintViolation(f"Neo4j rejected a write while {action}: {exc.message}; an id is already "
                                      "used by an entity of another type (load through graph.write.ingest, which "
                                      "checks this), or the data predates `corpgraph db init`") from exc
        except (nx.ServiceUnavailable, nx.SessionExpired) as exc:
            raise StoreUnavailable(f"cannot reach Neo4j at {self.uri} while {action}: {exc}; check NEO4J_URI, "
                                   "that the server is running and that its Bolt port is open") from exc
        except nx.ConfigurationError as exc:
            raise StoreError(f"the Neo4j driver configuration is invalid ({exc}); check NEO4J_URI "
                             "(bolt://, neo4j://, neo4j+s://...) and NEO4J_DATABASE") from exc
        except nx.Neo4jError as exc:
            raise StoreError(f"Neo4j failed while {action}: {exc.code}: {exc.message}; check the server log "
                             f"and that NEO4J_DATABASE ({self.database or 'default'}) exists") from exc
        except nx.DriverError as exc:
            raise StoreError(f"the Neo4j driver failed while {action}: {exc}; check NEO4J_URI") from exc


def open_neo4j_store(settings: Settings, require_schema: bool = True) -> Neo4jStore:
    """Connect as the NEO4J_* settings say and check the connection and (unless told not to) the schema.

    The schema is created by `corpgraph db init` only, not on every open (a dozen DDL statements per command
    and per API start, each a schema lock on a cluster's leader); a database without it is refused with
    SchemaMissing, which says to run that command: writes without the uniqueness constraints could make
    duplicates, and reads without the indexes would scan whole labels.
    """
    if not settings.neo4j_uri:
        raise StoreError("the Neo4j store needs NEO4J_URI (e.g. bolt://localhost:7687); see docs/neo4j.md")
    password = settings.neo4j_password.get_secret_value()
    # No password means a server with auth disabled (NEO4J_AUTH=none); sending empty basic auth would fail.
    auth = (settings.neo4j_username, password) if password else None
    try:
        # Relations store only the analytic properties they have (Neo4j keeps no nulls), so the projection
        # feed reads keys no relation may carry yet (share_min, kind, ...): "unrecognized" notifications are
        # expected there, and logged for every page they would flood a server's stderr.
        driver = neo4j.GraphDatabase.driver(settings.neo4j_uri, auth=auth, notifications_disabled_classifications=[
            neo4j.NotificationDisabledClassification.UNRECOGNIZED])
    except (ValueError, nx.ConfigurationError) as exc:
        raise StoreError(f"NEO4J_URI {settings.neo4j_uri!r} is not a valid Neo4j address: {exc}") from exc
    store = Neo4jStore(driver, database=settings.neo4j_database, batch_size=settings.batch_size,
                       uri=settings.neo4j_uri, busy_timeout=settings.busy_timeout, load_lease=settings.load_lease,
                       writers=settings.load_writers, readers=settings.feed_readers)
    try:
        store.verify()
        missing = store.missing_schema() if require_schema else []
        if missing:
            raise SchemaMissing(f"the Neo4j database at {settings.neo4j_uri} lacks {len(missing)} of corpgraph's "
                                f"constraints and indexes ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): "
                                "run `corpgraph db init` once (safe to repeat), then this command again")
    except BaseException:
        store.close()
        raise
    return store


def _head(batches: Iterator[Batch], size: int) -> tuple[list[Batch], Iterator[Batch] | None]:
    """The first batches, up to the first that takes their records past `size`, and the rest (None: there was no
    more, the file fits one transaction)."""
    head: list[Batch] = []
    records = 0
    for batch in batches:
        head.append(batch)
        records += len(batch)
        if records > size:
            return head, batches
    return head, None


def _feed_page(kind: RelationType, fields: tuple[str, ...], page: neo4j.Record) -> ColumnPage:
    """One page of feed columns as a ColumnPage, the absent-value stand-ins (NaN, '') turned back into None."""
    count = len(page["id"])
    columns: dict[str, list[Any]] = {"id": page["id"], "type": [kind] * count, "source": page["source"],
                                     "target": page["target"]}
    for name in ANALYTIC_FIELDS:
        if name not in fields:
            columns[name] = [None] * count
        elif cypher.numeric_feed_field(name):
            columns[name] = [None if value != value else value for value in page[name]]  # NaN != NaN
        else:
            columns[name] = [value or None for value in page[name]]
    return ColumnPage(columns)


def _entity_row(rec: Entity) -> dict[str, Any]:
    """The node properties of an entity record.

    The search keys travel only as `search`, the one string the text index reads: no statement reads them as a
    list, and a list property cost the server about a fifth of a node's write (18 of 98 µs, CREATE of 30,000
    Company nodes in chunks of 10,000, warm JVM).
    Identifiers and topics most entities lack are sent as null, so the node holds no such property: an empty
    list or string would still cost an index entry (the text index on idsearch) and transaction memory (a
    quarter of a new node's, measured: 4.6 KB a node with them, 3.5 KB without).
    """
    keys, idkeys = entity_keys(rec), entity_identifier_keys(rec)
    return {"id": rec.id, "type": rec.type, "name": rec.name,  # type: ignore[attr-defined]
            "topics": entity_topic_keys(rec) or None,
            "search": "\n" + "\n".join(keys) + "\n", "idkeys": idkeys or None,
            "idsearch": "\n" + "\n".join(idkeys) + "\n" if idkeys else None, "doc": encode(rec)}


def _problems_of(store: Neo4jStore, batch: Batch, stored_types: TypeLookup) -> list[Problem]:
    """The problems graph.write.ingest's check finds in the batch (its placeholders settled), read in the write."""
    return batch_problems(stored_types, store, batch)[1]


def _chunk_step(shape: Step, rows: list[dict[str, Any]]) -> Step:
    """`shape`'s statements for one chunk of rows, which they must all write."""
    return dataclasses.replace(shape, params={"rows": rows, "load": None}, expected=len(rows))


def _relation_type_of(rel_id: str) -> RelationType | None:
    """The relation type a relation id starts with, or None for an id that is not one of ours."""
    head = rel_id.split("|", 1)[0]
    return next((kind for kind in RelationType if kind.value == head), None)

