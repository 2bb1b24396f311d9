"""Read input files into raw records with their line numbers: JSON Lines and CSV."""
from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schema.declaration import ENTITIES, RELATIONS
from schema.errors import Problem

RawRecord = tuple[int, dict[str, Any]]
OnBytes = Callable[[int], None] | None
# Fields that hold lists of strings; in CSV they are written `a;b;c`.
LIST_FIELDS = frozenset({"aliases", "data"})
# Fields that hold structures; in CSV their cell is JSON.
JSON_FIELDS = frozenset({"sources", "identifiers", "figures", "amounts", "revenue"})


def read_records(path: Path, on_bytes: OnBytes = None) -> tuple[list[RawRecord], list[Problem]]:
    """Raw records of a .jsonl/.ndjson/.json or .csv file, and the problems met reading it."""
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    return _read_jsonl(path, on_bytes)


def _read_jsonl(path: Path, on_bytes: OnBytes = None) -> tuple[list[RawRecord], list[Problem]]:
    """One JSON object per line; blank lines are skipped; progress is reported in bytes."""
    records: list[RawRecord] = []
    problems: list[Problem] = []
    pending = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            pending += len(raw)
            if on_bytes is not None and pending >= 1 << 20:
                on_bytes(pending)
                pending = 0
            data = _parse_line(str(path), number, raw, problems)
            if data is not None:
                records.append((number, data))
    if on_bytes is not None:
        on_bytes(pending)
    return records, problems


def _parse_line(file: str, number: int, raw: bytes, problems: list[Problem]) -> dict[str, Any] | None:
    """The JSON object on one line, or None (blank, or a problem recorded)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(file, number, "(line)", f"not UTF-8 at byte {exc.start}"))
        return None
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        problems.append(Problem(file, number, "(line)", f"not valid JSON: {exc.msg} at column {exc.colno}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(file, number, "(line)", "expected a JSON object"))
        return None
    return data


def _read_csv(path: Path) -> tuple[list[RawRecord], list[Problem]]:
    """One record per row; header = field names; `type` column or a file named after the type."""
    records: list[RawRecord] = []
    problems: list[Problem] = []
    default_type = _type_from_filename(path)
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            number = reader.line_num
            data = {k.strip(): v for k, v in row.items() if k is not None and v not in (None, "")}
            if None in row:
                problems.append(Problem(str(path), number, "(row)", "more cells than header fields"))
                continue
            data.setdefault("type", default_type)
            try:
                records.append((number, _cells(data)))
            except ValueError as exc:
                problems.append(Problem(str(path), number, str(exc.args[0]), str(exc.args[1])))
    return records, problems


def _cells(data: dict[str, Any]) -> dict[str, Any]:
    """Turn CSV cells into values: `;` lists and JSON structures."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in LIST_FIELDS:
            out[key] = [part.strip() for part in value.split(";") if part.strip()]
        elif key in JSON_FIELDS:
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(key, f"expected JSON in this cell: {exc.msg}") from None
        else:
            out[key] = value
    return out


def _type_from_filename(path: Path) -> str | None:
    """`OWNS.csv`, `owns.csv`, `companies.csv` name their type; None when the stem names none."""
    stem = path.stem.lower()
    names = [t.value for t in (*ENTITIES, *RELATIONS)]
    for name in names:
        if stem in (name.lower(), name.lower() + "s", name.lower().removesuffix("y") + "ies"):
            return name
    return None
