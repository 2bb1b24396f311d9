"""Validate raw records into a Batch, collecting every problem as `file:line: field: reason` (or a JSON pointer)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schema.batch import Batch, Origin
from schema.declaration import ENTITIES, RELATIONS, parse_record, spec_for
from schema.errors import InvalidInput, Problem
from schema.records import Entity, Relation

from loaders.detect import choose
from loaders.formats import Raw
from loaders.readers import OnBytes, RawRecord

_TYPES = ", ".join([kind.value for kind in ENTITIES] + [kind.value for kind in RELATIONS])


def load_file(path: str | Path, on_bytes: OnBytes = None, format: str | None = None, strict: bool = True) -> Batch:
    """Read a file of any format (named, or detected from its content) and validate it into one batch.

    strict: raise InvalidInput with every reading and validation problem (nothing is returned half);
    otherwise the batch carries its problems and graph.ingest reports them with the reference problems.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput([Problem(str(path), 0, "(file)", "no such file")])
    try:
        fmt = choose(path, format)
        batch = validate_stream(str(path), fmt.read(path))
    except OSError as exc:
        raise InvalidInput([Problem(str(path), 0, "(file)", f"cannot read it: {exc.strerror or exc}")]) from exc
    batch.format = fmt.name
    if on_bytes is not None:
        on_bytes(path.stat().st_size)
    if strict and batch.problems:
        raise InvalidInput(batch.problems)
    return batch


def iter_batches(path: str | Path, size: int, format: str | None = None) -> tuple[str, Iterator[Batch]]:
    """The chosen format's name and the file validated in batches of at most `size` records, streamed.

    Each batch carries the problems met while reading and validating its records; nothing of the file is
    held beyond the batch being yielded (graph.stream_ingest writes them inside one transaction).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput([Problem(str(path), 0, "(file)", "no such file")])
    fmt = choose(path, format)
    return fmt.name, _batches(str(path), fmt.read(path), size)


def _batches(label: str, items: Iterable[Raw | Problem], size: int) -> Iterator[Batch]:
    """Cut a format's stream into validated batches of `size` raw items (problems travel with their batch)."""
    chunk: list[Raw | Problem] = []
    try:
        for item in items:
            chunk.append(item)
            if len(chunk) >= size:
                yield validate_stream(label, chunk)
                chunk = []
    except OSError as exc:
        raise InvalidInput([Problem(label, 0, "(file)", f"cannot read it: {exc.strerror or exc}")]) from exc
    yield validate_stream(label, chunk)


def validate_stream(label: str, items: Iterable[Raw | Problem]) -> Batch:
    """Validate a format's stream into a batch (entities first) that carries every problem found, in order."""
    batch = Batch(label)
    for item in items:
        if isinstance(item, Problem):
            batch.problems.append(item)
            continue
        origin, data = item
        record = _validate_one(origin, data, batch.problems)
        if isinstance(record, Entity):
            batch.entities.append((record, origin))
        elif isinstance(record, Relation):
            batch.relations.append((record, origin))
        elif isinstance(data.get("id"), str) and "source" not in data:
            batch.failed_ids.add(data["id"])
    batch.problems.sort(key=lambda p: p.line)
    return batch


def validate_records(label: str, raw: Iterable[RawRecord]) -> tuple[Batch, list[Problem]]:
    """Validate (line, record) pairs into a batch, with every problem found."""
    batch = validate_stream(label, ((Origin(label, line), data) for line, data in raw))
    return batch, batch.problems


def _validate_one(origin: Origin, data: dict[str, Any], problems: list[Problem]) -> Entity | Relation | None:
    """One record, or None with its problems appended."""
    type_name = data.get("type")
    if type_name is None:
        problems.append(origin.problem("type", f"required field is missing: name the record type ({_TYPES})"))
        return None
    if not isinstance(type_name, str) or spec_for(type_name) is None:
        problems.append(origin.problem("type", f"unknown record type {type_name!r}: use one of {_TYPES}"))
        return None
    try:
        return parse_record(data)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "(record)"
            problems.append(origin.problem(field, _reason(err)))
        return None


def _reason(err: Any) -> str:
    """A pydantic error message without its internal prefixes."""
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "finite_number":
        return "NaN and Infinity are not allowed: write a finite number"
    return message
