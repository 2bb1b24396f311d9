"""The `watch` subscription (graphql-transport-ws): events when a watched entity's sanctions status or incident
exposure changes, driven by the store's revision and change log (graph.watch).

On subscribing, one event per entity gives its state (`changed: ["initial"]`); then every
CORPGRAPH_API_WATCH_INTERVAL seconds the store's revision is read, and when it moved, each entity's state is
taken again and an event is pushed for each one that changed, with the change log's ids as its causes. The
work runs in a worker thread, never on the server's event loop.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

import strawberry
from strawberry.scalars import JSON

from corpgraph.graph import watch as w
from corpgraph.graph.analytics.sanctions import rule_of
from corpgraph.graph.service import CorpGraph
from corpgraph.schema.errors import LimitExceeded
from corpgraph.schema.regimes import RULED

from corpgraph.api.field_decorators import resolver, subscription
from corpgraph.api.graphql_sanctions import SanctionsAnswer, answer_from
from corpgraph.api.graphql_types import Ctx, Entity, load_entity


@strawberry.type(description="A watched entity's state after a change: its status under each regime and its exposure.")
class WatchEvent:
    entity_id: strawberry.Private[str]
    revision: int = strawberry.field(description="The store revision the state was taken at.")
    changed: list[str] = strawberry.field(description="What changed: sanctions:<REGIME>, exposure; `initial` for the first event.")
    causes: list[str] = strawberry.field(description="Relation and entity ids the store's change log lists for the revisions since the last event.")
    statuses: list[SanctionsAnswer] = strawberry.field(description="The entity's status under each watched regime.")
    incidents: int = strawberry.field(description="Incidents the entity is exposed to, through any channel.")
    exposure: JSON = strawberry.field(description="The weighted impact totals of those incidents.")

    @resolver(description="The watched entity.")
    async def entity(self, info: Ctx) -> Entity:
        return await load_entity(info, self.entity_id)


@strawberry.type(description="Live answers, pushed over a websocket (graphql-transport-ws) at /graphql.")
class Subscription:
    @subscription(description="Events when a watched entity's sanctions status (under each regime; default OFAC, EU, UK) or incident exposure changes: a new stake, a new listing, a new incident at a holding.")
    async def watch(self, info: Ctx, entity_ids: list[strawberry.ID],
                    regimes: list[str] | None = None) -> AsyncGenerator[WatchEvent, None]:
        settings, graph = info.context.settings, info.context.graph
        if not entity_ids or len(entity_ids) > settings.max_watched:
            raise LimitExceeded(f"watch 1 to {settings.max_watched} entities at a time, got {len(entity_ids)}")
        chosen = [rule_of(r).regime for r in (regimes or RULED)]
        ids = await asyncio.to_thread(_resolved, graph, entity_ids)
        revision = await asyncio.to_thread(w.settled, graph)
        states = await asyncio.to_thread(_states, graph, ids, chosen)
        for state in states:
            yield _event(state, revision, ["initial"], [])
        while True:
            await asyncio.sleep(settings.watch_interval)
            if await asyncio.to_thread(graph.revision) == revision:
                continue
            now = await asyncio.to_thread(w.settled, graph)
            causes = await asyncio.to_thread(w.causes, graph, revision, now)
            fresh = await asyncio.to_thread(_states, graph, ids, chosen)
            for old, new in zip(states, fresh):
                what = w.changed(old, new)
                if what:
                    yield _event(new, now, what, causes)
            states, revision = fresh, now


def _resolved(graph: CorpGraph, refs: Sequence[str]) -> list[str]:
    """Canonical ids of the watched references (NotFound names one that is none)."""
    return [graph.resolve(ref) for ref in refs]


def _states(graph: CorpGraph, ids: Sequence[str], regimes: Sequence[str]) -> list[w.Watched]:
    """Every watched entity's state now."""
    return [w.state(graph, id, regimes) for id in ids]


def _event(state: w.Watched, revision: int, changed: list[str], causes: list[str]) -> WatchEvent:
    """The GraphQL event of one state."""
    return WatchEvent(entity_id=state.entity, revision=revision, changed=changed, causes=causes,
                      statuses=[answer_from(s) for s in state.statuses], incidents=state.incidents,
                      exposure=JSON(state.exposure))
