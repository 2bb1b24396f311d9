"""The `corpgraph` command line: load files, summarise and search the store (serve/export/db live beside)."""
from __future__ import annotations

import errno
import functools
import json
import os
import shlex
import socket
import subprocess
import sys
from datetime import date
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import click
import typer
from rich.console import Console
from rich.table import Table

from corpgraph.api.load_progress import LoadDisplay
from corpgraph.graph.gc_policy import paused
from corpgraph.graph.identity.clusters import IdentityError
from corpgraph.graph.write.ingest import ingest, ingest_stream
from corpgraph.graph.settings import Settings, get_settings
from corpgraph.graph.identity.resolve.candidates import CandidateSet
from corpgraph.graph.stores.base import GraphStore
from corpgraph.graph.stores.factory import open_store
from corpgraph.loaders.detect import choose
from corpgraph.loaders.formats import FORMAT_NAMES
from corpgraph.loaders.seed import example_paths, seed_path
from corpgraph.loaders.validate import iter_batches, load_file, map_batches
from corpgraph.schema.errors import (BadRequest, ConfigurationError, CorpgraphError, InvalidArgument, InvalidCursor,
                                     InvalidInput, LimitExceeded, NotFound, Problem, SingularOwnership, StoreError)
from corpgraph.schema.kinds import EntityType
from corpgraph.loaders.caps import CappedFormat
from corpgraph.schema.batch import Batch, WriteSummary
from corpgraph.loaders.coverage import Coverage

if TYPE_CHECKING:  # imported where it runs: `db import` alone needs the bulk import's module
    from starlette.applications import Starlette

    from corpgraph.api.workers import Worker
    from corpgraph.graph.stores.neo4j_bulk import Prepared

app = typer.Typer(help="corpgraph: who is liable for an incident, who is exposed to it.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
Warned = TypeVar("Warned", Batch, "Prepared")  # a batch, or what a bulk import keeps of one: both carry its warnings
ReportOpt = Annotated[Optional[Path], typer.Option("--report", help="also write the coverage report (what each kind "
                                                                     "of source record became) to this JSON file")]
StoreOpt = Annotated[Optional[str], typer.Option("--store", help="embedded (SQLite file, default) or neo4j")]
DbOpt = Annotated[Optional[Path], typer.Option("--db", help="the embedded store's file (default: CORPGRAPH_DB, "
                                                             "else ./corpgraph.db in the current folder)")]
FormatOpt = Annotated[Optional[str], typer.Option("--format", help=f"{'|'.join(FORMAT_NAMES)} (default: detected "
                                                                   "from each file's content)")]


def guarded(command: F) -> F:
    """Run a command so that every failure ends in a message and a non-zero exit, never a traceback.

    As the README says: a problem of the input (an unknown id, a bad argument, a limit) exits 1; a problem of
    the store or the settings exits 2, as do operating-system errors (naming the file); anything else is a
    bug: exit 70 with its type and message (CORPGRAPH_DEBUG=1 shows the traceback).
    """
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise  # typer's own ways out: an exit code, a usage error, Ctrl-C
        except _INPUT_ERRORS as exc:
            _fail(1, f"error: {exc}", exc)
        except CorpgraphError as exc:
            _fail(2, f"error: {exc}", exc)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(2, f"error: {where}{exc.strerror or exc}", exc)
        except Exception as exc:
            if os.environ.get("CORPGRAPH_DEBUG"):
                raise
            _fail(70, f"internal error: {type(exc).__name__}: {exc}; this is a bug in corpgraph, please report it "
                      "with the command you ran (CORPGRAPH_DEBUG=1 shows the traceback)", exc)
    run.guarded = True  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]


# What the user asked for was wrong (exit 1); every other project error is about the store or the settings (exit 2).
_INPUT_ERRORS = (InvalidInput, InvalidArgument, InvalidCursor, NotFound, LimitExceeded, BadRequest, SingularOwnership,
                 IdentityError)


def _fail(code: int, message: str, cause: BaseException) -> None:
    """Print a message on stderr as plain lines (never wrapped: users grep them) and exit with the code."""
    typer.echo(message, err=True)
    raise typer.Exit(code=code) from cause


