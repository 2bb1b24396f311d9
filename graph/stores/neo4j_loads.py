"""Large writes into Neo4j in bounded transactions that nobody sees half of (Neo4jStore.write past batch_size).

A load gets a number and names itself on the revision node (`loading`, cypher_loads) before it writes
anything; from then on readers hide every record tagged with that number (cypher.HIDDEN) and other writers
wait (Neo4jStore.write), so the load's checks read what the writers before it committed, as a one-transaction
write's do. Then:

1. every check (graph.ingest: fields, references, types, share sums) runs, in one pass, before any record is
   written; problems end the load with nothing written;
2. each chunk of `batch_size` records is its own transaction, up to `store.writers` of them in flight at once
   on their own sessions (entity chunks all committed before relation chunks start; each chunk holds its lane
   node's lock, cypher_loads.CLAIM_LANE): new records (and records this load wrote before) are written tagged
   with the load, hidden; a stored record the load would change is not touched but kept aside, and one whose
   document is unchanged needs nothing. Which is which a chunk asks the server (the probe) only for the ids the
   loader may have stored (neo4j_known: none into an empty database); the others it CREATEs at once;
3. one final transaction writes the records kept aside (the only part that grows with the file: it is as
   large as the number of stored records the file changes), removes the load's name from the revision node,
   bumps the revision and logs the change: everything becomes visible at once.

A loader that dies (kill -9, a lost server) leaves its load named, its heartbeat ageing. Once it is older
than the lease (CORPGRAPH_LOAD_LEASE), the next load or `corpgraph db recover` takes the load over: it
publishes it when every record was written and nothing was kept aside (LoadState.WRITTEN), and removes its
records otherwise, and says which. A loader that was only slow finds, at its next transaction, that its load
is gone, and fails without writing.
"""
from __future__ import annotations

import functools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import neo4j

from corpgraph.schema.batch import Batch, LoadPhase, WriteSummary
from corpgraph.schema.errors import ConstraintViolation, StoreError, StoreLocked
from corpgraph.schema.records import Entity, Relation

from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.base import ChangeKind, ChangeRecorder, Check, batch_rows, refuse_problems
from corpgraph.graph.stores.neo4j_known import Known
from corpgraph.graph.stores.neo4j_steps import Step, ahead, log_steps, params, run_plan, run_step, sent
from corpgraph.graph.stores.neo4j_stream import Streamed
from corpgraph.graph.stores import cypher_loads
from corpgraph.graph.stores.cypher_loads import (ANY_ENTITIES, BEGIN_LOAD, CHECK_LOAD, CLAIM_LANE, CLAIM_LOAD,
                                       DROP_LOAD, EXISTING_ENTITIES, HEARTBEAT, LOAD_ENTITY_COUNTS,
                                       LOAD_RELATION_COUNTS, LOCK_LANES, LOCK_META, MAKE_LANES, PUBLISH_LOAD,
                                       REMOVE_LOAD_ENTITIES, REMOVE_LOAD_RELATIONS, SET_LOAD_STATE, LoadState)

if TYPE_CHECKING:
    from corpgraph.graph.stores.neo4j import Neo4jStore

# Records deleted per inner transaction when a load is removed (as Neo4jStore.delete_all).
_REMOVE_ROWS = 1_000
_POLL_SECONDS = 0.5  # how often a waiting writer looks again


class LoadLost(StoreError):
    """A load's loader found its load taken over (it was quiet past the lease) or deleted: nothing more written."""


@dataclass(frozen=True)
class Unpublished:
    """The unpublished load the revision node names, as a writer found it under the node's lock."""

    load: int
    label: str
    state: LoadState
    quiet: float  # seconds since its last sign of life

    def busy(self) -> str:
        """Why a writer cannot go ahead while the load's loader is alive, and what to do."""
        return (f"another load, of {self.label} (load {self.load}), is being written to Neo4j: writes take turns; "
                "wait for it (CORPGRAPH_BUSY_TIMEOUT says how long a write waits) and try again")


class LoadRunning(Exception):
    """Raised inside a write transaction that found an unpublished load (rolled back, retried until the timeout)."""

    def __init__(self, found: Unpublished) -> None:
        super().__init__(found.label)
        self.found = found


@dataclass(frozen=True)
class Recovery:
    """What taking over a dead load did: `published` it (every record was written) or `removed` its records."""

    load: int
    label: str
    action: str

    def message(self) -> str:
        """One line for the user."""
        if self.action == "published":
            return (f"recovered load {self.load} of {self.label}: every record had been written; published it now")
        return f"recovered load {self.load} of {self.label}: it died before all was written; removed its records"


