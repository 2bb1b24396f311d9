"""Settings, read once from CORPGRAPH_* (and NEO4J_*) environment variables, with typed defaults."""
from __future__ import annotations

import functools
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable; tests override with monkeypatch.setenv (conftest clears the cached copy)."""

    model_config = SettingsConfigDict(env_prefix="CORPGRAPH_", extra="ignore")

    store: str = "embedded"
    db: Path = Path("corpgraph.db")
    batch_size: int = Field(default=10_000, ge=1)
    # Seconds a write waits for another writer's lock on the embedded store before "the store is locked".
    busy_timeout: float = Field(default=30.0, ge=0)
    # Seconds a batched Neo4j load may go without a heartbeat (sent every quarter of it) before another
    # process takes it for dead and recovers it (graph/stores/neo4j_loads.py).
    load_lease: float = Field(default=20.0, gt=0)
    # Decoded records a facade keeps per kind (entity types, entities, relations) for the store's latest revision
    # (graph.stores.record_cache): a request that reads them again reads nothing from the store; 0 keeps none.
    # A decoded record of the generated worlds holds ~1.5-1.8 KB: 2,000 of each kind ~7 MB per process (entity types
    # keep 25 times as many, ~5 MB more).
    record_cache: int = Field(default=2_000, ge=0)
    # Chunk transactions a batched Neo4j load keeps in flight at once, each on its own session
    # (graph/stores/neo4j_loads.py): Neo4j writes them on as many cores.
    load_writers: int = Field(default=2, ge=1)
    # Sessions the Neo4j projection feed reads at once, each its own share of a relation type's id range
    # (Neo4jStore.iter_edges): the server reads the pages on as many cores.
    feed_readers: int = Field(default=2, ge=1)
    # Projection snapshots (graph.projection.snapshot): on by default for the embedded store (next to its file); the folder
    # may be set for any store (a Neo4j store has no file to sit next to).
    snapshots: bool = True
    snapshot_dir: Path | None = None

    neo4j_uri: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_URI", "CORPGRAPH_NEO4J_URI"))
    neo4j_username: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USERNAME", "NEO4J_USER"))
    neo4j_password: SecretStr = Field(default=SecretStr(""), validation_alias=AliasChoices("NEO4J_PASSWORD"))
    neo4j_database: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_DATABASE"))


@functools.cache
def get_settings() -> Settings:
    """The settings, read from the environment once per process and then shared (tests: get_settings.cache_clear())."""
    return Settings()
