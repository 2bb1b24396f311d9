"""Bulk import into an empty Neo4j database: Neo4j's import tool fed with CSV files of validated records.

`corpgraph db import` loads its files, as one stream, into a staging embedded store in the import's folder
through the same streamed path and checks as `corpgraph load` (graph.stores.sqlite_stream: batches, whole-file
checks in TEMP tables, so memory stays bounded whatever the size; every reference must be in the files, the
staging store starting empty). It then pages the stored rows out into one CSV file per entity label and per
relationship type with exactly the properties the transactional path stores (neo4j._entity_row, edge_row and
the document), plus the revision node and one change-log entry (revision 1, bulk), deletes the staging store,
and runs (or prints) `neo4j-admin database import full`. The database must not exist or be empty, and the
server stopped; once it runs again, `corpgraph db init` creates the constraints and indexes over what was imported.

CSV details the import tool needs: node ids in the id space `Entity`; list properties joined by U+001F
(never in a search key, identifier key or topic); `search` and `idsearch` hold newlines (the keys are stored
as "\\nkey\\n..."), so the node files are declared multi-line; an empty cell is no property, as a null is
in the transactional path.
"""
from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from corpgraph.schema.batch import Batch, LoadPhase, WriteSummary
from corpgraph.schema.declaration import ANALYTIC_FIELDS, RELATIONS
from corpgraph.schema.kinds import EntityType, RelationType

from corpgraph.graph.write.ingest import ingest_stream
from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.base import ChangeKind, GraphStore, edge_row
from corpgraph.graph.stores.codec import decode_entity, decode_relation, encode
from corpgraph.graph.stores.sqlite import SqliteStore