@app.command()
def load(
    files: Annotated[Optional[list[Path]], typer.Argument(help="native JSON Lines or CSV, BODS, FtM, GLEIF, ... files")] = None,
    seed: Annotated[bool, typer.Option("--seed", help="also load the shipped seed data")] = False,
    examples: Annotated[bool, typer.Option("--examples", help="also load the shipped examples with dated history "
                                                               "(BODS 0.3's CHRINON update)")] = False,
    format: FormatOpt = None,
    store: StoreOpt = None,
    report: ReportOpt = None,
    db: DbOpt = None,
) -> None:
    """Validate and load files of any known format; each file is written whole or not at all; then say, per
    file, what each kind of source record became and what was not imported and why."""
    paths = ([seed_path()] if seed else []) + (example_paths() if examples else []) + list(files or [])
    if not paths:
        raise typer.BadParameter("name at least one file, or pass --seed or --examples")
    failed = 0
    total = WriteSummary()
    covered: list[tuple[Coverage, bool]] = []
    # This command is the process: it pauses the cyclic collector for its bulk work (graph.gc_policy).
    size = get_settings().batch_size
    display = LoadDisplay(err)
    with _open(store, db, create=True) as graph_store, display.running(), paused():
        for path in paths:
            shown = display.file(path)
            coverage = Coverage(str(path))
            try:
                _, batches = iter_batches(path, size, format=_say_format(path, format), coverage=coverage,
                                          work=graph_store.batch_work())
                summary = ingest_stream(graph_store, str(path), _warned(batches), on_batch=shown, on_phase=shown.enter)
                coverage.written(summary.placeholders)
                total.add(summary)
                covered.append((coverage, True))
            except InvalidInput as exc:
                failed += 1
                covered.append((coverage, False))
                # Plain lines, never wrapped: users grep and editors jump to `file:line:`.
                _echo_problems(exc.problems)
                typer.echo(f"{path}: not loaded ({len(exc.problems)} problem(s)); nothing of it was written", err=True)
            display.finish(shown)
    for note in total.notes:
        out.print(note, markup=False, highlight=False, soft_wrap=True)
    changed = sum(total.entities.values()) + sum(total.relations.values())
    if changed == 0 and failed == 0:
        out.print(f"0 records changed ({total.unchanged:,} unchanged)", markup=False, highlight=False)
    elif changed:  # no "total 0" table above the problems of a failed load
        _print_summary("written", total.entities, total.relations)
        if total.unchanged:
            out.print(f"{total.unchanged:,} records unchanged", markup=False, highlight=False)
    if total.placeholders:
        out.print(f"{total.placeholders} placeholder(s) made for references the files left open "
                  "(completed when their records are loaded)", markup=False, highlight=False)
    for coverage, loaded in covered:
        if loaded:
            typer.echo("\n".join(coverage.lines()))
    if report is not None:
        _write_report(report, covered)
    if failed:
        raise typer.Exit(code=1)


