"""Read a portfolio of counterparties to screen: CSV (header name,country,identifiers,id) or JSON Lines.

Every problem is reported as `file:line: field: reason` and nothing is screened when there is one (all or
nothing, as loads are). In CSV, `identifiers` holds `SCHEME:ID` texts separated by `;` (or JSON).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from corpgraph.schema.counterparty import Counterparty
from corpgraph.schema.errors import InvalidInput, Problem

from corpgraph.loaders.jsontext import JsonTextError, loads
from corpgraph.loaders.readers import iter_jsonl

FIELDS = tuple(Counterparty.model_fields)


def read_counterparties(path: Path) -> list[tuple[int, Counterparty]]:
    """The counterparties of a CSV or JSON Lines file with their line numbers; InvalidInput lists every problem."""
    if not path.is_file():
        raise InvalidInput([Problem(str(path), 0, "(file)", "no such file")])
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else iter_jsonl(path)
    found: list[tuple[int, Counterparty]] = []
    problems: list[Problem] = []
    for item in rows:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        line, data = item
        try:
            found.append((line, Counterparty.model_validate(data)))
        except ValidationError as exc:
            problems.extend(Problem(str(path), line, ".".join(str(p) for p in e["loc"]) or "(row)", e["msg"])
                            for e in exc.errors())
    if problems:
        raise InvalidInput(problems)
    return found


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]] | Problem]:
    """Rows of a CSV file with a header, as dicts of their non-empty cells."""
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Problem(file, _line_of(path.read_bytes(), exc.start), "(line)", "not UTF-8; save the file as UTF-8")
        return
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    unknown = [name for name in header if name not in FIELDS]
    if unknown or "name" not in header:
        yield Problem(file, 1, "(header)", f"expected the columns {', '.join(FIELDS)} (name required), got "
                                           f"{', '.join(header) or 'none'}")
        return
    try:
        for row in reader:
            data = {k: v for k, v in zip(header, row) if v.strip()}
            if data:
                yield reader.line_num, _cells(data)
    except csv.Error as exc:
        yield Problem(file, reader.line_num, "(row)", f"not valid CSV: {exc}")


def _cells(data: dict[str, Any]) -> dict[str, Any]:
    """An `identifiers` cell holding JSON is read as JSON; `SCHEME:ID;...` is left to the model."""
    cell = data.get("identifiers", "")
    if cell.lstrip().startswith(("[", "{")):
        try:
            data["identifiers"] = loads(cell)
        except JsonTextError:
            pass  # the model then says what it expected
    return data


def _line_of(raw: bytes, at: int) -> int:
    """The line number (from 1) of a byte offset."""
    return raw.count(b"\n", 0, at) + 1
