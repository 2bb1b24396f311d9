"""The embedded store: one SQLite file (WAL), no server; every batch is one transaction."""
from __future__ import annotations

import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from corpgraph.schema.batch import Batch, LoadPhase, WriteSummary
from corpgraph.schema.declaration import ANALYTIC_FIELDS, EDGE_FIELDS
from corpgraph.schema.errors import StoreError, StoreLocked
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity, Relation

from corpgraph.graph import budget
from corpgraph.graph.stores.base import (
    Location,
    CHANGE_LOG_KEEP,
    Change,
    ChangeKind,
    ChangeRecorder,
    Check,
    EdgeRow,
    Judgement,
    RawEntity,
    RawRelation,
    StoredRelation,
    Verdict,
    refuse_problems,
    write_summary,
)
from corpgraph.graph.stores.sqlite_prepare import PreparedEntity, PreparedRelation, prepare
from corpgraph.graph.stores.sqlite_stream import StreamCheck, marks
from corpgraph.graph.stores.codec import decode_entity, decode_found, decode_relation, search_terms, stored_type

# Reads go through a shared mapping of the file (PRAGMA mmap_size; SQLite caps it at its own compile-time limit, 2 GiB
# in the usual builds, and reads the rest as before): pages are read in place from the OS page cache, shared by every
# process and thread, instead of copied into each connection's private page cache. Each of a server's ~10 threads
# has a connection with up to 32 MiB of cache; a worker of `corpgraph serve --workers N` filled them with copies of
# the same pages (the extra worker's own memory at 200k companies: 73 MB, 51 MB with the mapping).
_MAPPED_BYTES = 1 << 40  # asks for all of it: SQLite grants what it can

_DDL = """
CREATE TABLE IF NOT EXISTS entities (id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS entities_type ON entities(type, id);
CREATE TABLE IF NOT EXISTS search_keys (key TEXT NOT NULL, entity_id TEXT NOT NULL, PRIMARY KEY (key, entity_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_keys_entity ON search_keys(entity_id);
CREATE TABLE IF NOT EXISTS relations (
  id TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
  {analytic_columns}, doc TEXT NOT NULL);
{relation_indexes}
CREATE TABLE IF NOT EXISTS identifiers (key TEXT NOT NULL, entity_id TEXT NOT NULL, PRIMARY KEY (key, entity_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identifiers_entity ON identifiers(entity_id);
CREATE TABLE IF NOT EXISTS topics (topic TEXT NOT NULL, entity_id TEXT NOT NULL, PRIMARY KEY (topic, entity_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS topics_entity ON topics(entity_id);
CREATE TABLE IF NOT EXISTS judgements (
  a TEXT NOT NULL, b TEXT NOT NULL, verdict TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (a, b));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
  revision INTEGER PRIMARY KEY, kind TEXT NOT NULL, relations TEXT NOT NULL, entities TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('revision', 0);
INSERT OR IGNORE INTO meta(key, value) VALUES ('instance', random());
"""
_RELATION_INDEXES = """
CREATE INDEX IF NOT EXISTS relations_type ON relations(type);
CREATE INDEX IF NOT EXISTS relations_source ON relations(source);
CREATE INDEX IF NOT EXISTS relations_target ON relations(target);
"""
_DROP_RELATION_INDEXES = ("DROP INDEX IF EXISTS relations_type", "DROP INDEX IF EXISTS relations_source",
                          "DROP INDEX IF EXISTS relations_target")
# Indexes a streamed load into an empty store builds once, after its last batch, instead of row by row: nothing the
# load reads before its end checks uses them (those read relations by target, so they come back before the checks).
_DEFERRED_INDEXES = {re.findall(r"EXISTS (\w+)", ddl)[0]: ddl for ddl in (  # name -> its CREATE statement
    "CREATE INDEX IF NOT EXISTS entities_type ON entities(type, id)", *_RELATION_INDEXES.strip().splitlines())}
_BULK = 50_000  # from this many relations in one batch, rebuilding indexes beats updating them row by row
_UPSERT_ENTITY = (
    "INSERT INTO entities(id, type, name, doc) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET type = excluded.type, name = excluded.name, doc = excluded.doc"
)
_COLUMN_TYPES = {"share": "REAL", "share_min": "REAL", "share_max": "REAL",  # the others are text (dates, ids)
                 "share_min_exclusive": "INTEGER"}
