"""Bulk import into an empty Neo4j database: Neo4j's import tool fed with CSV files of validated records.

`corpgraph db import` checks its files, as one stream of batches, with the same readers as `corpgraph load` and
the problems its streamed load (graph.stores.sqlite_stream.StreamCheck) reports into an empty database, word for
word (every reference must be in the files), run once at the end over numpy arrays of what those checks read
(graph.stores.bulk_staging: hashed ids, types, lines, shares, identifier keys; a few dozen bytes a record, no
documents, no search keys). Each batch's records are written at once into one CSV file per entity label and per
relationship type, with exactly the properties the transactional path stores (neo4j._entity_row, edge_values and the
document); the last record of an id wins (a replaced row is dropped from its file once all are read), plus the
revision node and one change-log entry (revision 1, bulk). With any problem the CSV files are deleted (nothing is imported);
otherwise it runs (or prints) `neo4j-admin database import full`. The database must not exist or be empty, and
the server stopped; once it runs again, `corpgraph db init` creates the constraints and indexes over what was
imported.

CSV details the import tool needs: node ids in the id space `Entity`; list properties joined by U+001F
(never in a search key, identifier key or topic); `search` and `idsearch` hold newlines (the keys are stored
as "\\nkey\\n..."), so the node files are declared multi-line; an empty cell is no property, as a null is
in the transactional path.
"""
from __future__ import annotations

import csv
import shutil
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from corpgraph.schema.batch import Batch
from corpgraph.schema.declaration import ANALYTIC_FIELDS, RELATIONS, relation_id
from corpgraph.schema.errors import Problem

from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.base import ChangeKind, edge_values, refuse_problems
from corpgraph.graph.stores.bulk_columns import Columns, Gathered, document_hashes
from corpgraph.graph.stores.bulk_staging import BulkChecks
from corpgraph.graph.stores.codec import encode
from corpgraph.graph.stores.id_hashes import ENTITY_KINDS, RELATION_KINDS
# at the top, not where prepare runs: the forked workers inherit it (imported in each, the Neo4j driver's modules
# cost a worker about a second of CPU)
from corpgraph.graph.stores.neo4j import _entity_row
from corpgraph.graph.stores.sqlite_prepare import native_owns  # the share check's one test of a native OWNS

ARRAY_DELIMITER = "\x1f"
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


STAGING = "staging.spill"  # the import's scratch file (graph.stores.bulk_staging's spill) in its folder


def import_files(batches: Iterable[Batch | Prepared], folder: Path) -> ImportFiles:
    """Check the batches (every file's, as one stream) with `corpgraph load`'s checks and write them as the import
    tool's CSV files in `folder` as they come; InvalidInput with every problem, and no file left, when there are
    any (the folder too when it was made for the import)."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{STAGING}*"):  # an import killed earlier: its scratch file is not this one's
        old.unlink()
    checks = BulkChecks(folder / STAGING)
    out = ImportFiles(folder)
    files = ExitStack()
    nodes = _Writers(files, folder, "nodes", _NODE_HEADER)
    relationships = _Writers(files, folder, "relationships", _REL_HEADER)
    done = False
    try:
        with files:
            for batch in batches:
                _take(checks, batch, nodes, relationships)
            problems, out.placeholders, stale = checks.finish()
            refuse_problems(problems)
        for name, path in [*nodes.paths.items(), *relationships.paths.items()]:
            if stale.get(name):
                _drop_rows(path, stale[name])
        out.entities = nodes.rows - sum(len(stale.get(name, ())) for name in nodes.paths)
        out.relations = relationships.rows - sum(len(stale.get(name, ())) for name in relationships.paths)
        done = True
    finally:
        checks.close()
        for path in folder.glob(f"{STAGING}*"):  # the scratch file, always
            path.unlink()
        if not done:  # a refused import leaves no CSV file, nor the folder it made
            for path in [*nodes.paths.values(), *relationships.paths.values()]:
                path.unlink(missing_ok=True)
            if made:
                shutil.rmtree(folder, ignore_errors=True)
    out.nodes = [(f"{cypher.ENTITY_LABEL}:{label}", path) for label, path in sorted(nodes.paths.items())]
    out.relationships = sorted(relationships.paths.items())
    meta = folder / "meta.csv"
    _write(meta, ["id:ID(Meta)", "value:long"], [[cypher.REVISION_KEY, 1]])
    changes = folder / "changes.csv"
    _write(changes, ["revision:long", "kind"], [[1, ChangeKind.BULK.value]])
    out.nodes += [(cypher.META_LABEL, meta), (cypher.CHANGE_LABEL, changes)]
    return out


@dataclass
class Prepared:
    """What the import keeps of one validated batch (`prepare`): its CSV rows as one text per file with their count,
    and the arrays the checks read (graph.stores.bulk_columns.Columns); they travel from a worker process
    (loaders.workers), never the pydantic records."""

    nodes: dict[str, tuple[str, int]]  # entity type -> its rows' CSV text, how many
    relationships: dict[str, tuple[str, int]]  # relation type -> the same
    columns: Columns
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    failed_ids: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        """The batch's label (its file)."""
        return self.columns.label

    @label.setter
    def label(self, value: str) -> None:
        self.columns.label = value


