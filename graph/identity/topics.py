"""Topic keys (FollowTheMoney's risk vocabulary: sanction, role.pep, crime.fraud, ...): what both stores
index and the `topics` search filter matches. A filter matches an entity carrying ANY of the given topics,
exactly: "sanction" does not match "sanction.linked" (linked to a sanctioned party is not sanctioned).
"""
from __future__ import annotations

from collections.abc import Iterable

from corpgraph.schema.records import Entity


def topic_key(text: str) -> str | None:
    """The compared form of a topic: trimmed and lower-case (FtM writes them so); None when blank."""
    key = text.strip().lower()
    return key or None


def topic_keys(topics: Iterable[str] | None) -> list[str] | None:
    """The distinct keys of a topics filter, sorted; None when there is no filter (None or nothing given)."""
    keys = sorted({k for k in (topic_key(t) for t in topics or ()) if k})
    return keys or None


def entity_topic_keys(record: Entity) -> list[str]:
    """The distinct topic keys of an entity, sorted."""
    return topic_keys(record.topics) or []
