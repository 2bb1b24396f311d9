"""What a bulk import into an empty database keeps to check its files: ids, types and the analytic columns.

`corpgraph db import` checks its files with the streamed load's checks (graph.stores.sqlite_stream.StreamCheck:
field errors, references, types, placeholders and their retyping, share sums with identity merges, in one pass,
every problem reported together) but writes no embedded store: no documents, no search keys, no topics, no
secondary index kept row by row. A scratch SQLite file beside the CSV files (no journal: it is thrown away, a
crash leaves nothing to recover) holds only what those checks read:

- `entities`: id, type, whether it is a placeholder, and where its CSV row is (file, row);
- `relations`: the analytic columns (what the share check sums and the retyping check reads), a hash of the
  document (a later record equal to an earlier one is not checked again, as the embedded store leaves it
  unchanged) and where its CSV row is;
- `identifiers`: the identifier keys (companies that share one are one company for the share sums);
- `stale`: CSV rows a later record of the same id replaced (the last record of an id wins, as in the stores).

The target index of `relations` (the share check reads stakes by company) is built once, before the end checks,
instead of row by row. Stored records are never read back: StreamCheck reads them only to retype a placeholder the
store held before the load, and an empty database held none.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any
from pathlib import Path

from corpgraph.schema.declaration import ANALYTIC_FIELDS, EDGE_FIELDS
from corpgraph.schema.errors import StoreError
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity

from corpgraph.graph.stores.base import EdgeRow, StoredRelation
from corpgraph.graph.stores.sqlite_stream import StreamCheck, _marks, _pages  # one IN-list paging for both

_TYPES = {kind.value: kind for kind in EntityType}
_COLUMNS = ", ".join(EDGE_FIELDS)
_DDL = (
    "CREATE TABLE entities (id TEXT PRIMARY KEY, type TEXT NOT NULL, placeholder INTEGER NOT NULL, "
    "file TEXT NOT NULL, row INTEGER NOT NULL)",
    f"CREATE TABLE relations (id TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, "
    f"{', '.join(ANALYTIC_FIELDS)}, hash INTEGER NOT NULL, file TEXT NOT NULL, row INTEGER NOT NULL)",
    "CREATE TABLE identifiers (key TEXT NOT NULL, entity_id TEXT NOT NULL, PRIMARY KEY (key, entity_id))",
    "CREATE INDEX identifiers_entity ON identifiers(entity_id)",
    "CREATE TABLE stale (file TEXT NOT NULL, row INTEGER NOT NULL)",
)
_INDEX = "CREATE INDEX relations_target ON relations(target)"  # what the share check reads relations by
_Held = tuple[str, str, bool, list[str], int]  # an entity's id, type, placeholder, identifier keys, CSV row number
_ENTITY_ROW = "(id, type, placeholder, file, row) VALUES (?, ?, ?, ?, ?)"
_RELATION_ROW = f"({_COLUMNS}, hash, file, row) VALUES ({', '.join('?' for _ in EDGE_FIELDS)}, ?, ?, ?)"


class BulkStaging:
    """The scratch state of one bulk import: the tables StreamCheck reads, and where each record's CSV row is."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        # StreamCheck's TEMP tables stay in a temporary file, as in the embedded store's load: in memory they would
        # hold every native stake of the files (memory growing with the size).
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144"):
            self._db.execute(f"PRAGMA {pragma}")
        for statement in _DDL:
            self._db.execute(statement)
        self._db.execute("BEGIN")  # one transaction: nothing is flushed for durability, the file is scratch
        self.checks = StreamCheck(self._db, self.entity_types, self.edges_into, self)

    def close(self) -> None:
        """Close the scratch file (the caller deletes it)."""
        self._db.close()

    def put_entities(self, records: Sequence[_Held]) -> None:
        """Hold the batch's entities (id, type, placeholder, identifier keys and CSV row of each last of its id in
        the batch; the file is the type's): an id held before has its old row made stale and its type and
        identifiers replaced."""
        before = self._db.total_changes
        self._db.executemany(f"INSERT OR IGNORE INTO entities{_ENTITY_ROW}", (
            (id, kind, int(placeholder), kind, row) for id, kind, placeholder, _, row in records))
        again = [] if self._db.total_changes - before == len(records) else self._held_before(records)
        if again:
            self._replace(again)
        self._db.executemany("INSERT OR IGNORE INTO identifiers(key, entity_id) VALUES (?, ?)", (
            (key, entry[0]) for entry in records for key in entry[3]))

    def _held_before(self, records: Sequence[_Held]) -> list[_Held]:
        """The records whose id an earlier batch held (its row is not the one just given)."""
        rows = {id: (kind, row) for id, kind, _, _, row in records}
        held: set[str] = set()
        for page in _pages(list(rows)):
            held.update(i for i, file, row in self._db.execute(
                f"SELECT id, file, row FROM entities WHERE id IN ({_marks(page)})", page) if rows[i] != (file, row))
        return [entry for entry in records if entry[0] in held]

    def _replace(self, records: list[_Held]) -> None:
        """Later records of held ids: their old CSV rows go stale, their rows and identifiers are replaced."""
        ids = [entry[0] for entry in records]
        for page in _pages(ids):
            self._db.execute(f"INSERT INTO stale(file, row) SELECT file, row FROM entities WHERE id IN "
                             f"({_marks(page)})", page)
            self._db.execute(f"DELETE FROM identifiers WHERE entity_id IN ({_marks(page)})", page)
        self._db.executemany(f"INSERT OR REPLACE INTO entities{_ENTITY_ROW}", (
            (id, kind, int(placeholder), kind, row) for id, kind, placeholder, _, row in records))

    def put_relations(self, rows: Sequence[tuple[tuple[Any, ...], int, str, int]]) -> set[str]:
        """Hold the batch's relations (their edge_values, the hash of their document, file, row; each last of its id
        in the batch), an id held before having its old CSV row made stale; the ids held before with the same
        document (the embedded store would leave them unchanged, so their references are not checked again)."""
        before = self._db.total_changes
        self._db.executemany(f"INSERT OR IGNORE INTO relations{_RELATION_ROW}", (
            (*values, digest, file, row) for values, digest, file, row in rows))
        if self._db.total_changes - before == len(rows):
            return set()
        given = {values[0]: (digest, file, row) for values, digest, file, row in rows}
        held: dict[str, int] = {}  # id held before -> the hash of its document then
        for page in _pages(list(given)):
            held.update((i, digest) for i, digest, file, row in self._db.execute(
                f"SELECT id, hash, file, row FROM relations WHERE id IN ({_marks(page)})", page)
                if given[i][1:] != (file, row))
        self._db.executemany("INSERT INTO stale(file, row) SELECT file, row FROM relations WHERE id = ?",
                             ((i,) for i in sorted(held)))
        self._db.executemany(f"INSERT OR REPLACE INTO relations{_RELATION_ROW}", (
            (*values, digest, file, row) for values, digest, file, row in rows if values[0] in held))
        return {i for i, digest in held.items() if given[i][0] == digest}

    def before_end_checks(self) -> None:
        """Build the index the end checks read relations by, once over every row."""
        self._db.execute(_INDEX)

    def stale_rows(self) -> dict[str, set[int]]:
        """CSV rows a later record replaced, by file."""
        out: dict[str, set[int]] = {}
        for file, row in self._db.execute("SELECT file, row FROM stale"):
            out.setdefault(file, set()).add(row)
        return out

    def placeholders(self) -> int:
        """How many placeholders the import holds (ids no real record defined)."""
        return int(self._db.execute("SELECT COUNT(*) FROM entities WHERE placeholder = 1").fetchone()[0])

    # What StreamCheck reads of the store a load goes into (its type lookup, edges_into, graph.write.retype.StoredRecords).

    def entity_types(self, ids: Iterable[str]) -> dict[str, EntityType]:
        """The type held per id."""
        out: dict[str, EntityType] = {}
        for page in _pages(sorted(set(ids))):
            out.update((i, _TYPES[t]) for i, t in self._db.execute(
                f"SELECT id, type FROM entities WHERE id IN ({_marks(page)})", page))
        return out

    def get_entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """Refused: StreamCheck reads stored records only to retype a placeholder the store held before the load, and
        an import into an empty database holds its own records only (each settled in StreamCheck's load_ids)."""
        raise StoreError("a bulk import holds no entity of its own to read back; it never retypes a stored one")

    def relations_touching(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[StoredRelation]:
        """Refused, as get_entities: only the retyping of a placeholder stored before the load reads them."""
        raise StoreError("a bulk import holds no relation of its own to read back; it never retypes a stored entity")

    def edges_into(self, ids: Sequence[str], types: Sequence[RelationType]) -> list[EdgeRow]:
        """The analytic columns of the held relations of the types into the ids."""
        kinds = {t.value: RelationType(t) for t in types}
        out: list[EdgeRow] = []
        for page in _pages(list(dict.fromkeys(ids))):
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM relations WHERE target IN ({_marks(page)})", page)
            out += [EdgeRow(r[0], kinds[r[1]], *r[2:]) for r in rows if r[1] in kinds]
        return out
