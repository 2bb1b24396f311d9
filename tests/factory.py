"""A tiny factory for test records: short calls instead of long literals."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from corpgraph.graph.stores.base import GraphStore
from corpgraph.schema.batch import Batch
from corpgraph.schema.declaration import parse_record, parsed_batch
from corpgraph.schema.records import Record

R = TypeVar("R", bound=Record)


def company(id: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    """A raw Company record."""
    return {"type": "Company", "id": id, "name": name or id.title(), **fields}


def entity(type: str, id: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    """A raw entity record of any type."""
    return {"type": type, "id": id, "name": name or id.title(), **fields}


def owns(source: str, target: str, share: Any, **fields: Any) -> dict[str, Any]:
    """A raw OWNS record."""
    return {"type": "OWNS", "source": source, "target": target, "share": share, **fields}


def rel(type: str, source: str, target: str, **fields: Any) -> dict[str, Any]:
    """A raw relation record of any type."""
    return {"type": type, "source": source, "target": target, **fields}


def batch(*raw: dict[str, Any], label: str = "test") -> Batch:
    """A validated batch from raw records (entities and relations in any order)."""
    return parsed_batch(label, *raw)


def of_type(kind: type[R], record: object) -> R:
    """`record` as the model `kind` (a failed assertion otherwise): typed reads of a field only some types have,
    from a record read through `Entity`, `Relation` or `Entity | Relation` (a store, a loader, parse_record)."""
    assert isinstance(record, kind), f"{type(record).__name__} is no {kind.__name__}"
    return record


def approx(expected: float) -> float:
    """pytest.approx(expected) where a float is expected: inside a tuple, list or dict compared with `==`, or as a
    field of an answer built for comparison (mypy's strict equality only knows approx's own `__eq__` at the top)."""
    return cast(float, pytest.approx(expected))


def type_name(record: Record) -> str:
    """A record's `type` (each model declares its own literal; Entity, Relation and the other bases have none)."""
    return str(getattr(record, "type"))


def parsed(kind: type[R], raw: dict[str, Any]) -> R:
    """parse_record(raw), which must give a `kind`."""
    return of_type(kind, parse_record(raw))


def companies_owning(*edges: tuple[str, str, float]) -> Batch:
    """A batch of companies and OWNS edges from (owner, owned, share) triples."""
    ids = sorted({x for s, t, _ in edges for x in (s, t)})
    return batch(*(company(i) for i in ids), *(owns(s, t, w) for s, t, w in edges))


def canonical(answer: Any) -> Any:
    """An answer as plain data to compare: floats to 9 places (NaN as None, so equal answers compare equal),
    lists sorted (edge and node numbering differ between stores and between a delta and a fresh build)."""
    data = dataclasses.asdict(answer) if dataclasses.is_dataclass(answer) and not isinstance(answer, type) else answer
    if isinstance(data, float):
        return None if data != data else round(data, 9)
    if isinstance(data, dict):
        return {key: canonical(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        items = [canonical(item) for item in data]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))
    return data


def empty_store(kind: str, request: pytest.FixtureRequest, db: Path) -> Iterator[GraphStore]:
    """Yield an empty store of one backend ("embedded": a new file at `db`; "neo4j": the session's server, emptied)
    and close it afterwards: the body of a fixture parametrized over both backends."""
    from corpgraph.graph.stores.neo4j import open_neo4j_store
    from corpgraph.graph.stores.sqlite import SqliteStore

    if kind == "embedded":
        opened: GraphStore = SqliteStore(db)
    else:
        opened = open_neo4j_store(request.getfixturevalue("neo4j_server").settings())
        opened.delete_all()
    yield opened
    opened.close()
