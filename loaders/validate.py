"""Validate raw records into a Batch, collecting every problem as `file:line: field: reason` (or a JSON pointer)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union

from pydantic import Field, TypeAdapter, ValidationError

from corpgraph.schema.batch import Batch, Origin
from corpgraph.schema.declaration import ENTITIES, RELATIONS, parse_record, spec_for
from corpgraph.schema.errors import InvalidInput, Problem
from corpgraph.schema.records import Entity, Relation

from corpgraph.loaders.caps import CappedFormat
from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.detect import choose
from corpgraph.loaders.formats import Format, Line, Raw
from corpgraph.loaders.formats.native import NativeFormat
from corpgraph.loaders.readahead import read_ahead, worth_a_child
from corpgraph.loaders.readers import OnBytes, RawRecord, parse_line
from corpgraph.loaders.workers import fan_out, worker_count

T = TypeVar("T")
_TYPES = ", ".join([kind.value for kind in ENTITIES] + [kind.value for kind in RELATIONS])


def load_file(path: str | Path, on_bytes: OnBytes = None, format: str | None = None, strict: bool = True,
              coverage: Coverage | None = None) -> Batch:
    """Read a file of any format (named, or detected from its content) and validate it into one batch.

    strict: raise InvalidInput with every reading and validation problem (nothing is returned half);
    otherwise the batch carries its problems and graph.write.ingest reports them with the reference problems.
    coverage: counts what each kind of source record became (loaders.coverage).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput([Problem(str(path), 0, "(file)", "no such file")])
    try:
        fmt = choose(path, format)
        counted = _start(coverage, path, fmt)
        batch = _counted(validate_stream(str(path), _items(fmt, path, counted)), fmt, counted)
    except OSError as exc:
        raise InvalidInput([Problem(str(path), 0, "(file)", f"cannot read it: {exc.strerror or exc}")]) from exc
    batch.format = fmt.name
    if on_bytes is not None:
        on_bytes(path.stat().st_size)
    if strict and batch.problems:
        raise InvalidInput(batch.problems)
    return batch


def iter_batches(path: str | Path, size: int, format: str | None = None, coverage: Coverage | None = None,
                 work: Callable[[Batch], Batch] | None = None, workers: int | None = None
                 ) -> tuple[str, Iterator[Batch]]:
    """The chosen format's name and the file validated in batches of at most `size` records, streamed; what
    each kind of source record became is counted into `coverage` as the batches are read (loaders.coverage).

    Each batch carries the problems met while reading and validating its records; nothing of the file is
    held beyond the batch being yielded (graph.stores.sqlite_stream writes them inside one transaction). An
    imported file of some size is read by a child process (loaders.readahead), the same stream on another core.
    `work`: what the store does to each batch alone before writing it (graph.stores.sqlite_prepare); a native JSON
    Lines file of some size is then validated and worked in forked processes, one per core (loaders.workers),
    while this one writes (`workers` says how many instead, 0 for none); otherwise the batches come as validated
    and the store does its work itself.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput([Problem(str(path), 0, "(file)", "no such file")])
    fmt = choose(path, format)
    counted, label = _start(coverage, path, fmt), str(path)
    native = isinstance(fmt, NativeFormat) and fmt.lines(path) is not None
    workers = (worker_count(path) if workers is None else workers) if work is not None and native else 0
    if work is not None and workers:
        batches: Iterator[Batch] = fan_out(lambda: _chunks(label, _items(fmt, path, counted), size),
                                           lambda chunk: work(validate_stream(label, chunk)), workers)
    else:
        batches = _batches(label, _items(fmt, path, counted), size)
    return fmt.name, (_counted(batch, fmt, counted) for batch in batches)


def _start(coverage: Coverage | None, path: Path, fmt: Format) -> Coverage:
    """The coverage to count into (a throwaway one when the caller wants none), named for the file and format."""
    counted = Coverage() if coverage is None else coverage
    counted.file, counted.format = str(path), fmt.name
    return counted


def _items(fmt: Format, path: Path, coverage: Coverage) -> Iterable[Raw | Line | Problem]:
    """The file's stream for validate_stream: native JSON Lines as unparsed lines (counted once validated, by
    _counted), an imported file of some size read by a child process (loaders.readahead), anything else by
    its format's reader."""
    lines = fmt.lines(path) if isinstance(fmt, NativeFormat) else None
    if lines is not None:
        return lines
    if not isinstance(fmt, NativeFormat):
        fmt = CappedFormat(fmt)  # imported texts over their cap are cut with a warning, never refused
    return read_ahead(fmt, path, coverage) if worth_a_child(fmt, path) else fmt.read(path, coverage)


