"""Shared fixtures. Which to use when:

- `tmp_store`: an empty embedded (SQLite) store in a temporary directory; write with `corpgraph.graph.write.ingest.ingest`.
- `seed_store`: an embedded store with the shipped seed loaded (read-only use, please).
- `tests.factory`: build small inline batches (`companies_owning(("a", "b", 0.5))`) rather than new fixtures.
- `neo4j_server`: one real Neo4j Community server for the session (tests/neo4j_server.py), started on first
  use; `neo4j_env` also points NEO4J_* at it for one test (Settings(), the CLI, subprocesses).
Settings are read once per process and cached (graph.settings, api.settings); an autouse fixture clears the
cache before each test and after each `monkeypatch.setenv`/`delenv`, so a test sees the environment it sets.
Store-contract tests that must run on every backend live in tests/test_store_contract.py with their own
parametrised fixture; a backend's quirks get their own named tests.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corpgraph.api.settings import get_api_settings
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.settings import get_settings
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from tests.neo4j_server import Neo4jServer, start_neo4j_server


def _clear_settings() -> None:
    """Forget the cached settings (they are read from the environment again on next use)."""
    get_settings.cache_clear()
    get_api_settings.cache_clear()


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test, and each environment change it makes through monkeypatch, reads the settings anew."""
    _clear_settings()
    for name in ("setenv", "delenv"):
        original = getattr(monkeypatch, name)

        def changed(*args: object, _original: Callable[..., None] = original, **kwargs: object) -> None:
            _original(*args, **kwargs)
            _clear_settings()

        setattr(monkeypatch, name, changed)
    yield
    _clear_settings()


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


# The test server's cap on one transaction's memory: far above any other test's file (the generated world of
# tests/test_neo4j_server_only.py needs under 1 MB), far below the file that test loads to hit it.
TRANSACTION_MAX = "32m"


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    """A real Neo4j for the whole session (built and started on first use), shut down cleanly at the end."""
    server = start_neo4j_server(tmp_path_factory.mktemp("neo4j"), {"db.memory.transaction.max": TRANSACTION_MAX})
    try:
        server.init_schema()  # `corpgraph db init`: opening a store checks for it
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture
def neo4j_env(neo4j_server: Neo4jServer, monkeypatch: pytest.MonkeyPatch) -> Neo4jServer:
    """The session's Neo4j, with NEO4J_URI, NEO4J_USERNAME and NEO4J_PASSWORD set for this test."""
    for key, value in neo4j_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    return neo4j_server