def _write_report(path: Path, covered: list[tuple[Coverage, bool]]) -> None:
    """The coverage of every file as JSON, for pipelines (`--report FILE.json`)."""
    files = [{**coverage.as_dict(), "loaded": loaded} for coverage, loaded in covered]
    path.write_text(json.dumps({"files": files}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@app.command()
def convert(
    file: Annotated[Path, typer.Argument(help="a file of any known format")],
    format: FormatOpt = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write (default stdout)")] = None,
    report: ReportOpt = None,
) -> None:
    """Write the native JSON Lines an import of FILE would load (problems and the coverage report on stderr), to
    see and fix what came in."""
    try:
        if not file.is_file():
            raise InvalidInput([Problem(str(file), 0, "(file)", "no such file")])
        fmt = choose(file, _say_format(file, format))
    except InvalidInput as exc:
        _echo_problems(exc.problems)
        raise typer.Exit(code=1) from None
    problems: list[Problem] = []
    coverage = Coverage(str(file), fmt.name)
    sink = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for item in (fmt if fmt.name == "native" else CappedFormat(fmt)).read(file, coverage):
            if isinstance(item, Problem) and item.warning:
                typer.echo(str(item), err=True)
            elif isinstance(item, Problem):
                problems.append(item)
            else:
                sink.write(json.dumps(item[1], ensure_ascii=False) + "\n")
    finally:
        if output:
            sink.close()
    _echo_problems(sorted(problems, key=lambda p: p.line))
    typer.echo("\n".join(coverage.lines()), err=True)  # stdout is the records
    if report is not None:
        _write_report(report, [(coverage, not problems)])
    if problems:
        raise typer.Exit(code=1)


def _warned(batches: Iterator[Warned]) -> Iterator[Warned]:
    """The batches, each one's warnings (imported texts cut at their cap) said on stderr as it passes."""
    for batch in batches:
        for warning in batch.warnings:
            typer.echo(str(warning), err=True)
        yield batch


def _say_format(path: Path, name: str | None) -> str | None:
    """The format to read a file in (named, or detected and said on stderr); None when it cannot be told."""
    if name is not None or not path.is_file():
        return name
    try:
        detected = choose(path, None).name
    except InvalidInput:
        return None  # load_file reports it, with the formats tried
    # through the console the load's live display draws on, so the line lands above it, not inside it
    err.print(f"{path}: {detected} (detected from its content)", markup=False, highlight=False, soft_wrap=True)
    return detected


def _echo_problems(problems: list[Problem]) -> None:
    """Problems as plain stderr lines, never wrapped: users grep and editors jump to `file:line:`."""
    for problem in problems:
        typer.echo(str(problem), err=True)


@app.command()
def summary(store: StoreOpt = None, db: DbOpt = None) -> None:
    """Counts of stored entities and relations per type, and the incidents on record."""
    with _open(store, db) as graph_store:
        counts = graph_store.counts()
        entity_names = {t.value for t in EntityType}
        _print_summary("stored", {k: v for k, v in counts.items() if k in entity_names},
                       {k: v for k, v in counts.items() if k not in entity_names})
        incidents = graph_store.list_entities(EntityType.INCIDENT, None, 20)
        for incident in incidents:
            out.print(f"incident {incident.id}: {incident.name}", markup=False, highlight=False)


@app.command()
def search(text: str, first: int = 10, store: StoreOpt = None,
           topic: Annotated[Optional[list[str]], typer.Option(help="only entities with this topic (repeatable: any)")] = None,
           db: DbOpt = None) -> None:
    """Find entities by name or alias in any script (optionally only those with a topic: --topic sanction);
    exits 1 (as grep does) when nothing matches."""
    from corpgraph.graph.service import CorpGraph

    with _open(store, db) as graph_store:
        found = CorpGraph(graph_store).search(text, None, first, topic)
    for entity in found:
        out.print(f"{entity.type}\t{entity.id}\t{entity.name}", markup=False, highlight=False)  # type: ignore[attr-defined]
    if not found:
        among = f" among those with topic {' or '.join(topic)}" if topic else ""
        typer.echo(f"no entity has a name or alias matching {text!r}{among}", err=True)
        raise typer.Exit(code=1)


@app.command("ultimate-owners")
def ultimate_owners(
    company: Annotated[str, typer.Argument(help="the company's id")],
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="date YYYY-MM-DD (default today)")] = None,
    threshold: Annotated[float, typer.Option("--threshold", help="smallest integrated share, above 0 and at most 1")] = 0.25,
    store: StoreOpt = None,
) -> None:
    """The ultimate owners of a company (integrated share >= threshold, no such owner above them; docs/analytics.md)."""
    from corpgraph.graph.service import CorpGraph

    if not 0.0 < threshold <= 1.0:
        raise typer.BadParameter(f"--threshold must be above 0 and at most 1, got {threshold}")
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}") from None
    with _open(store) as graph_store:
        found = CorpGraph(graph_store).ultimate_owners(company, day, threshold)
    for h in found:
        flags = " unknown" if h.unknown else ""
        out.print(f"{h.owner}\t{h.integrated:.6f}{flags}", markup=False, highlight=False)
    if not found:
        typer.echo(f"{company}: no owner holds {threshold:g} or more", err=True)


@app.command()
def check(store: StoreOpt = None, db: DbOpt = None) -> None:
    """Read every stored record and report those that cannot be read back or break an invariant (exit 1)."""
    from corpgraph.graph.write.integrity import StoredProblem, check_store

    found, counts = 0, {}
    with _open(store, db) as graph_store:
        for item in check_store(graph_store):
            if isinstance(item, StoredProblem):
                found += 1
                typer.echo(str(item), err=True)
            else:
                counts[item[0]] = item[1]
    verdict = f"{found} problem(s)" if found else "no problems"
    typer.echo(f"checked {counts.get('entities', 0)} entities and {counts.get('relations', 0)} relations: {verdict}")
    if found:
        raise typer.Exit(code=1)