def prepare(batch: Batch) -> Prepared:
    """What each record of a validated batch needs alone (its CSV row with exactly the properties the transactional
    path stores: neo4j._entity_row, edge_values and the document; what the checks read of it), before the checks
    that read the files so far."""
    rows: list[str] = []
    writer = _writer(_Collect(rows))  # one string per row (the csv module writes each row in one call)
    gathered = Gathered(batch.label)
    nodes: dict[str, list[str]] = {}
    for rec, origin in batch.entities:
        row = _entity_row(rec)
        texts = nodes.setdefault(rec.type, [])  # type: ignore[attr-defined]
        gathered.entity(rec.id, rec.type, rec.placeholder, row["idkeys"], len(texts), origin)  # type: ignore[attr-defined]
        # in _NODE_HEADER's order, the document last; only topics and idkeys are lists
        texts.append(_row(writer, rows, [row["id"], row["type"], row["name"], _cell(row["topics"]), row["search"],
                                         _cell(row["idkeys"]), row["idsearch"]], row["doc"]))
    relationships: dict[str, list[str]] = {}
    for relation, origin in batch.relations:
        rel_id = relation_id(relation)
        values, doc = edge_values(rel_id, relation), encode(relation)
        texts = relationships.setdefault(values[1], [])
        fields = vars(relation)
        # hash(): the workers are forks of the importing process, so a document hashes alike in all of them
        gathered.relation(values, (fields.get("valid_from"), fields.get("valid_to")), len(texts),
                          document_hashes(doc), native_owns(relation), origin)
        # values: id, type, source, target, then the analytic fields (never lists: no _cell needed)
        texts.append(_row(writer, rows, [values[2], values[3], rel_id, *values[4:]], doc))
    return Prepared({kind: ("".join(texts), len(texts)) for kind, texts in nodes.items()},
                    {kind: ("".join(texts), len(texts)) for kind, texts in relationships.items()},
                    gathered.columns(), batch.problems, batch.warnings, batch.failed_ids)


def _row(writer: Any, rows: list[str], cells: list[Any], doc: str) -> str:
    """One CSV row of `cells` then the document, as the writer would write them all: a document (JSON, so it holds
    quotes) is quoted with its quotes doubled by str.replace, about twice as fast as the writer's loop over each of
    its characters (the rows' largest cost once validated, py-spy of a worker)."""
    if '"' not in doc:  # never for a record's JSON; the writer then says how the cell is written
        writer.writerow([*cells, doc])
        return rows.pop()
    writer.writerow(cells)
    return rows.pop()[:-1] + ',"' + doc.replace('"', '""') + '"\n'