def _counted(batch: Batch, fmt: Format, coverage: Coverage) -> Batch:
    """The batch, its records counted as their own kind when they are native lines read unparsed."""
    if isinstance(fmt, NativeFormat) and fmt.lines(Path(coverage.file)) is not None:
        by_type = Counter(record.type for record, _ in [*batch.entities, *batch.relations])  # type: ignore[attr-defined]
        for type_name, times in by_type.items():  # kinds first met in the order their records come, as one by one
            coverage.as_is(type_name, times)
    return batch


def map_batches(path: str | Path, size: int, work: Callable[[Batch], T], format: str | None = None,
                workers: int | None = None) -> tuple[str, Iterator[T]]:
    """iter_batches's batches, each turned by `work` into what the caller keeps of it, in order; a native JSON Lines
    file of some size validated and turned in forked workers, one per core (loaders.workers: `work` runs there, so
    what it returns travels instead of the records; `workers` says how many instead, 0 for none). No coverage is
    counted."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput([Problem(str(path), 0, "(file)", "no such file")])
    fmt = choose(path, format)
    counted, label = _start(None, path, fmt), str(path)
    if not isinstance(fmt, NativeFormat) or fmt.lines(path) is None:
        workers = 0  # an imported format's reader holds state across records (loaders.readahead reads it apart)
    elif workers is None:
        workers = worker_count(path)
    if not workers:
        return fmt.name, (work(batch) for batch in _batches(label, _items(fmt, path, counted), size))
    return fmt.name, fan_out(lambda: _chunks(label, _items(fmt, path, counted), size),
                             lambda chunk: work(validate_stream(label, chunk)), workers)


def _batches(label: str, items: Iterable[Raw | Line | Problem], size: int) -> Iterator[Batch]:
    """Cut a format's stream into validated batches of `size` raw items (problems travel with their batch)."""
    return (validate_stream(label, chunk) for chunk in _chunks(label, items, size))


def _chunks(label: str, items: Iterable[Raw | Line | Problem], size: int) -> Iterator[list[Raw | Line | Problem]]:
    """Cut a format's stream into chunks of `size` raw items, the last one possibly empty (a reading error is an
    InvalidInput naming the file)."""
    chunk: list[Raw | Line | Problem] = []
    try:
        for item in items:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except OSError as exc:
        raise InvalidInput([Problem(label, 0, "(file)", f"cannot read it: {exc.strerror or exc}")]) from exc
    yield chunk


def validate_stream(label: str, items: Iterable[Raw | Line | Problem]) -> Batch:
    """Validate a format's stream into a batch (entities first) that carries every problem found, in order."""
    batch = Batch(label)
    for item in items:
        if isinstance(item, Problem):
            (batch.warnings if item.warning else batch.problems).append(item)
            continue
        origin, given = item
        record = _whole(given) if isinstance(given, bytes) else None
        if record is None:
            # Not a native line, or something is wrong with it: read it in Python, which says what.
            data = parse_line(origin.file, origin.line, given, batch.problems) if isinstance(given, bytes) else given
            if data is None:
                continue
            record = _validate_one(origin, data, batch.problems)
            if record is None:
                if isinstance(data.get("id"), str) and "source" not in data:
                    batch.failed_ids.add(data["id"])
                continue
        if isinstance(record, Entity):
            batch.entities.append((record, origin))
        else:
            batch.relations.append((record, origin))
    batch.problems.sort(key=lambda p: p.line)
    return batch


def validate_records(label: str, raw: Iterable[RawRecord]) -> tuple[Batch, list[Problem]]:
    """Validate (line, record) pairs into a batch, with every problem found."""
    batch = validate_stream(label, ((Origin(label, line), data) for line, data in raw))
    return batch, batch.problems


@cache
def _any_record() -> TypeAdapter[Entity | Relation]:
    """Every record model as one union told apart by `type`, validating JSON text without Python in between."""
    models = tuple(spec.model for spec in ENTITIES.values()) + tuple(spec.model for spec in RELATIONS.values())
    return TypeAdapter(Annotated[Union[models], Field(discriminator="type")])  # type: ignore[arg-type]


def _whole(raw: bytes) -> Entity | Relation | None:
    """A native line's record, its JSON parsed and validated in one call into pydantic-core (about a third
    less time than json.loads then the model); None when anything is wrong with the line (not JSON, a
    value refused, no known type), for the Python path to report it as it always has. Both paths refuse
    the same lines (tests/test_loaders_fast.py) and give equal records for the rest."""
    try:
        return _any_record().validate_json(raw)
    except ValidationError:
        return None


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
