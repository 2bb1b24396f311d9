"""Read input files into raw records with their line numbers: JSON Lines and CSV."""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from corpgraph.schema.declaration import ENTITIES, RELATIONS
from corpgraph.schema.errors import Problem

from corpgraph.loaders.jsontext import JsonTextError, loads
from corpgraph.loaders.lines import bounded_lines, too_long

RawRecord = tuple[int, dict[str, Any]]
OnBytes = Callable[[int], None] | None
# Fields that hold lists of strings; in CSV they are written `a;b;c`.
LIST_FIELDS = frozenset({"aliases", "data"})
# Fields that hold structures; in CSV their cell is JSON.
JSON_FIELDS = frozenset({"sources", "identifiers", "figures", "amounts", "revenue"})
# Python's csv module refuses longer cells (csv.field_size_limit()); no field of a record is allowed that long.
MAX_CELL = 131_072
CELL_TOO_LONG = f"a cell is longer than {MAX_CELL:,} characters; no field takes that much (see the limits in the README)"
# CSV file names that name their record type, besides the type's own name in any case (`OWNS.csv`) and a
# regular plural (`companies.csv`, `incidents.csv`).
FILE_NAMES: dict[str, tuple[str, ...]] = {
    "Person": ("people", "persons"),
    "Organization": ("organisation", "organisations"),
    "OWNS": ("ownership", "ownerships"),
}


class _Stop(Exception):
    """Reading a file cannot go on (bytes that are not UTF-8, a cell over the limit); the problem is recorded."""


def read_records(path: Path, on_bytes: OnBytes = None) -> tuple[list[RawRecord], list[Problem]]:
    """Raw records of a .jsonl/.ndjson/.json or .csv file, and the problems met reading it."""
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    return _read_jsonl(path, on_bytes)


def _read_jsonl(path: Path, on_bytes: OnBytes = None) -> tuple[list[RawRecord], list[Problem]]:
    """One JSON object per line, all of them (see iter_jsonl)."""
    records: list[RawRecord] = []
    problems: list[Problem] = []
    for item in iter_jsonl(path, on_bytes):
        if isinstance(item, Problem):
            problems.append(item)
        else:
            records.append(item)
    return records, problems


def iter_jsonl(path: Path, on_bytes: OnBytes = None) -> Iterator[RawRecord | Problem]:
    """One JSON object per line, streamed in file order; blank lines are skipped; progress is reported in bytes."""
    problems: list[Problem] = []
    pending = 0
    with path.open("rb") as handle:
        for number, raw in bounded_lines(handle):
            if raw is None:
                yield Problem(str(path), number, "(line)", too_long())
                continue
            pending += len(raw)
            if on_bytes is not None and pending >= 1 << 20:
                on_bytes(pending)
                pending = 0
            data = parse_line(str(path), number, raw, problems)
            if problems:
                yield from problems
                problems.clear()
            if data is not None:
                yield number, data
    if on_bytes is not None:
        on_bytes(pending)


def iter_jsonl_lines(path: Path) -> Iterator[tuple[int, bytes] | Problem]:
    """Every line of a JSON Lines file, unparsed, with its number (loaders.validate reads them whole in Rust); a
    line over the cap is a Problem."""
    with path.open("rb") as handle:
        for number, raw in bounded_lines(handle):
            yield (number, raw) if raw is not None else Problem(str(path), number, "(line)", too_long())


def parse_line(file: str, number: int, raw: bytes, problems: list[Problem]) -> dict[str, Any] | None:
    """The JSON object on one line, or None (blank, or a problem recorded)."""
    try:
        line = _decode(raw, number)
    except UnicodeDecodeError as exc:
        problems.append(Problem(file, number, "(line)", _not_utf8(exc)))
        return None
    if not line.strip():
        return None
    try:
        data = loads(line)
    except JsonTextError as exc:
        problems.append(Problem(file, number, "(line)", str(exc)))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(file, number, "(line)", "expected a JSON object"))
        return None
    return data


def _decode(raw: bytes, number: int) -> str:
    """A line as text; a byte-order mark at the start of the file is dropped (editors on Windows write one)."""
    line = raw.decode("utf-8")
    return line.removeprefix("\ufeff") if number == 1 else line


def _not_utf8(exc: UnicodeDecodeError) -> str:
    """The reason for a line that is not UTF-8, with the byte (counted from 1 in the line) where it fails."""
    return f"not UTF-8 at byte {exc.start + 1} of the line; save the file as UTF-8"


def _read_csv(path: Path) -> tuple[list[RawRecord], list[Problem]]:
    """One record per row; header = field names; `type` column or a file named after the type."""
    records: list[RawRecord] = []
    problems: list[Problem] = []
    file, default_type = str(path), _type_from_filename(path)
    with path.open("rb") as handle:
        delimiter = _delimiter(handle.readline())
        handle.seek(0)
        reader = csv.reader(_text_lines(file, handle, problems), delimiter=delimiter)
        try:
            header = _header(file, path, next(reader, None), problems, delimiter)
            while header is not None:
                row = next(reader, None)
                if row is None:
                    break
                _add_row(file, reader.line_num, header, row, default_type, records, problems)
        except csv.Error as exc:
            problems.append(Problem(file, reader.line_num, "(row)", _csv_reason(exc)))
        except _Stop:
            pass
    return records, problems


