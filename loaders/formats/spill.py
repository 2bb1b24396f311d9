"""A reader's whole-file state on disk, so reading stays in bounded memory whatever the file size.

Importers remember things about the whole file: the ids it defines, the references it leaves open (for
placeholders at its end), BODS's current stakes of every relationship (an update may come much later). In
Python sets and dicts that state grew by about 0.8 KB per BODS record (1.1 GB at 1.4M records). Here it
lives in a private temporary SQLite database (`sqlite3.connect("")`: on disk, deleted when the connection
closes, unlinked at once on POSIX, so nothing is left even after a crash), behind the few mapping
operations the readers use. Its page cache is small and fixed; the rest is on disk.

    >>> state = Spill()
    >>> defined, pending = state.table(), state.table()
    >>> defined.add("bods:e1"); pending["bods:p9"] = ("Person", 12)
    >>> "bods:e1" in defined, pending.get("bods:p9"), pending.pop("bods:p9"), "bods:p9" in pending
    (True, ('Person', 12), ('Person', 12), False)
"""
from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from typing import Any

CACHE_KIB = 8192  # page cache of one reader's state: lookups of recent ids stay in memory, the rest on disk
_PAGE = 1000  # rows per read when iterating a table


class Spill:
    """One reader's scratch database; `table()` gives a new empty DiskTable in it."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")  # scratch data: never rolled back, never kept
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("BEGIN")  # one transaction, never committed: nothing is synced to disk on the way
        self._tables = 0

    def table(self) -> DiskTable:
        """A new empty table of this state."""
        self._tables += 1
        return DiskTable(self._db, f"t{self._tables}")


class DiskTable:
    """A str-keyed mapping (values pickled) or set (`add`), on disk; iterated in first-insertion order as a dict is."""

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self._db = db
        self._name = name  # made by Spill.table, never from input
        db.execute(f"CREATE TABLE {name} (key TEXT PRIMARY KEY, value BLOB)")  # rowid kept: insertion order

    def __contains__(self, key: str) -> bool:
        """Whether the key is held."""
        return self._db.execute(f"SELECT 1 FROM {self._name} WHERE key = ?", (key,)).fetchone() is not None

    def get(self, key: str, default: Any = None) -> Any:
        """The value held for key, or default."""
        row = self._db.execute(f"SELECT value FROM {self._name} WHERE key = ?", (key,)).fetchone()
        return default if row is None else _load(row[0])

    def __getitem__(self, key: str) -> Any:
        """The value held for key; KeyError when none is."""
        row = self._db.execute(f"SELECT value FROM {self._name} WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return _load(row[0])

    def __setitem__(self, key: str, value: Any) -> None:
        """Hold value for key (a key held already keeps its place in the order, as in a dict)."""
        self._db.execute(f"INSERT INTO {self._name}(key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, _dump(value)))

    def add(self, key: str) -> None:
        """Hold key (as a member of a set)."""
        self._db.execute(f"INSERT OR IGNORE INTO {self._name}(key, value) VALUES (?, NULL)", (key,))

    def pop(self, key: str, default: Any = None) -> Any:
        """Remove key and return its value, or default when it is not held."""
        row = self._db.execute(f"SELECT value FROM {self._name} WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        self._db.execute(f"DELETE FROM {self._name} WHERE key = ?", (key,))
        return _load(row[0])

    def items(self) -> Iterator[tuple[str, Any]]:
        """(key, value) pairs in first-insertion order, read a page at a time."""
        last = 0
        while True:
            rows = self._db.execute(f"SELECT rowid, key, value FROM {self._name} WHERE rowid > ? ORDER BY rowid "
                                    "LIMIT ?", (last, _PAGE)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield from ((key, _load(value)) for _, key, value in rows)


def _dump(value: Any) -> bytes | None:
    """A value as stored (None stays NULL)."""
    return None if value is None else pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _load(blob: bytes | None) -> Any:
    """A stored value back (only this process's own pickles are ever read)."""
    return None if blob is None else pickle.loads(blob)
