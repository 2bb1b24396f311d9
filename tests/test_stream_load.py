"""A file loaded in batches (CORPGRAPH_BATCH_SIZE) is still one transaction: every problem of every batch in one
pass, nothing written on any, the same store after a second load, placeholders settled across batches."""
from __future__ import annotations

import json
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.graph.stores import id_hashes, sqlite_ids, sqlite_prepare, sqlite_stream
from corpgraph.graph.stores.base import RawEntity, RawRelation
from corpgraph.graph.write.ingest import ingest_stream
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.validate import iter_batches
from corpgraph.schema.batch import WriteSummary
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from tests.factory import company, entity, owns


def write(path: Path, *records: dict[str, Any]) -> Path:
    """A native JSON Lines file, one record a line (line n holds records[n - 1])."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def stream(store: SqliteStore, path: Path, size: int = 2) -> WriteSummary:
    """Load the file in batches of `size` records."""
    _, batches = iter_batches(path, size)
    return ingest_stream(store, str(path), batches)


def snapshot(store: SqliteStore) -> tuple[list[RawEntity], list[RawRelation]]:
    """Every stored row, for comparing two states of the store."""
    return store.raw_entities("", 10_000), store.raw_relations("", 10_000)


def problems_of(store: SqliteStore, path: Path, size: int = 2) -> list[str]:
    """The `file:line: field: reason` lines of a refused streamed load."""
    with pytest.raises(InvalidInput) as refused:
        stream(store, path, size)
    return [f"{p.line}: {p.field}" for p in refused.value.problems]


def test_problems_of_first_and_third_batch_reported_together(tmp_store: SqliteStore, tmp_path: Path) -> None:
    # Batches of 2 lines: lines 1-2, 3-4, 5-6. Line 2 has a bad share (batch 1); line 6 names an unknown owner
    # (batch 3, checked at the end of the file).
    path = write(tmp_path / "bad.jsonl", company("a"), owns("a", "b", 7), company("b"), company("c"),
                 company("d"), owns("ghost", "c", 0.5))
    assert problems_of(tmp_store, path) == ["2: share", "6: source"]
    assert tmp_store.counts() == {}  # nothing of it: not the companies of batches 1-3 either


def test_error_in_the_last_batch_leaves_nothing(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "late.jsonl", *(company(f"c{i}") for i in range(9)), {"type": "Company", "id": "x"})
    assert problems_of(tmp_store, path, size=3) == ["10: name"]
    assert tmp_store.counts() == {} and tmp_store.revision() == 0


def test_reload_changes_nothing(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "good.jsonl", company("a"), company("b"), owns("a", "b", 0.4), company("c"),
                 owns("c", "b", 0.6))
    first = stream(tmp_store, path)
    assert (first.entities["Company"], first.relations["OWNS"]) == (3, 2)
    before = snapshot(tmp_store)
    stream(tmp_store, path)
    assert snapshot(tmp_store) == before
    assert tmp_store.counts() == {"Company": 3, "OWNS": 2}


def test_reference_to_an_entity_of_a_later_batch(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "forward.jsonl", owns("a", "b", 0.5), company("x"), company("a"), company("b"))
    stream(tmp_store, path, size=1)
    assert tmp_store.counts() == {"Company": 3, "OWNS": 1}


def test_unknown_reference_to_a_failed_record_is_not_reported_twice(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "failed.jsonl", {"type": "Company", "id": "a"}, company("b"), company("c"),
                 owns("a", "b", 0.5))
    assert problems_of(tmp_store, path) == ["1: name"]


def test_shares_summed_across_batches(tmp_store: SqliteStore, tmp_path: Path) -> None:
    # 0.6 (line 4, batch 2) + 0.6 (line 6, batch 3) = 1.2 > 1: the later native line is named.
    path = write(tmp_path / "over.jsonl", company("a"), company("b"), company("c"), owns("a", "c", 0.6),
                 company("d"), owns("b", "c", 0.6))
    assert problems_of(tmp_store, path) == ["6: share"]
    # 0.6 + 0.4 = 1.0 is allowed
    write(path, company("a"), company("b"), company("c"), owns("a", "c", 0.6), company("d"), owns("b", "c", 0.4))
    stream(tmp_store, path)
    assert tmp_store.counts()["OWNS"] == 2


def test_a_share_over_100_percent_is_named_by_its_own_origin_under_another_label(tmp_store: SqliteStore,
                                                                                  tmp_path: Path) -> None:
    """Batches written under a label that is not their file's: each stake's origin is then more than a line of the
    load's file, so the share check reads it whole from the load's TEMP table and names the record's own file (taken
    for a line of the label, it would name the label)."""
    path = write(tmp_path / "over.jsonl", company("a"), company("b"), company("c"), owns("a", "c", 0.6),
                 company("d"), owns("b", "c", 0.6))
    _, batches = iter_batches(path, 2)
    with pytest.raises(InvalidInput) as refused:
        tmp_store.write_stream("another label", batches)
    assert [(p.file, p.line, p.field) for p in refused.value.problems] == [(str(path), 6, "share")]


def test_shares_summed_with_the_stored_ones(tmp_store: SqliteStore, tmp_path: Path) -> None:
    stream(tmp_store, write(tmp_path / "first.jsonl", company("a"), company("c"), owns("a", "c", 0.7)))
    # stored 0.7 + 0.5 from line 3 = 1.2
    path = write(tmp_path / "second.jsonl", company("b"), company("z"), owns("b", "c", 0.5))
    assert problems_of(tmp_store, path) == ["3: share"]


def test_type_change_across_batches(tmp_store: SqliteStore, tmp_path: Path) -> None:
    stream(tmp_store, write(tmp_path / "first.jsonl", company("s")))
    path = write(tmp_path / "types.jsonl", company("a"), company("b"), entity("Person", "a"), entity("Person", "s"))
    assert problems_of(tmp_store, path) == ["3: type", "4: type"]


def test_placeholders_settled_across_batches(tmp_store: SqliteStore, tmp_path: Path) -> None:
    stream(tmp_store, write(tmp_path / "stored.jsonl", company("held")))
    # p1: placeholder in batch 1, real record in batch 3 (not counted, real wins); p2: a placeholder only (1
    # made); held: a placeholder for a stored company (kept as stored); p2 twice: made once.
    path = write(tmp_path / "open.jsonl",
                 entity("Person", "p1", placeholder=True), entity("Person", "p2", placeholder=True),
                 entity("Company", "held", "Ghost", placeholder=True), entity("Person", "p2", placeholder=True),
                 entity("Person", "p1", "Real One"), company("x"))
    summary = stream(tmp_store, path)
    assert summary.placeholders == 1
    got = tmp_store.get_entities(["p1", "p2", "held"])
    assert (got["p1"].name, got["p1"].placeholder) == ("Real One", False)
    assert got["p2"].placeholder is True
    assert (got["held"].name, got["held"].placeholder) == ("Held", False)
    assert stream(tmp_store, path).placeholders == 0  # p2 is stored now


def test_relation_to_a_placeholder_waits_for_its_real_record(tmp_store: SqliteStore, tmp_path: Path) -> None:
    # Batch 1 (size 2): a placeholder Person "t" and a stake a -> t. OWNS needs a Company target, and "t" is a
    # Person when batch 1 is written; the real record of line 4 makes "t" a Company, so the stake is fine.
    # The stake must be checked at the end of the file, against the type "t" ends with, not at its batch.
    path = write(tmp_path / "retyped.jsonl", entity("Person", "t", placeholder=True), owns("a", "t", 0.5),
                 company("a"), company("t", "Real T"))
    summary = stream(tmp_store, path)
    assert (summary.placeholders, tmp_store.counts()) == (0, {"Company": 2, "OWNS": 1})


def test_relation_to_a_placeholder_left_open_is_checked(tmp_store: SqliteStore, tmp_path: Path) -> None:
    # The same file without line 4: "t" stays a placeholder Person, so the stake of line 2 points at a Person.
    path = write(tmp_path / "open.jsonl", entity("Person", "t", placeholder=True), owns("a", "t", 0.5),
                 company("a"))
    assert problems_of(tmp_store, path) == ["2: target"]


def test_a_redefined_entity_keeps_only_its_last_search_keys(tmp_store: SqliteStore, tmp_path: Path) -> None:
    # "a" is new in batch 1 (no index rows to delete) and defined again in batch 2 as "Zeta": the second
    # record replaces the first one's search keys, so "alpha" no longer finds it.
    path = write(tmp_path / "again.jsonl", company("a", "Alpha"), company("b"), company("a", "Zeta"))
    stream(tmp_store, path)
    assert [e.id for e in tmp_store.search("zeta", None, 10)] == ["a"]
    assert tmp_store.search("alpha", None, 10) == []


def test_cli_loads_in_batches_and_refuses_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    monkeypatch.setenv("CORPGRAPH_BATCH_SIZE", "2")
    bad = write(tmp_path / "bad.jsonl", company("a"), owns("a", "b", 7), company("b"), company("c"),
                company("d"), owns("ghost", "c", 0.5))
    result = CliRunner().invoke(app, ["load", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2: share:" in result.stderr and f"{bad}:6: source: unknown id 'ghost'" in result.stderr
    good = write(tmp_path / "good.jsonl", *(company(f"c{i}") for i in range(5)), owns("c0", "c1", 0.5))
    result = CliRunner().invoke(app, ["load", str(good)])
    assert result.exit_code == 0, result.output
    store = SqliteStore(tmp_path / "cli.db")
    try:
        assert store.counts() == {"Company": 5, "OWNS": 1}
    finally:
        store.close()


def test_progress_reads_how_far_the_reader_got(tmp_path: Path) -> None:
    from corpgraph.api.load_progress import read_position

    path = tmp_path / "ten.bin"
    path.write_bytes(b"0123456789")
    resolved = str(path.resolve())
    assert read_position(resolved) is None  # not open
    with path.open("rb") as reading:
        reading.read(4)  # Python's buffer fetched the whole 10-byte file at once: the descriptor is at 10
        assert read_position(resolved) == 10


def test_progress_reads_how_far_a_child_reader_got(tmp_path: Path) -> None:
    import subprocess
    import sys

    from corpgraph.api.load_progress import read_position

    path = tmp_path / "ten.bin"
    path.write_bytes(b"0123456789")
    resolved = str(path.resolve())
    # A child process opens the file and reads 3 bytes unbuffered, then waits: its descriptor is at 3.
    code = "import os, sys; f = os.open(sys.argv[1], os.O_RDONLY); os.read(f, 3); print('ok', flush=True); input()"
    child = subprocess.Popen([sys.executable, "-c", code, resolved], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ok"
        assert read_position(resolved) == 3
    finally:
        child.communicate("\n")


def index_names(store: SqliteStore) -> set[str]:
    """The store's own indexes (not SQLite's automatic ones for primary keys)."""
    rows = store._query("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL", [])
    return {name for (name,) in rows}


def test_a_load_into_an_empty_store_builds_its_indexes_once(tmp_store: SqliteStore, tmp_path: Path) -> None:
    # The load drops the type/endpoint indexes of an empty store and builds them after its last batch: afterwards
    # (committed) and after a refused load (rolled back) the store has every index it had, and reads through them.
    before = index_names(tmp_store)
    assert {"entities_type", "relations_type", "relations_source", "relations_target"} <= before
    bad = write(tmp_path / "bad.jsonl", company("a"), company("b"), owns("a", "b", 0.5), owns("ghost", "b", 0.1))
    assert problems_of(tmp_store, bad) == ["4: source"]
    assert index_names(tmp_store) == before and tmp_store.counts() == {}
    stream(tmp_store, write(tmp_path / "good.jsonl", company("a"), company("b"), company("c"), owns("a", "c", 0.5),
                            owns("b", "c", 0.3)))
    assert index_names(tmp_store) == before
    plan = " ".join(str(row) for row in tmp_store._query("EXPLAIN QUERY PLAN SELECT id FROM relations WHERE target = ?",
                                                         ["c"]))
    assert "relations_target" in plan
    assert sorted(row.source for row in tmp_store.edges_into(["c"], [RelationType.OWNS])) == ["a", "b"]


_IN_WORKERS = """
import json, sys
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest_stream
from corpgraph.loaders.validate import iter_batches
from corpgraph.schema.errors import InvalidInput