@dataclass
class LoadResult:
    """What a batched load wrote, and the dead loads it recovered first."""

    entities: dict[str, Entity]  # written (changed or new)
    relations: dict[str, Relation]
    recoveries: list[Recovery] = field(default_factory=list)
    unchanged: int = 0  # records stored as they are, not written again


def unpublished(record: neo4j.Record) -> Unpublished | None:
    """The unpublished load LOCK_META reported, or None."""
    if record["loading"] is None:
        return None
    quiet = record["quiet"]
    return Unpublished(int(record["loading"]), record["label"] or "?", LoadState(record["state"]),
                       float("inf") if quiet is None else quiet / 1000)


class Loads:
    """Batched, published loads into one Neo4jStore."""

    def __init__(self, store: Neo4jStore) -> None:
        self.store = store

    def write(self, batch: Batch, check: Check | None) -> LoadResult:
        """Check, write in chunks of batch_size records, publish; on any failure remove what was written."""
        load, recoveries = self._begin(batch.label)
        written = False
        try:
            # the batch names each id once: into a database that held no entity, every one is new
            known = None if self._in_use(batch.label) else Known()
            with self._heartbeat(load):
                if check is not None:  # it may drop records (placeholders), so the rows are taken after it
                    refuse_problems(check(self.store.entity_types))
                ents, rels = batch_rows(batch)

                def began() -> None:
                    """The first chunk is on its way: from here a failure removes what was written."""
                    nonlocal written
                    written = True
                plan = ahead(self.store._plan(ents, rels, self.store.entity_types, batch.retyped))
                aside, same = self._write_chunks(load, plan, batch.label, began, known=known)
                ents = {i: rec for i, rec in ents.items() if i not in same}
                rels = {i: rec for i, rec in rels.items() if i not in same}
                aside += self.store._relabel(ents, batch.retyped)  # retyped placeholders: new labels at publication
                if not ents and not rels:  # everything is stored as it is: no revision, as a one-transaction write
                    self._commit(lambda tx: _meta_step(tx, DROP_LOAD, load), batch.label)
                    return LoadResult({}, {}, recoveries, len(same))
                log = ChangeRecorder()
                log.wrote(ents, rels)
                self._finish(load, aside, log, batch.label)
        except BaseException:
            self._abandon(load, written)
            raise
        return LoadResult(ents, rels, recoveries, len(same))

    def stream(self, label: str, batches: Iterable[Batch], on_batch: Callable[[Batch], None] | None,
               phase: Callable[[LoadPhase], None], row: Callable[[Entity], dict[str, Any]]
               ) -> tuple[WriteSummary, list[Recovery]]:
        """A file of more than batch_size records streamed in bounded loader memory (graph.stores.neo4j_stream;
        `row`: an entity's node properties): its summary, and the dead loads recovered first. Into a database that
        holds entities once the load is named, the checks also read what it held (neo4j_stream.StoredFacts)."""
        load, recoveries = self._begin(label)
        written = False

        def began() -> None:
            """The first chunk is on its way: from here a failure removes what was written."""
            nonlocal written
            written = True
        try:
            in_use = self._in_use(label)
            with self._heartbeat(load), Streamed(self.store.batch_size, row, self.store if in_use else None) as streamed:
                self._write_chunks(load, streamed.entity_steps(batches, on_batch), label, began, streamed.wrote,
                                   streamed.known)
                phase(LoadPhase.REFERENCES)
                placeholders = streamed.check()  # InvalidInput with every problem: the load is removed
                phase(LoadPhase.WRITING)
                self._write_chunks(load, streamed.relation_steps(), label, began, streamed.wrote, streamed.known)
                phase(LoadPhase.COMMITTING)
                summary = streamed.summary(self._counts(load))
                summary.placeholders = placeholders
                if not summary.entities and not summary.relations:  # all stored as it is: no revision, as joined
                    self._commit(lambda tx: _meta_step(tx, DROP_LOAD, load), label)
                    summary.placeholders = 0
                    return summary, recoveries
                self._finish(load, streamed.aside, streamed.log, label)
        except BaseException:
            self._abandon(load, written)
            raise
        return summary, recoveries

    def _in_use(self, label: str) -> bool:
        """Whether the database holds any entity, read once the load is named (nobody else writes from then on)."""
        return bool(self._commit(lambda tx: tx.run(ANY_ENTITIES).single(strict=True)["entities"], label))

    def _counts(self, load: int) -> WriteSummary:
        """The records a load wrote, per type, read from the server (the last record of an id counts once)."""
        summary = WriteSummary()
        for statement, counter in ((LOAD_ENTITY_COUNTS, summary.entities), (LOAD_RELATION_COUNTS, summary.relations)):
            rows = self.store._query(statement, {"load": load}, neo4j.RoutingControl.WRITE, "counting a load")
            counter.update({row["type"]: row["count"] for row in rows})
        return summary

    def _finish(self, load: int, aside: Iterable[Step], log: ChangeRecorder, label: str) -> None:
        """Every chunk is committed: mark the load written (a recovery then publishes it) unless records wait aside,
        then publish it in one small transaction."""
        state = LoadState.WRITING if aside else LoadState.WRITTEN
        if not aside:  # from here a recovery publishes rather than removes
            self._commit(lambda tx: _meta_step(tx, SET_LOAD_STATE, load, state), label)
        self._commit(lambda tx: self._publish(tx, load, state, aside, log), label)

    def recover(self) -> Recovery | None:
        """Take over the unpublished load if its loader is gone; None when there is none.

        StoreLocked when its loader is alive (it showed life within the lease).
        """
        found = self._commit(lambda tx: unpublished(tx.run(LOCK_META, {"key": cypher.REVISION_KEY}).single(strict=True)),
                             "recovering a load")
        if found is None:
            return None
        if found.quiet <= self.store.load_lease:
            raise StoreLocked(found.busy())
        return self.take_over(found)

    def _begin(self, label: str) -> tuple[int, list[Recovery]]:
        """Name a new load on the revision node, after any unpublished one is published or recovered."""
        deadline = time.monotonic() + self.store.busy_timeout
        recoveries: list[Recovery] = []
        while True:
            begun = self._commit(lambda tx: _try_begin(tx, label, self.store.writers), label)
            if isinstance(begun, int):
                return begun, recoveries
            if begun.quiet > self.store.load_lease:
                done = self.take_over(begun)
                recoveries += [done] if done is not None else []
                continue
            if time.monotonic() > deadline:
                raise StoreLocked(begun.busy())
            time.sleep(_POLL_SECONDS)

    def take_over(self, found: Unpublished) -> Recovery | None:
        """Publish a dead load that wrote everything, remove any other; None if someone else took it first."""
        def claim(tx: neo4j.ManagedTransaction | neo4j.Transaction) -> bool:
            """Still the same dead load under the lock: publish it, or mark it as being removed (ours now)."""
            now = unpublished(tx.run(LOCK_META, {"key": cypher.REVISION_KEY}).single(strict=True))
            if now is None or now.load != found.load or now.quiet <= self.store.load_lease:
                return False
            _lock_lanes(tx)  # after the revision node, as every taker: its chunks in flight commit first
            if now.state == LoadState.WRITTEN:
                self._publish(tx, found.load, LoadState.WRITTEN, [], ChangeRecorder(ChangeKind.BULK))
            else:
                _meta_step(tx, SET_LOAD_STATE, found.load, LoadState.REMOVING)
            return True

        if not self._commit(claim, "recovering a load"):
            return None
        if found.state == LoadState.WRITTEN:
            return Recovery(found.load, found.label, "published")
        with self._heartbeat(found.load):
            self._remove(found.load)
        return Recovery(found.load, found.label, "removed")

    def _write_chunks(self, load: int, steps: Iterator[Step], label: str, began: Callable[[], None],
                      done: Callable[[Step, list[Step], set[str]], None] | None = None, known: Known | None = None
                      ) -> tuple[list[Step], set[str]]:
        """Every chunk in its own transaction, up to store.writers of them at once on as many sessions (Neo4j
        writes them on as many cores); the records kept aside for publication, in the plan's order, and the ids
        stored as they are, or, with `done`, each chunk's handed to it in that order instead (a streamed load
        keeps neither in memory). Entity chunks are all committed before the first relation chunk starts: its
        endpoints must be there to be matched. With `known`, a chunk probes only the ids that may be stored
        (neo4j_known) and CREATEs the others at once; without, it probes every id."""
        lanes: queue.SimpleQueue[str] = queue.SimpleQueue()
        for lane in cypher_loads.lanes(cypher.REVISION_KEY, self.store.writers):
            lanes.put(lane)

        def in_lane(step: Step, unsure: frozenset[str] | None) -> tuple[list[Step], set[str]]:
            """One chunk's transaction on a free lane (one is free: at most `writers` chunks are in flight)."""
            lane = lanes.get()
            try:
                try:
                    done: tuple[list[Step], set[str]] = self._commit(
                        functools.partial(self._write_chunk, load=load, step=step, lane=lane, unsure=unsure), label)
                except ConstraintViolation:
                    if unsure is None:
                        raise
                    # An id the loader took for new was stored meanwhile by a writer that did not take turns. The
                    # failed transaction was rolled back whole (nothing of the chunk is written, its lane lock let
                    # go), so the chunk runs again as it did before the loader knew anything: lane claimed, load
                    # checked, every id probed, the stored one sent through `differs` like any stored record.
                    done = self._commit(functools.partial(self._write_chunk, load=load, step=step, lane=lane), label)
                return done
            finally:
                lanes.put(lane)

        aside: list[Step] = []
        same: set[str] = set()
        running: deque[Future[tuple[list[Step], set[str]]]] = deque()
        flying: deque[tuple[Step, set[str]]] = deque()  # each chunk in flight, and its ids

        def settle(until: int) -> None:
            """Wait for the oldest chunks until at most `until` are in flight; a failure is raised here."""
            while len(running) > until:
                kept, unchanged = running.popleft().result()
                step, _ = flying.popleft()
                if done is not None:
                    done(step, kept, unchanged)
                    continue
                aside.extend(kept)
                same.update(unchanged)

        with ThreadPoolExecutor(max_workers=self.store.writers, thread_name_prefix=f"corpgraph-load-{load}") as pool:
            entities = True
            for step in steps:
                if entities and step.probe != EXISTING_ENTITIES:
                    settle(0)  # the relations' endpoints are committed
                    entities = False
                ids = {row["id"] for row in step.params["rows"]}
                if any(not ids.isdisjoint(other) for _, other in flying):
                    # a streamed load re-states an id of a chunk in flight: that one commits first, so this one's
                    # probe finds the record (two CREATEs of one id would break the unique constraint)
                    settle(0)
                settle(self.store.writers - 1)
                began()
                running.append(pool.submit(in_lane, step, None if known is None else known.unsure(step)))
                flying.append((step, ids))
            settle(0)  # on a failure, the pool's exit still waits for the chunks in flight
        return aside, same

    def _write_chunk(self, tx: neo4j.Transaction, *, load: int, step: Step, lane: str,
                     unsure: frozenset[str] | None = None) -> tuple[list[Step], set[str]]:
        """One chunk in its own transaction: new and own records written hidden; the changed stored ones
        returned as a step for the final transaction, with the ids of those stored as they are. Only the `unsure`
        ids are probed (None: all); the loader knows the others are new."""

        _meta_step(tx, CLAIM_LANE, load, lane=lane)  # locked before the load is read: see CLAIM_LANE
        _meta_step(tx, CHECK_LOAD, load, LoadState.WRITING)
        rows: list[dict[str, Any]] = step.params["rows"]
        asked = [row["id"] for row in rows if unsure is None or row["id"] in unsure]
        own: dict[str, bool] = {}
        if asked:
            probed = params(ids=asked, load=load)
            own = {r["id"]: r["own"] for r in tx.run(step.probe, probed)}
            sent(probed)
        new = [row for row in rows if row["id"] not in own]  # not stored: inserted without a MERGE's seek
        mine = [row for row in rows if own.get(row["id"]) is True]  # stored by this load, still hidden
        stored = [row for row in rows if own.get(row["id"]) is False]
        if mine and step.relabel:  # re-stated by a later batch of a streamed load, maybe as another type
            run_step(tx, Step(step.relabel, {"ids": [row["id"] for row in mine]}, len(mine)))
        for statement, chunk in ((step.create, new), (step.statement, mine)):
            if chunk and statement:  # no statement: a streamed load's placeholders never replace a record
                run_step(tx, Step(statement, {"rows": chunk, "load": load}, len(chunk)))
        if not stored or not step.statement:
            return [], set()
        probe = params(rows=[{"id": row["id"], "doc": row["doc"]} for row in stored])
        changed = {r["id"] for r in tx.run(step.differs, probe)}
        sent(probe)
        kept = [row for row in stored if row["id"] in changed]
        same = {row["id"] for row in stored if row["id"] not in changed}
        return ([Step(step.statement, {"rows": kept, "load": None}, len(kept))] if kept else []), same

    def _publish(self, tx: neo4j.ManagedTransaction | neo4j.Transaction, load: int, state: LoadState,
                 aside: Iterable[Step], log: ChangeRecorder) -> None:
        """The final transaction: the changed stored records, the load's name removed, the revision bumped, logged."""

        _meta_step(tx, CLAIM_LOAD, load, state)
        run_plan(tx, aside)
        _meta_step(tx, PUBLISH_LOAD, load)
        run_plan(tx, log_steps(log))

    def _abandon(self, load: int, written: bool) -> None:
        """After a failure: remove what the load wrote, unless it is no longer ours; a failure here is left to
        recovery (the load stays hidden), and the original error is what the caller sees."""
        try:
            claimed = self._commit(lambda tx: _take_back(tx, load), "removing a failed load")
            if claimed and written:
                self._remove(load)
            elif claimed:
                self._commit(lambda tx: _meta_step(tx, DROP_LOAD, load), "removing a failed load")
        except StoreError:
            pass  # the server is gone or refuses: the load stays unpublished, and recovery removes it later

    def _remove(self, load: int) -> None:
        """Delete the load's relationships and nodes in inner transactions, then its name (it was ours)."""
        with self.store._translate(f"removing load {load}"), self.store._session() as session:
            for statement in (REMOVE_LOAD_RELATIONS, REMOVE_LOAD_ENTITIES):
                session.run(statement, {"load": load, "rows": _REMOVE_ROWS}).consume()
        self._commit(lambda tx: _meta_step(tx, DROP_LOAD, load), f"removing load {load}")

    def _commit(self, work: Callable[[neo4j.Transaction], Any], label: str) -> Any:
        """One transaction of the store, its driver errors translated."""
        with self.store._translate(f"writing {label}"):
            return self.store._commit(work, label)

    @contextmanager
    def _heartbeat(self, load: int) -> Iterator[None]:
        """Show the load is alive every quarter lease from a thread, while the loader checks, plans and writes."""
        stop = threading.Event()

        def beat() -> None:
            """Refresh the heartbeat until stopped; a failure is left to the loader's own next transaction."""
            while not stop.wait(self.store.load_lease / 4):
                try:
                    self.store._query(HEARTBEAT, {"key": cypher.REVISION_KEY, "load": load}, neo4j.RoutingControl.WRITE)
                except StoreError:
                    return
        thread = threading.Thread(target=beat, name=f"corpgraph-load-{load}-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _try_begin(tx: neo4j.ManagedTransaction | neo4j.Transaction, label: str, writers: int) -> int | Unpublished:
    """Under the revision node's lock: a new load's number (and its writer lanes), or the unpublished load in the way."""
    found = unpublished(tx.run(LOCK_META, {"key": cypher.REVISION_KEY}).single(strict=True))
    if found is not None:
        return found
    record = tx.run(BEGIN_LOAD, {"key": cypher.REVISION_KEY, "label": label, "state": LoadState.WRITING.value})
    load = int(record.single(strict=True)["load"])
    run_step(tx, Step(MAKE_LANES, {"lanes": cypher_loads.lanes(cypher.REVISION_KEY, writers)}, writers))
    return load


def _lock_lanes(tx: neo4j.ManagedTransaction | neo4j.Transaction) -> None:
    """Write-lock every writer lane (after the revision node): wait for the chunk transactions in flight."""
    tx.run(LOCK_LANES, {"key": cypher.REVISION_KEY}).consume()


def _take_back(tx: neo4j.ManagedTransaction | neo4j.Transaction, load: int) -> bool:
    """A failed load marked as being removed, once no chunk of it is in flight; False if it is no longer ours."""
    claimed = _meta_step(tx, SET_LOAD_STATE, load, LoadState.REMOVING, strict=False)
    _lock_lanes(tx)
    return claimed


def _meta_step(tx: neo4j.ManagedTransaction | neo4j.Transaction, statement: str, load: int | None,
               state: LoadState | None = None, strict: bool = True, lane: str | None = None) -> bool:
    """Run one statement on the load's state (or its lane); False (or LoadLost when strict) when the load is not
    as expected."""
    params = {"key": cypher.REVISION_KEY, "load": load, "state": state.value if state else None, "lane": lane}
    done = bool(tx.run(statement, params).single(strict=True)["written"] == 1)
    if strict and not done:
        raise LoadLost(f"load {load} was taken over or deleted by another process while it was written (it had "
                       "been quiet longer than CORPGRAPH_LOAD_LEASE); nothing more was written: load the file again")
    return done
