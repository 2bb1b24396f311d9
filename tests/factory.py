"""A tiny factory for test records: short calls instead of long literals."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from corpgraph.schema.batch import Batch, Origin
from corpgraph.schema.declaration import parse_record
from corpgraph.schema.records import Entity, Relation


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
    out = Batch(label)
    for line, data in enumerate(raw, start=1):
        record = parse_record(data)
        target = out.entities if isinstance(record, Entity) else out.relations
        target.append((record, Origin(label, line)))  # type: ignore[arg-type]
        assert isinstance(record, (Entity, Relation))
    return out


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