out = {}
for name, (path, db, workers) in json.loads(sys.argv[1]).items():
    store = SqliteStore(db)
    _, batches = iter_batches(path, 2, work=store.batch_work(), workers=workers)
    try:
        summary = ingest_stream(store, path, batches)
        out[name] = [dict(summary.entities), dict(summary.relations), summary.placeholders, summary.unchanged,
                     store.raw_entities("", 1000), store.raw_relations("", 1000), store.revision()]
    except InvalidInput as exc:
        out[name] = [str(problem) for problem in exc.problems]
print(json.dumps(out))
"""


def test_records_prepared_in_workers_load_as_in_one_process(tmp_path: Path) -> None:
    """A file validated and prepared by two forked workers (batches of 2 lines, every other batch each) loads as the
    same file read in this process: word for word the same problems, the same rows, summary and revision. Run in a
    child process of its own, as a fork of the test process could copy the locks of another test's threads."""
    cases = {
        "problems in batches 1 and 3": [company("a"), owns("a", "b", 7), company("b"), company("c"), company("d"),
                                        owns("ghost", "c", 0.5)],
        "shares over 100% across batches": [company("a"), company("b"), company("c"), owns("a", "c", 0.6),
                                            company("d"), owns("b", "c", 0.6)],
        "type changed in a later batch": [company("a"), company("b"), entity("Person", "a")],
        "placeholders, a reference forward, an id twice": [
            owns("a", "t", 0.5), entity("Person", "p", placeholder=True), entity("Person", "t", placeholder=True),
            company("a", aliases=["Alpha"]), company("t", "Real T", identifiers=[{"scheme": "LEI", "id": "X1"}]),
            company("a", "Zeta"), owns("a", "t", 0.5), owns("t", "a", 0.25)],
    }
    runs = {f"{name} {workers}": (str(write(tmp_path / f"{index}.jsonl", *records)),
                                  str(tmp_path / f"{index}-{workers}.db"), workers)
            for index, (name, records) in enumerate(cases.items()) for workers in (0, 2)}
    done = subprocess.run([sys.executable, "-c", _IN_WORKERS, json.dumps(runs)], capture_output=True, text=True,
                          check=True)
    got = json.loads(done.stdout)
    for name in cases:
        assert got[f"{name} 2"] == got[f"{name} 0"], name
    refused = got["problems in batches 1 and 3 2"]
    assert [line.split(".jsonl:")[1].split(":")[:2] for line in refused] == [["2", " share"], ["6", " source"]]
    loaded = got["placeholders, a reference forward, an id twice 2"]
    # Batches: [a->t, p?] [t?, a] [t, a "Zeta"] [a->t again, t->a] (? a placeholder): written p, t?, a, then t and a
    # again; a->t and t->a, a->t's second record unchanged; one placeholder made (p: t got its real record)
    assert loaded[:4] == [{"Person": 2, "Company": 3}, {"OWNS": 2}, 1, 1]
    assert [row[0] for row in loaded[4]] == ["a", "p", "t"] and '"Zeta"' in loaded[4][0][2]


