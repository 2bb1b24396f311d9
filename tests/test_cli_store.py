"""The command line as a user meets it: which store it used, read-only commands that never create one, `--db`,
progress phases on a terminal and off it, a reload that changes nothing, exit codes and a busy port."""
from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from corpgraph.api.cli import app
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import company, owns

ROOT = Path(__file__).resolve().parents[1]
PHASES = ["reading and checking", "writing", "checking references", "committing"]
# Three records counted by hand: two companies and one stake.
WORLD = [{"type": "Company", "id": "acme", "name": "Acme"},
         {"type": "Company", "id": "widget", "name": "Widget"},
         {"type": "OWNS", "source": "acme", "target": "widget", "share": 0.6}]


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """The three records as a native JSON Lines file."""
    path = tmp_path / "world.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in WORLD), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CORPGRAPH_DB names a file that does not exist yet; the tests run in tmp_path."""
    path = tmp_path / "default.db"
    monkeypatch.setenv("CORPGRAPH_DB", str(path))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    monkeypatch.chdir(tmp_path)
    return path


def run(*args: str) -> Result:
    """Invoke the CLI; never a traceback."""
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.mark.parametrize("args", [["summary"], ["search", "acme"], ["check"], ["export", "d3", "--id", "acme"],
                                  ["resolve"]])