ARRAY_DELIMITER = "\x1f"
_NODE_FIELDS = ("id", "type", "name", "topics", "search", "idkeys", "idsearch", "doc")
_NODE_HEADER = ["id:ID(Entity)", "type", "name", "topics:string[]", "search", "idkeys:string[]",
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


STAGING = "staging.db"  # the staging embedded store's file in the import's folder
_PAGE = 10_000  # stored rows read at a time while writing the CSV files


@contextmanager
def staging_store(folder: Path) -> Iterator[SqliteStore]:
    """An empty embedded store in `folder` for the import's checks, deleted when the block ends; the folder
    too when the block fails and the folder was made for it (a refused import leaves nothing behind)."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{STAGING}*"):  # an import killed earlier: its staging store is not this one's
        stale.unlink()
    store = SqliteStore(folder / STAGING)
    done = False
    try:
        yield store
        done = True
    finally:
        store.close()
        for path in folder.glob(f"{STAGING}*"):  # the database, its WAL and shared-memory files
            path.unlink()
        if made and not done:
            shutil.rmtree(folder, ignore_errors=True)


def stage(store: SqliteStore, batches: Iterable[Batch], on_batch: Callable[[Batch], None] | None = None,
          on_phase: Callable[[LoadPhase], None] | None = None) -> WriteSummary:
    """Load every file's batches, as one stream, into the staging store with `corpgraph load`'s checks;
    InvalidInput with every problem, and nothing staged, when there are any."""
    return ingest_stream(store, "import", batches, on_batch, on_phase)


def import_files(batches: Iterable[Batch], folder: Path) -> ImportFiles:
    """Check the batches in a staging store in `folder` and write them as the import tool's CSV files there;
    InvalidInput with every problem, and no file written, when there are any."""
    with staging_store(folder) as staging:
        return write_import_files(staging, folder, stage(staging, batches).placeholders)


@dataclass
class ImportFiles:
    """The CSV files written for one import, with what the import tool needs to know of them."""

    folder: Path
    nodes: list[tuple[str, Path]] = field(default_factory=list)  # labels ("Entity:Company") and file
    relationships: list[tuple[str, Path]] = field(default_factory=list)  # type and file
    entities: int = 0
    relations: int = 0
    placeholders: int = 0

    def command(self, admin: str, database: str) -> list[str]:
        """The `neo4j-admin database import full` command line for these files."""
        multiline = [str(path) for labels, path in self.nodes if labels.startswith(cypher.ENTITY_LABEL)]
        # The database first: --nodes and --relationships take several files, and would take it for one.
        return [admin, "database", "import", "full", database, "--id-type=string", "--array-delimiter=U+001F",
                "--multiline-fields-format=v2", f"--multiline-fields={','.join(multiline)}",
                *(f"--nodes={labels}={path}" for labels, path in self.nodes),
                *(f"--relationships={kind}={path}" for kind, path in self.relationships),
                f"--report-file={self.folder / 'import.report'}"]  # beside the CSV files, not in the caller's folder


def write_import_files(store: GraphStore, folder: Path, placeholders: int = 0) -> ImportFiles:
    """Write what `store` holds (the staging store, checked) as the import tool's CSV files into `folder`,
    paging the stored rows so that no more than a page is held at a time."""
    from corpgraph.graph.stores.neo4j import _entity_row

    folder.mkdir(parents=True, exist_ok=True)
    out = ImportFiles(folder, placeholders=placeholders)
    with ExitStack() as files:
        nodes = _Writers(files, folder, "nodes", _NODE_HEADER)
        for raw in _paged(store.raw_entities):
            row = _entity_row(decode_entity(str(raw.type), str(raw.doc), raw.id))
            nodes.row(EntityType(raw.type).value, [_cell(row[name]) for name in _NODE_FIELDS])
            out.entities += 1
        relationships = _Writers(files, folder, "relationships", _REL_HEADER)
        for raw in _paged(store.raw_relations):
            relation = decode_relation(raw.type, str(raw.doc), raw.id)
            row = edge_row(raw.id, relation)
            relationships.row(RelationType(row["type"]).value, [
                row["source"], row["target"], raw.id, *(_cell(row[name]) for name in ANALYTIC_FIELDS),
                encode(relation)])
            out.relations += 1
    out.nodes = [(f"{cypher.ENTITY_LABEL}:{label}", path) for label, path in sorted(nodes.paths.items())]
    out.relationships = sorted(relationships.paths.items())
    meta = folder / "meta.csv"
    _write(meta, ["id:ID(Meta)", "value:long"], [[cypher.REVISION_KEY, 1]])
    changes = folder / "changes.csv"
    _write(changes, ["revision:long", "kind"], [[1, ChangeKind.BULK.value]])
    out.nodes += [(cypher.META_LABEL, meta), (cypher.CHANGE_LABEL, changes)]
    return out


def _paged(read: Callable[[str, int], list[Any]]) -> Iterator[Any]:
    """Every stored row a paged reader (raw_entities, raw_relations) gives, in id order, a page at a time."""
    after = ""
    while page := read(after, _PAGE):
        yield from page
        after = page[-1].id


class _Writers:
    """One CSV file per label or type, `{prefix}-{name}.csv`, opened at its first row."""

    def __init__(self, files: ExitStack, folder: Path, prefix: str, header: list[str]) -> None:
        self._files, self._folder, self._prefix, self._header = files, folder, prefix, header
        self._writers: dict[str, Any] = {}
        self.paths: dict[str, Path] = {}

    def row(self, name: str, cells: list[Any]) -> None:
        """Append one row to the file of `name`."""
        writer = self._writers.get(name)
        if writer is None:
            path = self._folder / f"{self._prefix}-{name}.csv"
            writer = self._writers[name] = _writer(self._files.enter_context(_open(path)))
            writer.writerow(self._header)
            self.paths[name] = path
        writer.writerow(cells)


def _cell(value: Any) -> Any:
    """A property as a CSV cell: lists joined by the array delimiter, None as an empty cell (no property)."""
    if isinstance(value, list):
        return ARRAY_DELIMITER.join(value) if value else None
    return value


def _open(path: Path) -> IO[str]:
    """A CSV file to write: UTF-8, no newline translation (the csv module writes its own line ends)."""
    return path.open("w", encoding="utf-8", newline="")


def _writer(handle: IO[str]) -> Any:
    """RFC 4180 quoting (a quote doubled), "\\n" line ends."""
    return csv.writer(handle, lineterminator="\n")


def _write(path: Path, header: list[str], rows: Iterable[list[Any]]) -> None:
    """One small CSV file, header first."""
    with _open(path) as handle:
        writer = _writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
