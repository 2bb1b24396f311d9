"""Shared fixtures. Which to use when:

- `tmp_store`: an empty embedded (SQLite) store in a temporary directory; write with `graph.ingest.ingest`.
- `seed_store`: an embedded store with the shipped seed loaded (read-only use, please).
- `tests.factory`: build small inline batches (`companies_owning(("a", "b", 0.5))`) rather than new fixtures.
Store-contract tests that must run on every backend live in tests/test_store_contract.py with their own
parametrised fixture; a backend's quirks get their own named tests.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.ingest import ingest
from graph.stores.sqlite import SqliteStore
from loaders.seed import seed_path
from loaders.validate import load_file


@pytest.fixture
def tmp_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """An empty embedded store, closed after the test."""
    store = SqliteStore(tmp_path / "corpgraph.db")
    yield store
    store.close()


@pytest.fixture
def seed_store(tmp_store: SqliteStore) -> SqliteStore:
    """An embedded store holding the shipped seed data."""
    ingest(tmp_store, load_file(seed_path()))
    return tmp_store
