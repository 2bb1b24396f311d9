"""An imported text over its field's cap is cut at the cap with a warning naming file:line and field.

The caps (schema.values) stop abuse, not real data; a register or a sanctions list that writes a longer note
than corpgraph keeps is still loaded whole, its text cut where the cap is, never refused. Native files are
typed by the user and keep the strict rule (refused with the field and the limit). Only free text is cut:
ids, identifiers, URLs and dates are refused as before, since a cut one would name something else.

Example: an FtM Company whose `description` has 70,000 characters is loaded with its first 65,536 and the
warning `f.ftm.jsonl:3: warning: description: cut at 65,536 characters (it had 70,000)`.
"""
from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem
from corpgraph.schema.values import MAX_LABEL, MAX_NAME, MAX_TEXT, MAX_TITLE

from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.formats import Format, Raw

# Field -> cap in characters, for a text or each text of a list; the same table is read in nested records
# (sources, impacts, figures, amounts, revenue, addresses) and for the values of `as_given`.
FIELD_CAPS: dict[str, int] = {
    "name": MAX_NAME,
    "description": MAX_TEXT,
    "details": MAX_TEXT,
    "title": MAX_TITLE,
    **dict.fromkeys(("aliases", "publisher", "status", "kind", "role", "label", "unit", "how", "activity",
                     "service", "determination", "investigation_status", "incident_types", "information_type",
                     "loss_type", "topics", "data", "source_type", "unknown_reason", "as_given", "purpose",
                     "full", "street", "city", "postal_code", "region", "authority", "program", "regime"),
                    MAX_LABEL),
}
NESTED = frozenset({"sources", "impacts", "figures", "amounts", "revenue", "addresses"})


class CappedFormat:
    """A format whose records come with their texts cut at the caps, a warning for each cut."""

    def __init__(self, fmt: Format) -> None:
        self.fmt = fmt
        self.name = fmt.name

    def sniff(self, head: bytes, path: Path) -> bool:
        """As the wrapped format."""
        return self.fmt.sniff(head, path)

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """The wrapped format's stream, each record's over-long texts cut (the warnings before the record); the
        wrapped format counts its coverage (cutting a text changes no count)."""
        for item in self.fmt.read(path, coverage):
            if isinstance(item, Problem):
                yield item
                continue
            origin, record = item
            yield from cap_record(origin, record)
            yield item


def cap_record(origin: Origin, record: dict[str, Any], prefix: str = "") -> Iterator[Problem]:
    """Cut every over-long text of `record` in place; a warning for each (field named with its path)."""
    for key, value in record.items():
        if key in NESTED:
            for index, part in _parts(value):
                yield from cap_record(origin, part, f"{prefix}{key}{index}.")
        elif key == "as_given" and isinstance(value, dict):
            for name, text in value.items():
                value[name] = yield from _cut(origin, f"{prefix}as_given.{name}", text, MAX_LABEL)
        elif key in FIELD_CAPS and isinstance(value, list):
            for position, text in enumerate(value):
                value[position] = yield from _cut(origin, f"{prefix}{key}.{position}", text, FIELD_CAPS[key])
        elif key in FIELD_CAPS:
            record[key] = yield from _cut(origin, prefix + key, value, FIELD_CAPS[key])


def _parts(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """The nested records of a field (one dict, or a list of them), with the path part naming each."""
    if isinstance(value, dict):
        return [("", value)]
    if isinstance(value, list):
        return [(f".{i}", part) for i, part in enumerate(value) if isinstance(part, dict)]
    return []


def _cut(origin: Origin, field: str, value: Any, cap: int) -> Generator[Problem, None, Any]:
    """Yield a warning and return the text cut at `cap` when it is longer (spaces at its ends do not count)."""
    if not isinstance(value, str) or len(value) <= cap or len(value.strip()) <= cap:
        return value
    yield origin.problem(field, f"cut at {cap:,} characters (it had {len(value.strip()):,})", warning=True)
    return value.strip()[:cap]