_ANALYTIC_COLUMNS = ", ".join(f"{name} {_COLUMN_TYPES.get(name, 'TEXT')}" for name in ANALYTIC_FIELDS)
_RELATION_COLUMNS = ", ".join((*EDGE_FIELDS, "doc"))
_UPSERT_RELATION = (
    f"INSERT INTO relations({_RELATION_COLUMNS}) VALUES ({', '.join('?' for _ in (*EDGE_FIELDS, 'doc'))}) "
    "ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in (*ANALYTIC_FIELDS, "doc"))
)
_UPSERT_JUDGEMENT = (
    "INSERT INTO judgements(a, b, verdict, by, at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT(a, b) DO UPDATE SET verdict = excluded.verdict, by = excluded.by, at = excluded.at"
)
_BUMP = "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value"
# The change log (GraphStore.changes_since): one row per revision, ids joined by newlines (ids never hold one).
_LOG_CHANGE = "INSERT INTO changes(revision, kind, relations, entities) VALUES (?, ?, ?, ?)"
_PRUNE_CHANGES = "DELETE FROM changes WHERE revision <= ?"
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6  # primary result codes (extended codes keep them in the low byte)
_EDGE_COLUMNS = ", ".join(EDGE_FIELDS)  # the columns of an EdgeRow, in its order
_CHUNK = 500  # SQLite caps bound parameters per statement; id lists are split into chunks of this size.