class _open:
    """Context manager: open the configured store, say on stderr which one it is, and close it.

    Only a command that writes (`create`) may create an embedded store; the others refuse a missing file
    (a StoreError, exit 2) rather than leave an empty store behind. Errors are reported by `guarded`.
    """

    def __init__(self, kind: str | None, db: Path | None = None, create: bool = False) -> None:
        self.kind = kind
        self.db = db
        self.create = create

    def __enter__(self) -> GraphStore:
        settings = get_settings()
        if self.db is not None:
            settings = settings.model_copy(update={"db": self.db})
        kind = self.kind or settings.store
        where = store_location(kind, settings)
        new = kind == "embedded" and not settings.db.exists()
        if new and not self.create:
            raise StoreError(f"no store at {where}: load something first or set CORPGRAPH_DB")
        self.store = open_store(kind, settings)
        typer.echo(f"store: {kind} {where}{' (new)' if new else ''}", err=True)
        return self.store

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.store.close()


def store_location(kind: str, settings: Settings) -> str:
    """Where a store lives, as a user would name it: the embedded store's absolute path, Neo4j's URI (and database)."""
    if kind == "neo4j":
        database = f" database {settings.neo4j_database}" if settings.neo4j_database else ""
        return f"{settings.neo4j_uri or '(NEO4J_URI not set)'}{database}"
    return str(settings.db.resolve())


def _print_summary(verb: str, entities: dict[str, int], relations: dict[str, int]) -> None:
    """A table of counts per type."""
    table = Table(title=f"records {verb}")
    table.add_column("type")
    table.add_column("count", justify="right")
    for name, count in sorted(entities.items()) + sorted(relations.items()):
        table.add_row(name, str(count))
    table.add_row("total", str(sum(entities.values()) + sum(relations.values())))
    out.print(table)


