"""Bulk import into an empty Neo4j database: Neo4j's import tool fed with CSV files of validated records.

`corpgraph db import` reads its files through the same readers and checks as `corpgraph load` (against an
empty database: every reference must be in the files), then writes one CSV file per entity label and per
relationship type with exactly the properties the transactional path stores (neo4j._entity_row, edge_row
and the document), plus the revision node and one change-log entry (revision 1, bulk), and runs (or prints)
`neo4j-admin database import full`. The database must not exist or be empty, and the server stopped; once it
runs again, `corpgraph db init` creates the constraints and indexes over what was imported.

CSV details the import tool needs: node ids in the id space `Entity`; list properties joined by U+001F
(never in a search key, identifier key or topic); `search` and `idsearch` hold newlines (the keys are stored
as "\\nkey\\n..."), so the node files are declared multi-line; an empty cell is no property, as a null is
in the transactional path.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Batch
from corpgraph.schema.declaration import ANALYTIC_FIELDS, RELATIONS, entity_type
from corpgraph.schema.errors import Problem
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Entity

from corpgraph.graph.write.ingest import batch_problems
from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.base import ChangeKind, EdgeRow, batch_rows, edge_row
from corpgraph.graph.stores.codec import encode

ARRAY_DELIMITER = "\x1f"
_NODE_FIELDS = ("id", "type", "name", "keys", "topics", "search", "idkeys", "idsearch", "doc")
_NODE_HEADER = ["id:ID(Entity)", "type", "name", "keys:string[]", "topics:string[]", "search", "idkeys:string[]",
                "idsearch", "doc"]


def _column(name: str) -> str:
    """A relationship property's header cell with the import tool's type, read from the record models (a share
    is a double, a flag a boolean, dates and text strings), as the transactional path stores them."""
    annotations = {str(spec.model.model_fields[name].annotation) for spec in RELATIONS.values()
                   if name in spec.model.model_fields}
    if any("float" in text for text in annotations):
        return f"{name}:double"
    return f"{name}:boolean" if any("bool" in text for text in annotations) else name


_REL_HEADER = [":START_ID(Entity)", ":END_ID(Entity)", "id", *map(_column, ANALYTIC_FIELDS), "doc"]


class EmptyDatabase:
    """The store an import goes into, as the checks read it: nothing stored."""

    def edges_into(self, ids: Iterable[str], types: Iterable[RelationType]) -> list[EdgeRow]:
        """No stored relations."""
        return []

    def get_entities(self, ids: Iterable[str]) -> dict[str, Entity]:
        """No stored entities."""
        return {}

    def ids_with_identifier(self, key: str) -> list[str]:
        """No stored identifiers."""
        return []


def import_problems(batch: Batch) -> tuple[int, list[Problem]]:
    """Every problem of the files joined in `batch` as a load into an empty database would report them, and
    how many placeholders were made (graph.ingest.batch_problems with nothing stored)."""
    return batch_problems(lambda ids: {}, EmptyDatabase(), batch)


@dataclass
class ImportFiles:
    """The CSV files written for one import, with what the import tool needs to know of them."""

    folder: Path
    nodes: list[tuple[str, Path]] = field(default_factory=list)  # labels ("Entity:Company") and file
    relationships: list[tuple[str, Path]] = field(default_factory=list)  # type and file
    entities: int = 0
    relations: int = 0

    def command(self, admin: str, database: str) -> list[str]:
        """The `neo4j-admin database import full` command line for these files."""
        multiline = [str(path) for labels, path in self.nodes if labels.startswith(cypher.ENTITY_LABEL)]
        # The database first: --nodes and --relationships take several files, and would take it for one.
        return [admin, "database", "import", "full", database, "--id-type=string", "--array-delimiter=U+001F",
                "--multiline-fields-format=v2", f"--multiline-fields={','.join(multiline)}",
                *(f"--nodes={labels}={path}" for labels, path in self.nodes),
                *(f"--relationships={kind}={path}" for kind, path in self.relationships),
                f"--report-file={self.folder / 'import.report'}"]  # beside the CSV files, not in the caller's folder


def write_import_files(batch: Batch, folder: Path) -> ImportFiles:
    """Write the batch (checked: import_problems found none) as the import tool's CSV files into `folder`."""
    from corpgraph.graph.stores.neo4j import _entity_row

    folder.mkdir(parents=True, exist_ok=True)
    out = ImportFiles(folder)
    ents, rels = batch_rows(batch)
    by_label: dict[EntityType, list[Entity]] = defaultdict(list)
    for record in ents.values():
        by_label[entity_type(record)].append(record)
    for label, records in sorted(by_label.items()):
        path = folder / f"nodes-{label.value}.csv"
        _write(path, _NODE_HEADER, ([_cell(row[name]) for name in _NODE_FIELDS] for row in map(_entity_row, records)))
        out.nodes.append((f"{cypher.ENTITY_LABEL}:{label.value}", path))
    out.entities = len(ents)
    by_type: dict[RelationType, list[list[Any]]] = defaultdict(list)
    for rel_id, relation in rels.items():
        row = edge_row(rel_id, relation)
        by_type[RelationType(row["type"])].append(
            [row["source"], row["target"], rel_id, *(_cell(row[name]) for name in ANALYTIC_FIELDS), encode(relation)])
    for kind, rows in sorted(by_type.items()):
        path = folder / f"relationships-{kind.value}.csv"
        _write(path, _REL_HEADER, rows)
        out.relationships.append((kind.value, path))
    out.relations = len(rels)
    meta = folder / "meta.csv"
    _write(meta, ["id:ID(Meta)", "value:long"], [[cypher.REVISION_KEY, 1]])
    changes = folder / "changes.csv"
    _write(changes, ["revision:long", "kind"], [[1, ChangeKind.BULK.value]])
    out.nodes += [(cypher.META_LABEL, meta), (cypher.CHANGE_LABEL, changes)]
    return out


def _cell(value: Any) -> Any:
    """A property as a CSV cell: lists joined by the array delimiter, None as an empty cell (no property)."""
    if isinstance(value, list):
        return ARRAY_DELIMITER.join(value) if value else None
    return value


def _write(path: Path, header: list[str], rows: Iterable[list[Any]]) -> None:
    """One CSV file, header first, RFC 4180 quoting (a quote doubled), UTF-8."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