class SqliteStore:
    """GraphStore over a single SQLite file; safe to share between threads.

    Each thread reads and writes through its own connection (WAL lets readers run beside a writer), kept
    for the thread's lifetime and closed when the thread ends (a short-lived thread, such as a projection
    builder, leaves no connection behind), so a write that waits for SQLite's write lock, or a long read,
    never holds up another thread's reads. Writers are serialised by SQLite's own lock (BEGIN IMMEDIATE
    waiting up to busy_timeout), never by a Python lock held while waiting. A read interrupted by its
    thread's time budget (graph/budget.py) raises TimedOut.
    """

    name = "embedded"

    def __init__(self, path: str | Path, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        # Closers of the live threads' connections: a closer runs when its thread's holder is collected (the
        # thread ended) or at close(); the lock guards this dict only, never anything that waits on SQLite.
        self._closers: dict[int, Callable[[], object]] = {}
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder {self.path.parent} of the embedded store: "
                             f"{exc.strerror or exc}; set CORPGRAPH_DB to a path you can write"
                             ).withholding(str(self.path.parent)) from exc
        try:
            db = self._connect(cache_kib=262144)  # 256 MiB for the opening thread: large loads touch random index pages
            db.execute("PRAGMA journal_mode=WAL")
            self._ensure_schema()
            self._add_range_columns()
        except sqlite3.Error as exc:
            raise self._translated(exc, "opening") from exc

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection (opened on its first use; 32 MiB of page cache for worker threads)."""
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is None:
            try:
                return self._connect(cache_kib=32768)
            except sqlite3.Error as exc:
                raise self._translated(exc, "opening") from exc
        return holder.db

    def _connect(self, cache_kib: int) -> sqlite3.Connection:
        """A new connection for the calling thread, with the store's pragmas and the time-budget interrupt.

        Only the thread-local holds it (through a _Holder); when the thread ends, the holder is collected
        and its closer closes the connection (weakref.finalize: the closer itself holds no holder).
        """
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
            db.execute(f"PRAGMA mmap_size={_MAPPED_BYTES}")
        except BaseException:
            db.close()
            raise
        db.set_progress_handler(budget.expired, 10_000)  # every 10,000 VM steps: stop once the budget is spent
        holder = _Holder(db)
        key = id(holder)
        # The closer refers to the dict and the lock, not to the store: an unclosed store can still be collected.
        closer = weakref.finalize(holder, _close, self._closers, self._lock, key, db)
        closer.atexit = False  # at exit the process's files close anyway; a daemon thread may still be reading
        with self._lock:
            self._closers[key] = closer
        self._local.holder = holder
        return db

    def open_connections(self) -> int:
        """How many connections are open now (one per live thread that used the store; tests and /healthz read it)."""
        with self._lock:
            return len(self._closers)

    def _ensure_schema(self) -> None:
        """Create missing tables and indexes; a complete schema is left alone (no write lock needed to open)."""
        ddl = _DDL.format(relation_indexes=_RELATION_INDEXES, analytic_columns=_ANALYTIC_COLUMNS)
        wanted = set(re.findall(r"IF NOT EXISTS (\w+)", ddl))
        present = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master")}
        if not wanted <= present:
            self._db.executescript(ddl)

    def _add_range_columns(self) -> None:
        """A store made before share ranges and interest kinds were analytic: add their columns, fill them from doc."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(relations)")}
        missing = [name for name in ("share_min", "share_max", "kind", "share_min_exclusive") if name not in present]
        if not missing:
            return
        self._db.execute("BEGIN IMMEDIATE")
        for name in missing:  # names from the fixed list above, never user text
            self._db.execute(f"ALTER TABLE relations ADD COLUMN {name} {_COLUMN_TYPES.get(name, 'TEXT')}")
        self._db.execute("UPDATE relations SET share_min = json_extract(doc, '$.share_min'), "
                         "share_max = json_extract(doc, '$.share_max'), kind = json_extract(doc, '$.kind'), "
                         "share_min_exclusive = nullif(json_extract(doc, '$.share_min_exclusive'), 0)")
        self._db.execute("COMMIT")

    def write(self, batch: Batch, check: Check | None = None) -> WriteSummary:
        """Upsert the batch in one IMMEDIATE transaction; `check` runs inside it, so no writer can interleave."""
        with self._transaction(f"writing {batch.label}") as log:
            if check is not None:  # it may drop records (placeholders), so the rows are taken after it
                refuse_problems(check(self.entity_types))
            ents, rels = _rows(prepare(batch))
            ents, rels, unchanged = self._changed_only(ents, rels)
            self._write_entities(list(ents.values()))
            self._write_relations(rels)
            log.wrote(ents, rels)
        summary = write_summary(ents, rels)
        summary.unchanged = unchanged
        return summary

    def write_stream(self, label: str, batches: Iterable[Batch], on_batch: Callable[[Batch], None] | None = None,
                     on_phase: Callable[[LoadPhase], None] | None = None) -> WriteSummary:
        """Write a file's batches as they come, in one IMMEDIATE transaction checked at its end (graph.stores.sqlite_stream).

        InvalidInput with every problem of every batch, and nothing written, when a check finds any. `on_phase`
        hears each change of phase (pulling a batch from `batches` is the reading and checking).
        """
        phase = on_phase or (lambda _: None)
        summary = WriteSummary()
        with self._transaction(f"writing {label}") as log:
            deferred = self._defer_indexes()  # True when the store holds nothing yet
            checks = StreamCheck(self._db, self.entity_types, self.edges_into, self, label, empty=deferred)
            phase(LoadPhase.READING)
            for batch in batches:
                phase(LoadPhase.WRITING)
                batch = prepare(batch)  # a no-op for a batch a validating worker prepared (loaders.workers)
                checks.admit(batch)  # it may drop placeholders, so the rows are taken after it
                ents, rels = _rows(batch)
                every_rel = rels.keys()
                ents, rels, unchanged = self._changed_only(ents, rels, new=checks.new_ids,
                                                           new_rels=checks.unwritten_relations(batch))
                self._write_entities(list(ents.values()), new=checks.new_ids)
                self._write_relations(rels, indexed=not deferred)
                rel_ids = [rec.id for rec, _ in batch.relations]
                checks.relations_written(batch, rel_ids, unchanged=every_rel - rels.keys())
                log.wrote(ents, rels)
                summary.add(write_summary(ents, rels))
                summary.unchanged += unchanged
                if on_batch is not None:
                    on_batch(batch)
                phase(LoadPhase.READING)
            phase(LoadPhase.REFERENCES)
            for statement in _DEFERRED_INDEXES.values() if deferred else ():
                self._db.execute(statement)
            problems, summary.placeholders = checks.finish()
            refuse_problems(problems)
            checks.drop()
            phase(LoadPhase.COMMITTING)  # the transaction commits as this block ends
        return summary

    def batch_work(self) -> Callable[[Batch], Batch]:
        """graph.stores.sqlite_prepare.prepare: each record's document, row and index keys, worked out apart."""
        return prepare

    def _defer_indexes(self) -> bool:
        """Inside a load's transaction: drop the _DEFERRED_INDEXES when the store holds no entity and no relation
        (built again whole before the load's end checks); True when dropped. DDL is transactional in SQLite: a
        rollback brings them back, and other connections never see the store without them."""
        if self._db.execute("SELECT EXISTS (SELECT 1 FROM entities) OR EXISTS (SELECT 1 FROM relations)").fetchone()[0]:
            return False
        for name in _DEFERRED_INDEXES:  # names from the fixed DDL above, never user text
            self._db.execute(f"DROP INDEX IF EXISTS {name}")
        return True

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already; a failing rollback never hides the first error."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolls back by itself when it cannot go on; the caller re-raises the cause

    def _translated(self, exc: sqlite3.Error, action: str) -> StoreError:
        """The project error for an SQLite error: locked by another writer, or what failed and where."""
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return StoreLocked(f"the store is locked by another writer: {action} {self.path} waited "
                               f"{self._busy_timeout:g} s (CORPGRAPH_BUSY_TIMEOUT); try again when the other "
                               "load has finished").withholding(str(self.path))
        hint = "; check the path (setting CORPGRAPH_DB) and its permissions" if action == "opening" else ""
        return StoreError(f"{action} the embedded store at {self.path} failed: {exc}{hint}").withholding(str(self.path))

    def _changed_only(self, ents: dict[str, PreparedEntity], rels: dict[str, PreparedRelation],
                      new: Collection[str] = (), new_rels: Collection[str] = ()
                      ) -> tuple[dict[str, PreparedEntity], dict[str, PreparedRelation], int]:
        """The records whose stored document differs (or that are not stored), and how many were left as they were.

        Records equal to what is stored are not written again, so a reload that changes nothing logs no change
        and bumps no revision (snapshots and live projections stay valid). Entity ids in `new` and relation ids in
        `new_rels` are known not to be stored: not looked up.
        """
        same_ents = self._stored_equal("entities", {i: r.doc for i, r in ents.items() if i not in new})
        same_rels = self._stored_equal("relations", {i: r.doc for i, r in rels.items() if i not in new_rels})
        return ({i: r for i, r in ents.items() if i not in same_ents},
                {i: r for i, r in rels.items() if i not in same_rels}, len(same_ents) + len(same_rels))

    def _stored_equal(self, table: str, docs: dict[str, str]) -> set[str]:
        """Ids whose stored document in `table` (entities or relations: never user text) is exactly `docs[id]`."""
        same: set[str] = set()
        for chunk in _chunks(sorted(docs)):
            rows = self._db.execute(f"SELECT id, doc FROM {table} WHERE id IN ({marks(chunk)})", chunk)
            same.update(i for i, doc in rows if docs[i] == doc)
        return same

    def _write_entities(self, records: list[PreparedEntity], new: Collection[str] = ()) -> None:
        """Upsert entity rows and replace their search keys, identifier and topic index rows (ids in `new` are known
        to have none: nothing to delete for them)."""
        records = sorted(records, key=lambda r: r.id)
        self._db.executemany(_UPSERT_ENTITY, ((r.id, r.type, r.name, r.doc) for r in records))
        for chunk in _chunks([r.id for r in records if r.id not in new]):
            self._db.execute(f"DELETE FROM search_keys WHERE entity_id IN ({marks(chunk)})", chunk)
            self._db.execute(f"DELETE FROM identifiers WHERE entity_id IN ({marks(chunk)})", chunk)
            self._db.execute(f"DELETE FROM topics WHERE entity_id IN ({marks(chunk)})", chunk)
        self._db.executemany("INSERT OR IGNORE INTO search_keys(key, entity_id) VALUES (?, ?)",
                             ((key, r.id) for r in records for key in r.keys))
        self._db.executemany("INSERT OR IGNORE INTO identifiers(key, entity_id) VALUES (?, ?)",
                             ((key, r.id) for r in records for key in r.idkeys))
        self._db.executemany("INSERT OR IGNORE INTO topics(topic, entity_id) VALUES (?, ?)",
                             ((key, r.id) for r in records for key in r.topics))

    def _write_relations(self, rels: dict[str, PreparedRelation], indexed: bool = True) -> None:
        """Upsert relation rows, sorted by id so the primary-key B-tree is appended to, not split at random.
        `indexed`: False while a load defers the indexes (nothing to drop or rebuild here)."""
        bulk = indexed and len(rels) >= _BULK
        if bulk:  # DDL is transactional in SQLite: a rollback restores the indexes too
            for statement in _DROP_RELATION_INDEXES:
                self._db.execute(statement)
        # Positional rows (EDGE_FIELDS then doc, in order): binding by name costs a lookup per column.
        self._db.executemany(_UPSERT_RELATION, (rels[i].row for i in sorted(rels)))
        if bulk:
            for statement in _RELATION_INDEXES.strip().splitlines():
                self._db.execute(statement)

    def entity_types(self, ids: Iterable[str]) -> dict[str, EntityType]:
        """Stored type per existing id."""
        out: dict[str, EntityType] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = self._query(f"SELECT id, type FROM entities WHERE id IN ({marks(chunk)})", chunk)
            out.update({i: stored_type(i, t) for i, t in rows})
        return out

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """Entity records by id."""
        out: dict[str, Entity] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows = self._query(f"SELECT id, type, doc FROM entities WHERE id IN ({marks(chunk)})", chunk)
            out.update({i: decode_entity(t, d, i) for i, t, d in rows})
        return out

    def get_relations(self, ids: Sequence[str]) -> dict[str, StoredRelation]:
        """Relation records by relation id."""
        out: dict[str, StoredRelation] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows = self._query(f"SELECT id, type, doc FROM relations WHERE id IN ({marks(chunk)})", chunk)
            out.update({i: StoredRelation(i, decode_relation(t, d, i)) for i, t, d in rows})
        return out

    def relations_touching(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[StoredRelation]:
        """Relations of the given types with an endpoint among ids."""
        type_names = [t.value for t in types]
        if not type_names:
            return []
        found: dict[str, StoredRelation] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            # `+type`: without it SQLite walks the type index (every OWNS row) for each chunk instead of the
            # source and target indexes: 0.49 s against 0.01 s a chunk of 500 on a 145k-stake store, 30 of the
            # 41 s "checking references" of a fresh 214k-record load (issue 23).
            sql = (f"SELECT id, type, doc FROM relations WHERE +type IN ({marks(type_names)}) AND "
                   f"(source IN ({marks(chunk)}) OR target IN ({marks(chunk)}))")
            for i, t, d in self._query(sql, [*type_names, *chunk, *chunk]):
                found[i] = StoredRelation(i, decode_relation(t, d, i))
        return [found[k] for k in sorted(found)]

    def search(self, text: str, types: Sequence[EntityType] | None, limit: int,
               topics: Sequence[str] | None = None) -> list[Entity]:
        """Entities whose folded name or alias contains the folded text; exact, then prefix, then contained.
        With topics: only entities carrying any of them (graph.identity.topics)."""
        terms = search_terms(text, types, topics)
        if terms is None:
            return []
        key, type_names, wanted = terms
        having = f"AND e.id IN (SELECT entity_id FROM topics WHERE topic IN ({marks(wanted)})) " if wanted else ""
        sql = (
            "SELECT e.type, e.doc, e.id, MIN(CASE WHEN k.key = ?1 THEN 0 WHEN substr(k.key, 1, length(?1)) = ?1 THEN 1 "
            "ELSE 2 END) AS rank FROM search_keys k JOIN entities e ON e.id = k.entity_id "
            f"WHERE instr(k.key, ?1) > 0 AND e.type IN ({', '.join('?' for _ in type_names)}) {having}"
            "GROUP BY e.id ORDER BY rank, length(e.name), e.id LIMIT ?"
        )
        rows = self._query(sql, [key, *type_names, *(wanted or []), limit])
        return decode_found((t, d, i) for t, d, i, _ in rows)

    def list_entities(self, type: EntityType, after: str | None, limit: int) -> list[Entity]:
        """One page of entities of a type, ordered by id."""
        rows = self._query("SELECT type, doc, id FROM entities WHERE type = ? AND id > ? ORDER BY id LIMIT ?",
                           [type.value, after or "", limit])
        return [decode_entity(t, d, i) for t, d, i in rows]

    def raw_entities(self, after: str, limit: int) -> list[RawEntity]:
        """One page of entity rows by id, not decoded."""
        rows = self._query("SELECT id, type, doc FROM entities WHERE id > ? ORDER BY id LIMIT ?", [after, limit])
        return [RawEntity(*row) for row in rows]

    def raw_relations(self, after: str, limit: int) -> list[RawRelation]:
        """One page of relation rows by id, not decoded."""
        rows = self._query(f"SELECT {_RELATION_COLUMNS} FROM relations WHERE id > ? ORDER BY id LIMIT ?",
                           [after, limit])
        return [RawRelation(*row) for row in rows]

    def edges_into(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[EdgeRow]:
        """Analytic scalars of the relations of these types into the ids (the target index, no document decoded)."""
        kinds = {t.value: RelationType(t) for t in types}
        out: list[EdgeRow] = []
        for chunk in _chunks(list(dict.fromkeys(ids))) if kinds else []:
            rows = self._query(f"SELECT {_EDGE_COLUMNS} FROM relations WHERE target IN ({marks(chunk)}) "
                               f"AND +type IN ({marks(kinds)})", [*chunk, *kinds])
            out += [EdgeRow(r[0], kinds[r[1]], *r[2:]) for r in rows]
        return out

    def iter_edges(self, types: Sequence[RelationType], page_size: int = 50_000) -> Iterator[list[EdgeRow]]:
        """Relations of the given types in pages, in storage (rowid) order: a sequential scan, no index lookups."""
        kinds = {t.value: RelationType(t) for t in types}
        last = 0
        while kinds:
            rows = self._query(
                f"SELECT rowid, {_EDGE_COLUMNS} FROM relations "
                f"WHERE rowid > ? AND +type IN ({marks(kinds)}) ORDER BY rowid LIMIT ?", [last, *kinds, page_size])
            if not rows:
                return
            yield [EdgeRow(r[1], kinds[r[2]], *r[3:]) for r in rows]
            last = rows[-1][0]

    def counts(self) -> dict[str, int]:
        """Stored entities and relations per type name."""
        out = dict(self._query("SELECT type, COUNT(*) FROM entities GROUP BY type", []))
        out.update(dict(self._query("SELECT type, COUNT(*) FROM relations GROUP BY type", [])))
        return out

    def ids_with_identifier(self, key: str) -> list[str]:
        """Ids of the entities carrying the normalised identifier key, sorted."""
        rows = self._query("SELECT entity_id FROM identifiers WHERE key = ? ORDER BY entity_id", [key])
        return [r[0] for r in rows]

    def shared_identifiers(self) -> Iterator[tuple[str, list[str]]]:
        """Identifier keys held by more than one entity, with their ids, in key order (one pass of the index)."""
        rows = self._query("SELECT key, group_concat(entity_id, char(10)) FROM (SELECT key, entity_id FROM "
                           "identifiers ORDER BY key, entity_id) GROUP BY key HAVING COUNT(*) > 1 ORDER BY key", [])
        for key, ids in rows:  # ids never hold a newline (EntityId's pattern), so it separates them safely
            yield key, ids.split("\n")

    def add_judgement(self, a: str, b: str, verdict: Verdict | str, by: str) -> Judgement:
        """Store a decision now (replacing the pair's earlier one) and bump the revision, in one transaction."""
        made = Judgement.new(a, b, verdict, by)
        with self._transaction("storing a decision in", ChangeKind.DECISION):
            self._db.execute(_UPSERT_JUDGEMENT, (made.a, made.b, made.verdict.value, made.by, made.at))
        return made

    def judgements(self) -> list[Judgement]:
        """Every stored decision, ordered by pair."""
        rows = self._query("SELECT a, b, verdict, by, at FROM judgements ORDER BY a, b", [])
        return [Judgement(a, b, Verdict(v), by, at) for a, b, v, by, at in rows]

    def revision(self) -> int:
        """Counter bumped by every committed write."""
        return int(self._query("SELECT value FROM meta WHERE key = 'revision'", [])[0][0])

    def location(self) -> Location:
        """The file, its instance, and the folder beside it for snapshots (`corpgraph.db.projection/`)."""
        return Location(self.name, str(self.path), self.instance(), Path(f"{self.path}.projection"))

    def instance(self) -> str:
        """A random number drawn when the store was created: tells it from a later store at the same path.

        "" for a store created before it was drawn (its snapshots are then told apart by revision alone).
        """
        rows = self._query("SELECT value FROM meta WHERE key = 'instance'", [])
        return str(rows[0][0]) if rows else ""

    def changes_since(self, revision: int) -> list[Change]:
        """The change log after `revision`, oldest first (pruned past CHANGE_LOG_KEEP revisions)."""
        rows = self._query("SELECT revision, kind, relations, entities FROM changes WHERE revision > ? "
                           "ORDER BY revision", [revision])
        return [Change(r, ChangeKind(k), _ids(rels), _ids(ents)) for r, k, rels, ents in rows]

    def warm_up(self) -> int:
        """Nothing to warm: SQLite prepares a statement on its connection in microseconds, at its first use."""
        return 0

    @contextmanager
    def unmapped_reads(self) -> Iterator[None]:
        """For the block, this thread's connection reads through its private page cache (32 MiB at most), not the
        shared mapping: pages read in place from the mapping stay in the process's RSS while the connection holds
        them (1,404 MB against 285 MB for the largest holder's export at 1M). Setting the size unmaps what the
        connection had mapped; the size it had comes back after the block, mapped again on its next read."""
        db = self._db
        (before,) = db.execute("PRAGMA mmap_size").fetchone()
        db.execute("PRAGMA mmap_size=0")
        try:
            yield
        finally:
            db.execute(f"PRAGMA mmap_size={int(before)}")

    def close(self) -> None:
        """Close every thread's connection (a thread using the store afterwards opens a new one)."""
        with self._lock:
            closers = list(self._closers.values())
        for closer in closers:
            closer()  # runs _forget once; a later collection of its holder does nothing
        self._local = threading.local()  # other threads' holders are closed: none may be used again

    @contextmanager
    def _transaction(self, action: str, kind: ChangeKind = ChangeKind.WRITE) -> Iterator[ChangeRecorder]:
        """One IMMEDIATE transaction that bumps the revision and logs what it changed; all of it or none.

        BEGIN IMMEDIATE waits up to busy_timeout for another writer, then fails as StoreLocked. Never
        interrupted by a time budget (graph/budget.py): a write once begun completes or fails whole.
        """
        with budget.within(None):  # no Python lock here: SQLite's busy handler queues the writers
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._translated(exc, action) from exc
            try:
                log = ChangeRecorder(kind)
                yield log
                if log.nothing_changed():  # a reload of what is stored: no new revision, nothing to log
                    self._db.execute("COMMIT")
                    return
                revision = int(self._db.execute(_BUMP).fetchone()[0])
                entry = log.entry(revision)
                self._db.execute(_LOG_CHANGE, (revision, entry.kind.value, "\n".join(entry.relations),
                                               "\n".join(entry.entities)))
                self._db.execute(_PRUNE_CHANGES, (revision - CHANGE_LOG_KEEP,))
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):
                    raise self._translated(exc, action) from exc
                raise

    def _query(self, sql: str, params: Sequence[object]) -> list[tuple]:  # type: ignore[type-arg]
        """Run one read statement on this thread's connection, translating SQLite errors."""
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            budget.check()  # interrupted by the time budget: say so, not "interrupted"
            raise self._translated(exc, "reading") from exc


class _Holder:
    """A thread's connection, held only by that thread's threading.local: collected when the thread ends."""

    __slots__ = ("db", "__weakref__")

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db


def _close(closers: dict[int, Callable[[], object]], lock: threading.Lock, key: int, db: sqlite3.Connection) -> None:
    """Close a connection whose thread ended (or at SqliteStore.close()) and drop its closer."""
    db.close()
    with lock:
        closers.pop(key, None)


def _rows(batch: Batch) -> tuple[dict[str, PreparedEntity], dict[str, PreparedRelation]]:
    """A prepared batch's records by id (later records of an id win), as the store writes them."""
    return ({rec.id: rec for rec, _ in batch.entities},  # type: ignore[misc]
            {rec.id: rec for rec, _ in batch.relations})  # type: ignore[attr-defined, misc]


def _ids(joined: str) -> tuple[str, ...]:
    """Ids stored joined by newlines (an empty string: none)."""
    return tuple(joined.split("\n")) if joined else ()


def _chunks(items: list[str]) -> Iterator[list[str]]:
    """Split an id list into chunks under SQLite's bound-parameter limit."""
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]
