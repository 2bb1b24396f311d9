"""Open the store a setting names; the only place that knows every backend."""
from __future__ import annotations

from corpgraph.schema.errors import ConfigurationError

from corpgraph.graph.settings import Settings, get_settings
from corpgraph.graph.stores.base import GraphStore


def open_store(kind: str | None = None, settings: Settings | None = None) -> GraphStore:
    """The embedded (SQLite) or Neo4j store, as `kind` or the CORPGRAPH_STORE setting says."""
    settings = settings or get_settings()
    kind = kind or settings.store
    if kind == "embedded":
        from corpgraph.graph.stores.sqlite import SqliteStore

        return SqliteStore(settings.db, busy_timeout=settings.busy_timeout)
    if kind == "neo4j":
        from corpgraph.graph.stores.neo4j import open_neo4j_store

        return open_neo4j_store(settings)
    raise ConfigurationError(f"unknown store {kind!r}: use 'embedded' or 'neo4j'")
