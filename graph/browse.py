"""Browsing without ids: incidents (filtered by category and date) and companies, in cursor-paginated pages."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from corpgraph.schema.kinds import EntityType, IncidentCategory
from corpgraph.schema.records import Entity, Incident

from corpgraph.graph.cursors import decode_cursor, encode_cursor
from corpgraph.graph.stores.base import StoreReader

_SCAN_PAGE = 200  # entities read per store call while filtering; bounds memory, not the answer


@dataclass(frozen=True)
class Page:
    """One page of entities, with the cursor to pass as `after` for the next page."""

    items: list[Entity]
    end_cursor: str | None
    has_next_page: bool


def companies(store: StoreReader, first: int, after: str | None = None) -> Page:
    """Companies ordered by id, `first` at a time, starting after the cursor."""
    return _page(store, EntityType.COMPANY, first, after, lambda _: True)


def incidents(
    store: StoreReader,
    category: IncidentCategory | None = None,
    from_: date | None = None,
    to: date | None = None,
    first: int = 20,
    after: str | None = None,
) -> Page:
    """Incidents ordered by id, optionally of one category and occurring within [from_, to] (inclusive).

    An incident without `occurred_on` is left out as soon as a date bound is given: it cannot be placed.
    """
    def keep(entity: Entity) -> bool:
        assert isinstance(entity, Incident)
        if category is not None and entity.category != category:
            return False
        if from_ is None and to is None:
            return True
        day = entity.occurred_on
        return day is not None and (from_ is None or day >= from_) and (to is None or day <= to)

    return _page(store, EntityType.INCIDENT, first, after, keep)


def _page(store: StoreReader, type: EntityType, first: int, after: str | None,
          keep: Callable[[Entity], bool]) -> Page:
    """The next `first` entities of a type that pass `keep`; one extra is looked for to know if more exist."""
    found: list[Entity] = []
    for entity in _scan(store, type, decode_cursor(after) if after else None):
        if keep(entity):
            found.append(entity)
            if len(found) > first:
                break
    items = found[:first]
    return Page(items, encode_cursor(items[-1].id) if items else None, len(found) > first)


def _scan(store: StoreReader, type: EntityType, after: str | None) -> Iterator[Entity]:
    """All entities of a type after an id, read from the store a page at a time."""
    while True:
        batch = store.list_entities(type, after, _SCAN_PAGE)
        yield from batch
        if len(batch) < _SCAN_PAGE:
            return
        after = batch[-1].id