def test_two_ids_of_the_file_sharing_a_hash_refuse_the_load_and_write_nothing(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'b' given the first hash of 'a' (its second hash stays real): the file's ids could not hold both, so the load
    is refused, naming the cause, and the store keeps what it held."""
    stream(tmp_store, write(tmp_path / "before.jsonl", company("z")))
    before = snapshot(tmp_store)
    path = write(tmp_path / "in.jsonl", company("a"), company("b"), company("c"), owns("b", "c", 0.5))
    real = id_hashes.hashes
    monkeypatch.setattr(sqlite_ids, "hashes", lambda ids: real(["a" if i == "b" else i for i in ids]))
    with pytest.raises(InvalidInput) as refused:
        stream(tmp_store, path, size=4)
    [problem] = refused.value.problems
    assert (problem.file, problem.field) == (str(path), "id")
    assert "two different ids share one 64-bit hash in this run" in problem.reason
    assert "nothing was loaded" in problem.reason and "new seed" in problem.reason
    assert snapshot(tmp_store) == before


def test_a_reference_sharing_a_first_hash_with_an_id_of_the_file_is_not_taken_for_it(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner 'x' is hashed like the company 'a' by its first hash only: its second hash tells them apart, so 'x'
    is still an unknown id (taken for 'a', a Company, the stake would have passed)."""
    path = write(tmp_path / "in.jsonl", company("a"), company("c"), owns("x", "c", 0.5))
    real = id_hashes.hashes
    monkeypatch.setattr(sqlite_prepare, "hashes", lambda ids: real(["a" if i == "x" else i for i in ids]))
    with pytest.raises(InvalidInput) as refused:
        stream(tmp_store, path, size=3)
    assert [(p.line, p.field, p.reason) for p in refused.value.problems] == [
        (3, "source", "unknown id 'x': load the entity first or in the same file")]
    assert tmp_store.counts() == {}


def test_a_prepared_batch_travels_as_plain_tuples(tmp_path: Path) -> None:
    """What a validating worker sends: the stand-ins and origins of 40 records pickle as plain tuples (no object
    built a record on unpickling: the opcodes that call a class stay as few as for one record), and come back as
    the same stand-ins, each where it came from."""
    def calls(size: int) -> int:
        records = [company(f"c{n}") for n in range(size)] + [owns(f"c{n}", f"c{n + 1}", 0.5) for n in range(size)]
        path = write(tmp_path / f"{size}.jsonl", *records)
        _, batches = iter_batches(path, 10 * size)
        [batch] = [sqlite_prepare.prepare(whole) for whole in batches]
        sent = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
        back = pickle.loads(sent)
        assert back.entities == batch.entities and back.relations == batch.relations
        assert [type(rec).__name__ for rec, _ in back.entities + back.relations] == \
            ["PreparedEntity"] * size + ["PreparedRelation"] * size
        rec, where = back.relations[-1]
        assert (rec.source, rec.target, where[:2]) == (f"c{size - 1}", f"c{size}", (str(path), 2 * size))
        assert (back.ends.native_owns == batch.ends.native_owns).all() and back.ends.native_owns.all()
        return sum(op.name in {"REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD"} for op, _, _ in pickletools.genops(sent))

    assert calls(20) == calls(1)


def test_relation_ids_a_load_into_an_empty_store_has_not_written_are_told_apart() -> None:
    """sqlite_ids.Written, by hash: every id of a first batch is new (one twice in it too); in the next batch only
    those not seen before."""
    written = sqlite_ids.Written()
    assert written.unwritten(np.array([5, 3, 5], np.int64)).tolist() == [True, True, True]
    assert written.unwritten(np.array([3, 7, 9, 5, 1], np.int64)).tolist() == [False, True, True, False, True]
    assert written.unwritten(np.array([9, 2], np.int64)).tolist() == [False, True]


def test_runs_find_keys_in_every_run_and_set_their_columns() -> None:
    """sqlite_ids.Runs: eight keys, then two (a run of their own: the eight are more than twice as many), then one
    (merged with the two); each key is found in whichever run holds it, with its value, and set there."""
    runs = sqlite_ids.Runs(np.int64)
    for keys in ([80, 10, 20, 30, 40, 50, 60, 70], [95, 5], [33]):
        runs.add(np.array(keys, np.int64), np.array(keys, np.int64) * 2)
    run, at = runs.find(np.array([33, 40, 41, 5], np.int64))
    assert (run >= 0).tolist() == [True, True, False, True] and len(set(run[run >= 0].tolist())) == 2
    assert runs.column(0, run, at).tolist() == [66, 80, 0, 10]
    hit = run >= 0
    runs.assign(0, run[hit], at[hit], np.array([-1, -2, -3], np.int64))
    assert runs.column(0, *runs.find(np.array([5, 33, 40, 95], np.int64))).tolist() == [-3, -1, -2, 190]
    assert (len(runs), runs.total(0)) == (11, 2 * (360 + 95 + 5 + 33) - 66 - 80 - 10 - 1 - 2 - 3)


def test_stakes_give_the_file_s_last_record_of_a_relation_where_both_hashes_agree() -> None:
    """sqlite_ids.Stakes: relation 1 into target 10 comes on lines 3 and 8 (two batches), relation 2 into 20 on line 5;
    asked for 1 into 10 it says line 8 (sequence number 2, the third record), for 2 into 20 line 5, for 2 with
    target 99 (a relation sharing the hash, into another target) and for 7 nothing."""
    stakes = sqlite_ids.Stakes()
    assert stakes.add(np.array([1, 2], np.int64), np.array([10, 20], np.int64), np.array([3, 5], np.int64)) == 0
    assert stakes.add(np.array([1], np.int64), np.array([10], np.int64), np.array([8], np.int64)) == 2
    seq, line = stakes.last(np.array([1, 2, 2, 7], np.int64), np.array([10, 20, 99, 10], np.int64))
    assert (seq.tolist(), line.tolist()) == ([2, 1, -1, -1], [8, 5, -1, -1])


def test_two_targets_sharing_a_first_hash_are_both_checked_for_their_shares(
        tmp_store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'d' hashed like 'c' by its first hash where stakes are kept (the second tells them apart): one batch with a
    stake into c and two into d keeps both targets for the share check, so d's owners, 0.6 (line 6) and 0.6 (line 7),
    are found over 100% (kept once by the first hash alone, d would go unchecked); c's 0.3 is not."""
    real = id_hashes.hashes
    for module in (sqlite_prepare, sqlite_stream):
        monkeypatch.setattr(module, "hashes", lambda ids: real(["c" if i == "d" else i for i in ids]))
    path = write(tmp_path / "in.jsonl", company("a"), company("b"), company("c"), company("d"), owns("a", "c", 0.3),
                 owns("a", "d", 0.6), owns("b", "d", 0.6))
    assert problems_of(tmp_store, path, size=4) == ["7: share"]
