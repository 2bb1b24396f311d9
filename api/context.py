"""The per-request GraphQL context: the facade, the settings, the caller's token, and fresh DataLoaders."""
from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from corpgraph.graph.service import CorpGraph
from corpgraph.schema.errors import CorpgraphError, NotFound
from corpgraph.schema.kinds import EntityType
from corpgraph.schema.records import Entity

from corpgraph.api.doc_cache import CachedDocument
from corpgraph.api.settings import ApiSettings


class Unauthorized(CorpgraphError):
    """A mutation was sent without the configured bearer token, or mutations are disabled."""

    http_status = 401
    code = "UNAUTHORIZED"


@dataclass
class Context:
    """What resolvers see; made anew per request so DataLoader caches never outlive it.

    `deadline` (time.monotonic() seconds) is when the request's time budget runs out: the app answers
    with a timeout then, and the worker thread running the operation stops at its next store read.
    """

    graph: CorpGraph
    settings: ApiSettings
    bearer: str | None = None
    deadline: float = field(init=False)
    parsed: CachedDocument | None = None  # the request's document, when the app parsed it before executing
    damage: list[str] = field(default_factory=list)  # damaged records an answer left out (graphql_schema.ErrorNotes)
    entities: DataLoader[str, Entity | None] = field(init=False)
    # Records an analytics resolver read for its whole answer at once (read_entities): their entity fields resolve
    # at once, with no awaitable per item (graphql-core's await per field was most of a liability chain's time).
    known: dict[str, Entity] = field(default_factory=dict)
    # Types of ids an answer names where only `id` is selected on their entities (read_entity_types): the object
    # needs the type (its GraphQL type), not the record; decoding ~160 records was 8% of a 200k chain (cProfile).
    typed: dict[str, EntityType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.settings.time_budget
        self.entities = DataLoader(load_fn=self._load_entities)

    async def entity(self, id: str) -> Entity:
        """One entity record, batched with every other load of this tick; NotFound when it does not exist."""
        record = await self.entities.load(id)
        if record is None:
            raise NotFound(f"no entity with id {id!r}; find ids with the search query")
        return record

    def read_entities(self, ids: Iterable[str]) -> None:
        """Read the records of these ids in one store call, for the entity fields of the answer being built."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self.known]
        if wanted:
            self.known.update(self.graph.entities(wanted))

    def read_entity_types(self, ids: Iterable[str]) -> None:
        """Read only the stored types of these canonical ids, for entity fields that select nothing but `id`."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self.known and i not in self.typed]
        if wanted:
            self.typed.update(self.graph.entity_types(wanted))

    def report_damage(self, ids: Iterable[str]) -> None:
        """Note the damaged records touching these ids (the answer left them out); they come back in `errors`."""
        self.add_damage(self.graph.damage_near(ids))

    def add_damage(self, messages: Iterable[str]) -> None:
        """Note what the answer says of damaged records (each once); they come back in `errors`."""
        self.damage.extend(m for m in dict.fromkeys(messages) if m not in self.damage)

    def require_token(self) -> None:
        """Allow a mutation only with the configured bearer token; Unauthorized says how to fix it."""
        expected = self.settings.token
        if expected is None:
            raise Unauthorized("mutations are disabled: the server has no CORPGRAPH_API_TOKEN set")
        # compare_digest: the time taken must not reveal how much of a guessed token matched.
        if self.bearer is None or not hmac.compare_digest(self.bearer.encode(), expected.get_secret_value().encode()):
            raise Unauthorized("mutations need the header 'Authorization: Bearer <CORPGRAPH_API_TOKEN>'")

    async def _load_entities(self, ids: list[str]) -> list[Entity | None]:
        """The DataLoader's batch function: one store call for every id (or `SCHEME:ID`) asked for in the same tick."""
        found = self.graph.entities(ids)
        return [found.get(i) for i in ids]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def make_context(graph: CorpGraph, settings: ApiSettings, authorization: str | None = None) -> Context:
    """A fresh context for one request (called from the ASGI app's get_context, and by tests)."""
    return Context(graph, settings, bearer_token(authorization))