def _take(checks: BulkChecks, prepared: Batch | Prepared, nodes: _Writers, relationships: _Writers) -> None:
    """Write one batch's CSV rows (every record's: those a later record of its id replaces are dropped at the end)
    and keep what the checks read of it, with each record's row number in its file."""
    if isinstance(prepared, Batch):
        prepared = prepare(prepared)
    cols = prepared.columns
    ent_rows = _first_rows(nodes, prepared.nodes, ENTITY_KINDS)[cols.ent_type] + cols.ent_local
    rel_rows = _first_rows(relationships, prepared.relationships, RELATION_KINDS)[cols.rel_type] + cols.rel_local
    checks.take(cols, prepared.problems, prepared.failed_ids, ent_rows, rel_rows)


def _first_rows(writers: _Writers, blocks: dict[str, tuple[str, int]], kinds: list[Any]) -> Any:
    """Write each file's block of rows; the number of its first row, by type code."""
    first = np.zeros(len(kinds), np.int64)
    codes = {kind.value: code for code, kind in enumerate(kinds)}
    for name, (text, count) in blocks.items():
        first[codes[name]] = writers.block(name, text, count)
    return first


class _Collect:
    """A file-like sink that keeps each write (a csv writer's row) as one string of a list."""

    def __init__(self, into: list[str]) -> None:
        self.write = into.append


def _drop_rows(path: Path, rows: set[int]) -> None:
    """Rewrite a CSV file without the data rows numbered in `rows` (0 is the first after the header): rows a later
    record of the same id replaced."""
    kept = path.with_name(path.name + ".kept")
    with path.open(encoding="utf-8", newline="") as source, _open(kept) as target:
        reader, writer = csv.reader(source), _writer(target)
        writer.writerow(next(reader))
        writer.writerows(cells for number, cells in enumerate(reader) if number not in rows)
    kept.replace(path)


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
                f"--report-file={self.folder / 'import.report'}",  # beside the CSV files, not in the caller's folder
                # Every record was checked: one bad entry (a relationship to a missing node, a duplicate id) is a
                # bug, and the tool's default skips up to 1,000 of them, importing the rest without them.
                "--bad-tolerance=0"]


class _Writers:
    """One CSV file per label or type, `{prefix}-{name}.csv`, opened at its first row; rows are kept as text and
    written once per batch, one join per file."""

    def __init__(self, files: ExitStack, folder: Path, prefix: str, header: list[str]) -> None:
        self._files, self._folder, self._prefix, self._header = files, folder, prefix, header
        self._handles: dict[str, IO[str]] = {}
        self._counts: dict[str, int] = {}
        self.paths: dict[str, Path] = {}
        self.rows = 0  # data rows written in every file

    def block(self, name: str, text: str, count: int) -> int:
        """Append `count` rows (their CSV text) to the file of `name`; the number of the first (0 is the first
        after the header)."""
        handle = self._handles.get(name)
        if handle is None:
            path = self._folder / f"{self._prefix}-{name}.csv"
            handle = self._handles[name] = self._files.enter_context(_open(path))
            _writer(handle).writerow(self._header)
            self.paths[name] = path
            self._counts[name] = 0
        handle.write(text)
        first = self._counts[name]
        self._counts[name] = first + count
        self.rows += count
        return first


def _cell(value: Any) -> Any:
    """A property as a CSV cell: lists joined by the array delimiter, None as an empty cell (no property)."""
    if isinstance(value, list):
        return ARRAY_DELIMITER.join(value) if value else None
    return value


def _open(path: Path) -> IO[str]:
    """A CSV file to write: UTF-8, no newline translation (the csv module writes its own line ends), a buffer of
    1 MiB (a row is written at a time: fewer, larger writes)."""
    return path.open("w", encoding="utf-8", newline="", buffering=1 << 20)


def _writer(handle: IO[str] | _Collect) -> Any:
    """RFC 4180 quoting (a quote doubled), "\\n" line ends."""
    return csv.writer(handle, lineterminator="\n")


def _write(path: Path, header: list[str], rows: Iterable[list[Any]]) -> None:
    """One small CSV file, header first."""
    with _open(path) as handle:
        writer = _writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