def _text_lines(file: str, handle: BinaryIO, problems: list[Problem]) -> Iterator[str]:
    """The file's lines as text for the csv reader; bytes that are not UTF-8 stop it with a problem."""
    for number, raw in bounded_lines(handle):
        if raw is None:  # the csv reader cannot resume mid-record: stop here
            problems.append(Problem(file, number, "(line)", too_long()))
            raise _Stop
        try:
            yield _decode(raw, number)
        except UnicodeDecodeError as exc:
            problems.append(Problem(file, number, "(line)", _not_utf8(exc)))
            raise _Stop from None


def _delimiter(header: bytes) -> str:
    """The delimiter of a CSV file, told from its header line: the most frequent of `,` `;` and tab (`,` when
    none or a tie). Field names hold none of them, so the header says it unambiguously (Excel in many locales
    writes `;`, spreadsheets export tab-separated text)."""
    counts = {d: header.count(d.encode()) for d in _DELIMITERS}
    return max(_DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals: `,` wins ties


def _header(file: str, path: Path, header: list[str] | None, problems: list[Problem],
            delimiter: str = ",") -> list[str] | None:
    """The field names of the header row, or None with a problem (no header, a name twice, another delimiter, no type)."""
    if header is None:
        return None
    names = [name.strip() for name in header]
    for name in names:
        other = next((c for c in _OTHER_DELIMITERS if c in name), None)
        if other is not None:
            problems.append(Problem(file, 1, name, f"the header field holds {other!r}: read as {_NAMES[delimiter]}-"
                                                   f"separated; corpgraph reads CSV separated by a comma, a semicolon "
                                                   "or a tab, the same in every row"))
            return None
    seen: dict[str, int] = {}
    for column, name in enumerate(names, start=1):
        if name in seen:
            problems.append(Problem(file, 1, name or "(header)", f"the header names this field twice (columns "
                                                                 f"{seen[name]} and {column}); keep one"))
        seen.setdefault(name, column)
    if "type" not in seen and _type_from_filename(path) is None:
        problems.append(Problem(file, 1, "type", f"{path.name!r} does not name a record type and there is no type "
                                                 f"column: name the file {accepted_file_names()}, or add a type "
                                                 "column"))
    return None if problems else names


def _add_row(file: str, line: int, header: list[str], row: list[str], default_type: str | None,
             records: list[RawRecord], problems: list[Problem]) -> None:
    """Turn one CSV row into a raw record (or a problem)."""
    if len(row) > len(header):
        problems.append(Problem(file, line, "(row)", "more cells than header fields"))
        return
    if any(len(cell) > MAX_CELL for cell in row):
        # Checked here too: csv's own limit is process-wide, and a library may raise it (followthemoney sets 30 MiB).
        problems.append(Problem(file, line, "(row)", CELL_TOO_LONG))
        return
    data: dict[str, Any] = {k: v for k, v in zip(header, row) if v != ""}
    if not data:
        return  # a blank line
    data.setdefault("type", default_type)
    try:
        records.append((line, _cells(data)))
    except ValueError as exc:
        problems.append(Problem(file, line, str(exc.args[0]), str(exc.args[1])))


_DELIMITERS = (",", ";", "\t")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_OTHER_DELIMITERS = (",", ";", "\t", "|")  # in a field name: the file is separated by something else


def _csv_reason(exc: csv.Error) -> str:
    """What a csv.Error means for the user."""
    if "field larger than field limit" in str(exc):
        return CELL_TOO_LONG
    return f"not valid CSV: {exc}"


def _cells(data: dict[str, Any]) -> dict[str, Any]:
    """Turn CSV cells into values: `;` lists and JSON structures."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in LIST_FIELDS:
            out[key] = [part.strip() for part in value.split(";") if part.strip()]
        elif key in JSON_FIELDS:
            try:
                out[key] = loads(value)
            except JsonTextError as exc:
                raise ValueError(key, f"expected JSON in this cell: {exc}") from None
        else:
            out[key] = value
    return out


def _file_names() -> dict[str, str]:
    """Every accepted CSV file stem (lower case) with the record type it names."""
    names: dict[str, str] = {}
    for kind in ENTITIES:
        stem = kind.value.lower()
        plural = stem[:-1] + "ies" if stem.endswith("y") else stem + "s"
        names.update({stem: kind.value, plural: kind.value})
    for rel in RELATIONS:
        names[rel.value.lower()] = rel.value
    for type_name, stems in FILE_NAMES.items():
        names.update(dict.fromkeys(stems, type_name))
    return names


def accepted_file_names() -> str:
    """The accepted CSV file names, for messages: `company.csv, companies.csv, ...`."""
    return "one of " + ", ".join(f"{stem}.csv" for stem in _file_names())


def _type_from_filename(path: Path) -> str | None:
    """`OWNS.csv`, `ownership.csv`, `people.csv`, `companies.csv` name their type; None when the stem names none."""
    return _file_names().get(path.stem.lower())