def test_read_only_commands_never_create_a_store(default_store: Path, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f"no store at {default_store}: load something first or set CORPGRAPH_DB" in result.stderr
    assert not default_store.exists()
    assert not list(default_store.parent.glob("*.db*"))  # nor one in the current folder


def test_every_command_says_which_store_and_db_picks_it(tmp_path: Path, world: Path, default_store: Path) -> None:
    chosen = tmp_path / "sub" / "chosen.db"
    loaded = run("load", "--db", str(chosen), str(world))
    assert loaded.exit_code == 0, loaded.output
    assert f"store: embedded {chosen} (new)" in loaded.stderr
    for args in (["summary"], ["search", "Acme"], ["check"], ["export", "d3", "--id", "acme"], ["resolve"]):
        result = run(*args, "--db", str(chosen))
        assert result.exit_code == 0, (args, result.output)
        assert f"store: embedded {chosen}\n" in result.stderr, args
    assert not default_store.exists()  # --db was used, never the default


def test_relative_db_is_printed_as_an_absolute_path(tmp_path: Path, world: Path) -> None:
    result = run("load", "--db", "here.db", str(world))
    assert f"store: embedded {tmp_path / 'here.db'} (new)" in result.stderr


def test_reload_that_changes_nothing_says_so_and_keeps_the_revision(world: Path, default_store: Path) -> None:
    assert run("load", str(world)).exit_code == 0
    store = SqliteStore(default_store)
    revision = store.revision()
    store.close()
    again = run("load", str(world))
    assert again.exit_code == 0, again.output
    assert "0 records changed (3 unchanged)" in again.stdout
    assert "records written" not in again.stdout
    store = SqliteStore(default_store)
    assert store.revision() == revision
    store.close()


def test_reload_with_one_change_writes_one_and_counts_the_rest(world: Path, tmp_path: Path) -> None:
    assert run("load", str(world)).exit_code == 0
    changed = tmp_path / "changed.jsonl"
    changed.write_text(world.read_text().replace('"Widget"', '"Widget Ltd"'), encoding="utf-8")
    result = run("load", str(changed))
    assert "2 records unchanged" in result.stdout
    total = [line for line in result.stdout.splitlines() if "total" in line]
    assert total and total[0].split()[-2] == "1", result.stdout  # the table's total: the one renamed company


def test_progress_without_a_terminal_names_each_phase_in_order(world: Path) -> None:
    result = run("load", str(world))
    lines = result.stderr.splitlines()
    firsts = [next(i for i, line in enumerate(lines) if line.startswith(f"world.jsonl: {phase}")) for phase in PHASES]
    assert firsts == sorted(firsts), lines
    closing = [line for line in lines if line.startswith("world.jsonl: 3 records in ")]
    assert closing and all(f"{phase} " in closing[0] for phase in PHASES), lines


def test_progress_on_a_terminal_draws_each_phase(world: Path, tmp_path: Path) -> None:
    """A real pseudo-terminal: rich draws its live line there; each phase is drawn at least once."""
    shown = _in_a_terminal([sys.executable, "-c", "from corpgraph.api.cli import app; app()", "load", str(world),
                            "--db", str(tmp_path / "tty.db")])
    for phase in PHASES:
        assert f"world.jsonl: {phase}" in shown, shown
    assert "\x1b[" in shown  # drawn live (cursor control), not as plain lines
    assert "world.jsonl: 3 records in " in shown


def test_unknown_id_is_a_problem_of_the_input(world: Path) -> None:
    assert run("load", str(world)).exit_code == 0
    result = run("export", "d3", "--id", "nope")
    assert result.exit_code == 1
    assert "no entity with id 'nope'" in result.stderr


def test_serve_on_a_busy_port_says_so_and_how_to_pick_another() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-c", "from corpgraph.api.cli import app; app()", "serve", "--port", str(port)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"PORT={port + 1} make run" in done.stderr and "Errno" not in done.stderr


def _in_a_terminal(command: list[str]) -> str:
    """Run a command with a pseudo-terminal as stdin/stdout/stderr; everything it drew."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(command, cwd=ROOT, stdin=follower, stdout=follower, stderr=follower, close_fds=True,
                             env={**os.environ, "COLUMNS": "200", "TERM": "xterm"})
    os.close(follower)
    drawn = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    child.wait(timeout=60)
    os.close(leader)
    return drawn.decode("utf-8", "replace")


CHRINON = "bods:1dc0e987-5c57-4a1c-b3ad-61353b66a9b7"  # the entity statement's statementID
TAGGART = "bods:019a93f1-e470-42e9-957b-03559861b2e2"


def test_shipped_examples_have_dated_history(default_store: Path) -> None:
    """BODS 0.3's examples: Taggart's 100% (exact 100 from 2016-04-06) becomes 50% with the update of 2018-01-05."""
    from datetime import date

    from corpgraph.graph.service import CorpGraph

    assert run("load", "--examples").exit_code == 0
    store = SqliteStore(default_store)
    graph = CorpGraph(store)
    before = {h.owner: h.direct for h in graph.owners(CHRINON, date(2017, 12, 1))}
    after = {h.owner: h.direct for h in graph.owners(CHRINON, date(2018, 6, 1))}
    store.close()
    assert before == {TAGGART: 1.0}
    assert after[TAGGART] == 0.5 and len(after) == 2  # and the interested party who gave no information


def test_without_a_terminal_a_long_phase_gets_a_line_every_few_seconds(world: Path) -> None:
    """A phase that lasts (checks, a commit) still says it is alive: the current status every `every` seconds."""
    import io
    import time

    from rich.console import Console

    from corpgraph.api.load_progress import LoadDisplay
    from corpgraph.schema.batch import LoadPhase

    sink = io.StringIO()
    display = LoadDisplay(Console(file=sink, force_terminal=False, width=300), every=0.05)
    with display.running():
        shown = display.file(world)
        shown.enter(LoadPhase.REFERENCES)
        time.sleep(0.5)  # ten periods: at least a few ticks, even on a busy machine
        display.finish(shown)
    lines = sink.getvalue().splitlines()
    ticks = [line for line in lines if line.startswith("world.jsonl: checking references for ")]
    assert len(ticks) >= 3, lines  # the line when the phase began, then the ticks
    assert lines[-1].startswith("world.jsonl: 0 records in ")


# `corpgraph load` with a spy on the embedded store's batch work: the pid of the process that prepares each batch
# goes to a file. The second argument "in-process" takes the validating workers away, for the answers to compare.
_SPIED_LOAD = """
import os, sys
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders import validate

pids, mode = sys.argv[1], sys.argv[2]
os.cpu_count = lambda: 2  # two workers on any machine: the file is big enough, and fork is there
if mode == "in-process":
    validate.worker_count = lambda path: 0
real = SqliteStore.batch_work

def batch_work(self):
    prepare = real(self)
    def spied(batch):
        with open(pids, "a", encoding="ascii") as out:
            out.write(f"{os.getpid()}\\n")
        return prepare(batch)
    return spied

SqliteStore.batch_work = batch_work
with open(pids, "a", encoding="ascii") as out:
    out.write(f"load {os.getpid()}\\n")
from corpgraph.api.cli import app
sys.argv = ["corpgraph", *sys.argv[3:]]
app()
"""


def _big_world(path: Path) -> Path:
    """Over a megabyte of native JSON Lines (loaders.readahead.MIN_BYTES), so the load may fork its workers: 6,000
    companies, each owning half of the next one."""
    padding = "x" * 120
    records = [company(f"c{i}", f"Company {i} {padding}") for i in range(6000)]
    records += [owns(f"c{i}", f"c{i + 1}", 0.5) for i in range(5999)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert path.stat().st_size > 1 << 20
    return path


def _spied_load(tmp_path: Path, world: Path, mode: str, terminal: bool) -> tuple[str, int, list[int], Path]:
    """`corpgraph load` of the world into a new store (in the caller's CORPGRAPH_BATCH_SIZE), its display on a
    pseudo-terminal or on pipes: (what it printed, its pid, the pids that prepared each batch, the store)."""
    db, pids = tmp_path / f"{mode}-{terminal}.db", tmp_path / f"{mode}-{terminal}.pids"
    command = [sys.executable, "-c", _SPIED_LOAD, str(pids), mode, "load", str(world), "--db", str(db)]
    if terminal:
        printed = _in_a_terminal(command)
    else:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        printed = done.stdout
    load, *prepared = pids.read_text(encoding="ascii").split("\n")[:-1]
    return printed, int(load.split()[1]), [int(pid) for pid in prepared], db


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "live"])
def test_load_from_the_command_line_forks_its_validating_workers(tmp_path: Path, terminal: bool,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The progress display draws from a thread, and a fork waits for none but a Ticker's (loaders.forking): the
    12 batches of 1,000 records are prepared by two other processes, six each, on a terminal and off it; the store
    and what the command prints are the same as with every batch prepared in the command's own process."""
    monkeypatch.setenv("CORPGRAPH_BATCH_SIZE", "1000")  # the commands run here inherit it
    world = _big_world(tmp_path / "big.jsonl")
    printed, load, prepared, forked = _spied_load(tmp_path, world, "workers", terminal)
    assert len(prepared) == 12 and load not in prepared
    assert sorted(prepared.count(pid) for pid in set(prepared)) == [6, 6]
    alone, load, prepared, in_process = _spied_load(tmp_path, world, "in-process", False)
    assert set(prepared) <= {load}  # the control: no worker prepared anything there
    if not terminal:
        assert printed == alone  # the written table and the coverage, word for word
    stores = [SqliteStore(forked), SqliteStore(in_process)]
    try:
        rows = [(store.raw_entities("", 20_000), store.raw_relations("", 20_000)) for store in stores]
        assert [len(rows[0][0]), len(rows[0][1])] == [6000, 5999]
        assert rows[0] == rows[1]
    finally:
        for store in stores:
            store.close()
