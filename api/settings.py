"""Settings of the HTTP API, read once from CORPGRAPH_API_* environment variables, with typed defaults."""
from __future__ import annotations

from typing import Any

import functools

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from corpgraph.schema.errors import LimitExceeded


EXPOSURE_FIRST = 20  # exposure items per page when `first` is not given (the resolver's page_size says the same)


class ApiSettings(BaseSettings):
    """Everything the API makes configurable; tests override with monkeypatch.setenv (conftest clears the cache)."""

    model_config = SettingsConfigDict(env_prefix="CORPGRAPH_API_", extra="ignore")

    # Bearer token that unlocks mutations; unset means mutations are disabled.
    token: SecretStr | None = None
    graphiql: bool = True
    introspection: bool = True
    suggestions: bool = True
    # Origins allowed by CORS, as a JSON list (e.g. '["https://viz.example"]'); empty turns CORS off.
    cors_origins: list[str] = Field(default_factory=list)
    # Limits on a GraphQL document: nesting depth, tokens, aliases and expanded cost (api/query_cost.py).
    max_query_depth: int = Field(default=10, ge=1)
    max_tokens: int = Field(default=2000, ge=1)
    max_aliases: int = Field(default=15, ge=0)
    max_cost: int = Field(default=5000, ge=1)
    # Bytes of parsed documents (and their validation errors) kept by the document cache.
    cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    # Limits on an HTTP request: body bytes, nesting of its JSON, seconds before it is answered with a timeout.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    max_json_depth: int = Field(default=64, ge=1)
    # Arrays and objects in a body (its '[' and '{' bytes, counted before decoding): json.loads holds the GIL for
    # the whole decode (~0.25 s for 700,000 empty lists), so the count bounds how long any decode stalls the
    # server. 1,000 upserted records with lists in every field stay far below it.
    max_json_containers: int = Field(default=50_000, ge=1)
    time_budget: float = Field(default=10.0, gt=0)
    # Worker threads per lane (api/lanes.py): analytics and searches; primary-key reads; writes.
    heavy_workers: int = Field(default=2, ge=1)  # more CPU-bound threads add no throughput under the GIL, only latency
    quick_workers: int = Field(default=4, ge=1)
    # Bounds on arguments: page sizes (`first`), graph walks (`maxDepth`, `depth`), neighbourhood size, records per upsert.
    max_first: int = Field(default=100, ge=1)
    # `first` of owners and holdings: default and maximum (a large holder has 100,000s of holdings).
    holdings_first: int = Field(default=100, ge=1)
    max_holdings_first: int = Field(default=1000, ge=1)
    max_graph_depth: int = Field(default=6, ge=1)
    max_nodes: int = Field(default=500, ge=1)
    # OWNER parties per responsible company in a liability chain (a conglomerate can have 100,000s).
    default_owners: int = Field(default=100, ge=1)
    max_owners: int = Field(default=1000, ge=1)
    max_upsert: int = Field(default=1000, ge=1)
    # `watch` subscriptions: seconds between two looks at the store's revision, entities one subscription watches.
    watch_interval: float = Field(default=0.5, gt=0)
    max_watched: int = Field(default=100, ge=1)

    def first(self, value: int | None, default: int = 20) -> int:
        """A page size within 1..max_first; LimitExceeded (saying the range) otherwise."""
        return _within("first", default if value is None else value, 1, self.max_first)

    def holdings_page(self, value: int | None) -> int:
        """A page size of owners/holdings within 1..max_holdings_first (default holdings_first)."""
        return _within("first", self.holdings_first if value is None else value, 1, self.max_holdings_first)

    def owners(self, value: int | None) -> int:
        """OWNER parties kept per responsible company, within 1..max_owners (default default_owners)."""
        return _within("maxOwners", self.default_owners if value is None else value, 1, self.max_owners)

    def depth(self, value: int | None, default: int, name: str = "maxDepth") -> int:
        """A walk depth within 1..max_graph_depth; LimitExceeded (saying the range) otherwise."""
        return _within(name, default if value is None else value, 1, self.max_graph_depth)

    def liability_args(self, max_depth: int | None, min_share: float | None,
                       max_owners: int | None) -> dict[str, Any]:
        """The bounded arguments of a liability chain, the same for the GraphQL field and the exports."""
        return {"max_depth": self.depth(max_depth, self.max_graph_depth),
                "min_share": self.share("minShare", min_share), "max_owners": self.owners(max_owners)}

    def exposure_args(self, max_depth: int | None, first: int | None = None, whole: bool = False) -> dict[str, Any]:
        """The bounded arguments of an exposure, the same for the GraphQL field and the exports: a page of `first`
        items within 1..max_first (default 20), or every item (whole=True: an export draws the whole graph)."""
        return {"max_depth": self.depth(max_depth, self.max_graph_depth),
                "first": None if whole else self.first(first, default=EXPOSURE_FIRST)}

    def neighborhood_args(self, depth: int | None) -> dict[str, Any]:
        """The bounded arguments of a neighbourhood, the same for the GraphQL field and the exports."""
        return {"depth": self.depth(depth, 1, name="depth"), "max_nodes": self.max_nodes}

    @staticmethod
    def share(name: str, value: float | None) -> float:
        """A share within 0..1 (default 0); LimitExceeded (saying the range) otherwise."""
        if value is None:
            return 0.0
        if not 0.0 <= value <= 1.0:
            raise LimitExceeded(f"{name} must be between 0 and 1, got {value}")
        return value


def _within(name: str, value: int, low: int, high: int) -> int:
    """The value when low <= value <= high; otherwise a LimitExceeded that says the allowed range."""
    if not low <= value <= high:
        raise LimitExceeded(f"{name} must be between {low} and {high}, got {value}")
    return value


@functools.cache
def get_api_settings() -> ApiSettings:
    """The API settings, read from the environment once per process and then shared."""
    return ApiSettings()
