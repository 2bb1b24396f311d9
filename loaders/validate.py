"""Validate raw records into a Batch, collecting every problem as `file:line: field: reason`."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schema.batch import Batch, Origin, paused_gc
from schema.declaration import parse_record, spec_for
from schema.errors import InvalidInput, Problem
from schema.records import Entity, Relation

from loaders.readers import OnBytes, RawRecord, read_records


def load_file(path: str | Path, on_bytes: OnBytes = None) -> Batch:
    """Read and validate a whole file; raises InvalidInput with all its problems (nothing is returned half)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput([Problem(str(path), 0, "(file)", "no such file")])
    with paused_gc():
        raw, problems = read_records(path, on_bytes)
        batch, more = validate_records(str(path), raw)
    problems.extend(more)
    if problems:
        raise InvalidInput(sorted(problems, key=lambda p: p.line))
    return batch


def validate_records(label: str, raw: Iterable[RawRecord]) -> tuple[Batch, list[Problem]]:
    """Validate raw records into a batch (entities first), with every problem found."""
    batch = Batch(label)
    problems: list[Problem] = []
    for line, data in raw:
        record = _validate_one(label, line, data, problems)
        if isinstance(record, Entity):
            batch.entities.append((record, Origin(label, line)))
        elif isinstance(record, Relation):
            batch.relations.append((record, Origin(label, line)))
    return batch, problems


def _validate_one(label: str, line: int, data: dict[str, Any], problems: list[Problem]) -> Entity | Relation | None:
    """One record, or None with its problems appended."""
    type_name = data.get("type")
    if not isinstance(type_name, str) or spec_for(type_name) is None:
        problems.append(Problem(label, line, "type", f"unknown record type {type_name!r}"))
        return None
    try:
        return parse_record(data)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "(record)"
            problems.append(Problem(label, line, field, _reason(err)))
        return None


def _reason(err: Any) -> str:
    """A pydantic error message without its internal prefixes."""
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    return message