db_app = typer.Typer(help="Database administration: the Neo4j schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("init")
def db_init() -> None:
    """Create Neo4j's uniqueness constraints and search indexes (IF NOT EXISTS: safe to run again)."""
    # Imported here: only this command needs the Neo4j store directly (the others go through open_store).
    from corpgraph.graph.settings import get_settings
    from corpgraph.graph.stores.neo4j import open_neo4j_store

    store = open_neo4j_store(get_settings(), require_schema=False)
    try:
        report = store.init_schema()
    finally:
        store.close()
    out.print(f"{report.applied} constraints and indexes in place on {store.uri}", markup=False, highlight=False)
    for statement in report.needs_enterprise:
        out.print(f"skipped (needs Neo4j Enterprise Edition): {statement}", markup=False, highlight=False,
                  soft_wrap=True)


@db_app.command("recover")
def db_recover() -> None:
    """Finish or remove a batched Neo4j load whose loader died (kill -9, a lost server), and say which."""
    from corpgraph.graph.stores.neo4j import open_neo4j_store

    store = open_neo4j_store(get_settings())
    try:
        recovery = store.recover()
    finally:
        store.close()
    message = recovery.message() if recovery else f"no unpublished load on {store.uri}: nothing to recover"
    out.print(message, markup=False, highlight=False, soft_wrap=True)


@db_app.command("import")
def db_import(
    files: Annotated[list[Path], typer.Argument(help="files of any known format, checked together")],
    neo4j_home: Annotated[Optional[Path], typer.Option("--neo4j-home", help="the stopped Neo4j's home folder: run "
                                                       "the import there (without it: print the command)")] = None,
    csv_dir: Annotated[Optional[Path], typer.Option("--csv-dir", help="where the CSV files go (default: "
                                                    "NEO4J_HOME/import/corpgraph, else ./corpgraph-import)")] = None,
    database: Annotated[str, typer.Option("--database", help="the database to create")] = "neo4j",
    neo4j_admin: Annotated[Optional[str], typer.Option("--neo4j-admin", help="the neo4j-admin to run (default: "
                                                       "NEO4J_HOME/bin/neo4j-admin)")] = None,
    format: FormatOpt = None,
) -> None:
    """Bulk-import files into an empty, stopped Neo4j with neo4j-admin (same readers and problems as `load`, checked
    over arrays of hashed ids and analytic columns: a few dozen bytes a record, no Python object per relation)."""
    from corpgraph.graph.stores.neo4j_bulk import import_files

    folder = csv_dir or (neo4j_home / "import" / "corpgraph" if neo4j_home else Path("corpgraph-import"))
    size = get_settings().batch_size
    try:
        with paused():  # this command is the process: it pauses the cyclic collector (graph.gc_policy)
            written = import_files(_warned(_every_batch(files, size, format)), folder)
    except InvalidInput as exc:
        _echo_problems(exc.problems)
        typer.echo(f"not imported ({len(exc.problems)} problem(s)); nothing was written", err=True)
        raise typer.Exit(code=1)
    admin = neo4j_admin or (str(neo4j_home / "bin" / "neo4j-admin") if neo4j_home else "neo4j-admin")
    command = written.command(admin, database)
    out.print(f"{written.entities} entities, {written.relations} relations, {written.placeholders} placeholder(s) "
              f"written as CSV to {folder}", markup=False, highlight=False, soft_wrap=True)
    if neo4j_home is None:
        out.print("with Neo4j stopped, run as its user (NEO4J_HOME set to its home):", markup=False, highlight=False)
        out.print(shlex.join(command), markup=False, highlight=False, soft_wrap=True)
    else:
        _run_import(command, neo4j_home)
    out.print("then start Neo4j and run `corpgraph db init` (constraints and indexes over the imported graph)",
              markup=False, highlight=False, soft_wrap=True)


def _every_batch(files: list[Path], size: int, format: str | None) -> Iterator[Prepared]:
    """The batches of every file in turn, as one stream (an import's files are checked together), each prepared for
    the import where it was validated (in worker processes for a native JSON Lines file of some size)."""
    from corpgraph.graph.stores.neo4j_bulk import prepare

    for path in files:
        yield from map_batches(path, size, prepare, format=_say_format(path, format))[1]


def _run_import(command: list[str], home: Path) -> None:
    """Run neo4j-admin's import with NEO4J_HOME set; its output on failure, exit 2."""
    env = {**os.environ, "NEO4J_HOME": str(home.resolve())}
    if (home / "conf").is_dir():
        env["NEO4J_CONF"] = str((home / "conf").resolve())
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ConfigurationError(f"cannot run {command[0]}: {exc.strerror}; name it with --neo4j-admin") from exc
    if done.returncode != 0:
        typer.echo(f"{done.stdout[-3000:]}{done.stderr[-3000:]}", err=True)
        typer.echo(f"error: neo4j-admin import failed (exit {done.returncode}); the database was not created",
                   err=True)
        raise typer.Exit(code=2)
    out.print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "imported", markup=False,
              highlight=False, soft_wrap=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    store: StoreOpt = None,
    seed: Annotated[bool, typer.Option("--seed", help="load the shipped seed first (loading twice changes nothing)")] = False,
    examples: Annotated[bool, typer.Option("--examples", help="load the shipped examples with dated history first")] = False,
    db: DbOpt = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="server processes on the port, sharing one "
                                         "projection through its snapshot (docs/scaling.md)")] = 1,
) -> None:
    """Serve GraphQL at /graphql (GraphiQL in a browser), graph exports at /export/{format}, and /healthz."""
    import uvicorn

    from corpgraph.api.workers import Worker, serve_workers
    from corpgraph.graph.projection.snapshot import snapshots_for

    _port_free(host, port)
    with _open(store, db, create=True) as graph_store:
        for path in ([seed_path()] if seed else []) + (example_paths() if examples else []):
            ingest(graph_store, load_file(path))
        out.print(f"GraphiQL: http://{host}:{port}/graphql", markup=False, highlight=False)
        if workers == 1:
            uvicorn.run(serving_app(graph_store), host=host, port=port)
            return
        if snapshots_for(graph_store) is None:
            raise ConfigurationError("--workers shares the projection through its snapshots: set CORPGRAPH_SNAPSHOTS "
                                     "on, and CORPGRAPH_SNAPSHOT_DIR for a Neo4j store")
    settings = get_settings() if db is None else get_settings().model_copy(update={"db": db})

    def worker_app(worker: Worker) -> Any:
        """One worker's app over its own connection to the store (opened in the worker, after the fork)."""
        return serving_app(open_store(store, settings), worker)
    serve_workers(workers, host, port, worker_app)


