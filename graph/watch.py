"""Watching entities: their sanctions statuses and incident exposure as of today, and what changed between two
revisions of the store, read from its change log (the GraphQL `watch` subscription polls these).

A watcher keeps each entity's last `Watched` state; after the store's revision moves, it takes the states
again and reports those that differ, with the ids the change log lists for the revisions in between (a new
stake, a new listing, a new incident at a holding). A BULK or DECISION entry, or a log pruned past the
watcher's revision, lists no ids: the cause then says so.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from corpgraph.graph.analytics.results import SanctionsAnswer
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.base import ChangeKind, contiguous

_DIGITS = 9  # shares and totals compared to 9 places: the same answer computed twice is the same state


@dataclass
class Watched:
    """One entity's state: its status under each regime and its exposure to incidents."""

    entity: str
    statuses: list[SanctionsAnswer] = field(default_factory=list)
    incidents: int = 0
    exposure: dict[str, float] = field(default_factory=dict)

    def exposure_key(self) -> tuple[object, ...]:
        """The exposure as compared: the incidents and their totals."""
        return self.incidents, tuple(sorted((k, round(v, _DIGITS)) for k, v in self.exposure.items()))


def _status_key(answer: SanctionsAnswer) -> tuple[object, ...]:
    """One regime's answer as compared: the status and the aggregate with its bounds."""
    return (answer.status, *(round(x, _DIGITS) for x in (answer.aggregate_share, answer.aggregate_share_min,
                                                          answer.aggregate_share_max)))


def settled(graph: CorpGraph) -> int:
    """Wait until queries answer from the store's current revision (a build in flight is waited for, however
    long: a state taken from the previous projection would be recorded under the new revision and its change
    never reported), and return that revision."""
    return graph.live.fresh().revision


def state(graph: CorpGraph, entity: str, regimes: Sequence[str], day: date | None = None) -> Watched:
    """The entity's state now (or at `day`)."""
    exposure = graph.exposure(entity, day, bounds=False)
    return Watched(entity, [graph.sanctions_status(entity, regime, day) for regime in regimes],
                   len({item.incident for item in exposure.items}), dict(exposure.totals))


def changed(old: Watched, new: Watched) -> list[str]:
    """What differs between two states: `sanctions:<REGIME>` per regime, and `exposure`."""
    out = [f"sanctions:{a.regime}" for a, b in zip(old.statuses, new.statuses) if _status_key(a) != _status_key(b)]
    if old.exposure_key() != new.exposure_key():
        out.append("exposure")
    return out


def causes(graph: CorpGraph, since: int, until: int) -> list[str]:
    """The ids the change log lists for the revisions after `since` up to `until` (relations, then entities), or
    why it lists none."""
    entries = [e for e in contiguous(graph.store.changes_since(since), since) if e.revision <= until]
    if not entries:
        return ["the change log no longer reaches that far back: everything may have changed"]
    out: list[str] = []
    for entry in entries:
        if entry.kind != ChangeKind.WRITE:
            out.append(f"revision {entry.revision}: a {entry.kind.value} (the log lists no ids)")
        out.extend([*entry.relations, *entry.entities])
    return list(dict.fromkeys(out))