def serving_app(store: GraphStore | None = None, worker: Worker | None = None) -> Starlette:
    """The app of `corpgraph serve` (one process, or each worker of --workers): frozen projections, built apart;
    `uvicorn --factory corpgraph.api.cli:serving_app` serves the store of the settings this way, as the benchmark's
    server does.

    The long-lived server decides its garbage-collector tuning here, at start-up: a projection built in the serving
    process and left to the collector (create_app alone) is walked by every full collection.
    """
    from corpgraph.api.app import create_app
    from corpgraph.graph.gc_policy import FrozenProjections

    return create_app(store=store, rebuild_hooks=FrozenProjections(), worker=worker, build_apart=True)


def _port_free(host: str, port: int) -> None:
    """Exit 2 saying so, and how to choose another port, when `host:port` cannot be listened on (already taken)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a closing socket is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            typer.echo(f"error: port {port} on {host} is already in use (another `corpgraph serve`?): stop it, or "
                       f"pick another port: `PORT={port + 1} make run` or `corpgraph serve --port {port + 1}`", err=True)
            raise typer.Exit(code=2) from None


@app.command("export")
def export_graph(
    format: Annotated[Optional[str], typer.Argument(help="cytoscape, d3, gexf or graphml; or ftm")] = None,
    id: Annotated[Optional[str], typer.Option("--id", help="entity id (an incident id for --query liability)")] = None,
    query: Annotated[str, typer.Option("--query", help="neighborhood, liability or exposure")] = "neighborhood",
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="date YYYY-MM-DD (default today)")] = None,
    depth: Annotated[Optional[int], typer.Option("--depth", help="neighborhood: relations deep")] = None,
    max_depth: Annotated[Optional[int], typer.Option("--max-depth", help="liability/exposure: longest path")] = None,
    min_share: Annotated[Optional[float], typer.Option("--min-share", help="liability: smallest share kept")] = None,
    max_owners: Annotated[Optional[int], typer.Option("--max-owners", help="liability: strongest owners kept")] = None,
    channels: Annotated[Optional[str], typer.Option("--channels", help="exposure: e.g. OWNERSHIP,DATA_FLOW")] = None,
    relation_types: Annotated[Optional[str], typer.Option("--relation-types", help="neighborhood: e.g. OWNS")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write (default stdout)")] = None,
    format_option: Annotated[Optional[str], typer.Option("--format", help="ftm: the sanctions answers as "
                                                         "FollowTheMoney (docs/sanctions.md); or a graph format")] = None,
    regimes: Annotated[str, typer.Option("--regimes", help="ftm: comma-separated regimes")] = "OFAC,EU,UK",
    store: StoreOpt = None,
    db: DbOpt = None,
) -> None:
    """Write the subgraph of a query's answer for a visualisation tool (same as GET /export/{format}), or with
    --format ftm the entities sanctions rules block, with the percentages, as FollowTheMoney JSON Lines."""
    from corpgraph.api.exporting import ExportRequest, export_parts
    from corpgraph.api.settings import get_api_settings
    from corpgraph.graph.exports import iter_export
    from corpgraph.graph.service import CorpGraph

    chosen = format_option or format
    if chosen is None:
        raise typer.BadParameter("name the format: cytoscape, d3, gexf, graphml (with --id) or --format ftm")
    if chosen == "ftm":
        _export_ftm(store, as_of, regimes, output)
        return
    if id is None:
        raise typer.BadParameter(f"--id is required for the {chosen} export: the entity (or incident) to start from")
    params = {"query": query, "id": id, "asOf": as_of, "depth": depth, "maxDepth": max_depth,
              "minShare": min_share, "channels": channels, "relationTypes": relation_types, "maxOwners": max_owners}
    with _open(store, db) as graph_store:
        request = ExportRequest.from_params({k: None if v is None else str(v) for k, v in params.items()})
        parts, _ = export_parts(CorpGraph(graph_store), get_api_settings(), request)
        _write_blocks(iter_export(parts, format=chosen), output)


def _write_blocks(blocks: Iterator[str], output: Path | None) -> None:
    """Write an export's blocks as they come: to stdout (ending in a newline), or to a file that appears whole
    or not at all (written beside it, then renamed: an error part way leaves no half file)."""
    if output is None:
        for block in blocks:
            sys.stdout.write(block)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as file:
            for block in blocks:
                file.write(block)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def _export_ftm(store: str | None, as_of: str | None, regimes: str, output: Path | None) -> None:
    """`export --format ftm`: the sanctions answers as FollowTheMoney JSON Lines (graph.ftm_export)."""
    from datetime import date

    from corpgraph.graph.ftm_export import ftm_entities, lines
    from corpgraph.graph.service import CorpGraph

    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter(f"--as-of expects YYYY-MM-DD, got {as_of!r}") from None
    chosen = [r.strip() for r in regimes.split(",") if r.strip()]
    with _open(store) as graph_store:
        text = "".join(lines(ftm_entities(CorpGraph(graph_store), day, chosen)))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@app.command()
def resolve(
    merge: Annotated[Optional[tuple[str, str]], typer.Option("--merge", help="record that A and B are the same entity")] = None,
    split: Annotated[Optional[tuple[str, str]], typer.Option("--split", help="record that A and B must never be merged")] = None,
    accept_above: Annotated[Optional[float], typer.Option("--accept-above", min=0.0, max=1.0,
                                                          help="merge every candidate scoring at least this, "
                                                               "except pairs with conflicting identifiers or countries")] = None,
    min_score: Annotated[float, typer.Option("--min-score", min=0.0, max=1.0, help="list candidates from this score")] = 0.0,
    first: Annotated[int, typer.Option("--first", min=1, help="list at most this many candidates")] = 50,
    by: Annotated[str, typer.Option("--by", help="who takes the decision (kept with it)")] = "cli",
    store: StoreOpt = None,
    db: DbOpt = None,
) -> None:
    """List entities that may be the same (score and reasons), or record a decision about them."""
    from corpgraph.graph.service import CorpGraph

    if sum(x is not None for x in (merge, split, accept_above)) > 1:
        raise typer.BadParameter("use one of --merge, --split and --accept-above at a time")
    with _open(store, db) as graph_store:
        graph = CorpGraph(graph_store)
        if merge or split:
            a, b = merge or split  # type: ignore[misc]
            judgement = (graph.merge if merge else graph.split)(a, b, by)
            typer.echo(f"recorded: {judgement.a} and {judgement.b} are {judgement.verdict.value} "
                      f"(by {judgement.by} at {judgement.at})")
        elif accept_above is not None:
            done = graph.accept_above(accept_above, by)
            for c in done.merged:
                typer.echo(f"merged {c.score:.3f}  {c.a}  {c.b}")
            for c, why in done.held:
                typer.echo(f"held   {c.score:.3f}  {c.a}  {c.b}  ({why}: decide with --merge or --split)")
            typer.echo(f"{len(done.merged)} merged, {len(done.held)} held back")
        else:
            _print_candidates(graph_store, graph.candidates(min_score), first)
            for apart in graph.identity().conflicts:  # what a split (or a type difference) overrides, so it is not silent
                typer.echo(f"apart  {apart.a}  {apart.b}  ({apart.link}: {apart.reason})")


def _print_candidates(graph_store: GraphStore, found: CandidateSet, first: int) -> None:
    """Candidates as plain lines, never wrapped (users grep them): score, the two entities (id, name, country), then the reasons and conflicts."""
    shown = found.candidates[:first]
    records = graph_store.get_entities(sorted({x for c in shown for x in (c.a, c.b)}))

    def label(id: str) -> str:
        record = records.get(id)
        country = getattr(record, "country", None)
        return f"{id} ({record.name if record else '?'}{', ' + country if country else ''})"

    for c in shown:
        typer.echo(f"{c.score:.3f}  {label(c.a)}  ~  {label(c.b)}")
        for reason in c.reasons:
            typer.echo(f"       {reason}")
        for conflict in c.conflicts:
            typer.echo(f"       conflict: {conflict}")
    more = len(found.candidates) - len(shown)
    typer.echo(f"{len(found.candidates)} candidate(s){f', {more} not shown (--first)' if more > 0 else ''}")
    for key, size in found.skipped_blocks:
        typer.echo(f"skipped the name key {key!r}: {size} entities share it (too common to compare)", err=True)


def _guard_every_command(typer_app: typer.Typer) -> None:
    """Wrap every command (and every sub-app's) in `guarded`, so that no command can forget it."""
    for info in typer_app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "guarded", False):
            info.callback = guarded(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _guard_every_command(group.typer_instance)


from corpgraph.api import cli_sanctions  # noqa: E402,F401  (registers sanctions, sanctioned, screen on app)

_guard_every_command(app)  # last: after every command above is registered
