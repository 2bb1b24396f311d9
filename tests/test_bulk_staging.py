"""`corpgraph db import`'s checks and CSV files without Neo4j (graph/stores/neo4j_bulk.py over
graph/stores/bulk_staging.py): the same problems, word for word, as `corpgraph load`'s streamed load into an empty
embedded store, nothing left behind when there are any, and the CSV files holding what that store holds (the last
record of an id wins, placeholders settled)."""
from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.stores import bulk_columns, neo4j_bulk
from corpgraph.graph.stores.id_hashes import hashes
from corpgraph.graph.stores.neo4j_bulk import import_files
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest, ingest_stream
from corpgraph.loaders.validate import iter_batches
from corpgraph.schema.errors import InvalidInput
from tests.factory import company, entity, owns, rel

COH = [{"scheme": "GB-COH", "id": "SC0123456"}]
LEI = [{"scheme": "LEI", "id": "5493001KJTIIGC8Y1R12"}]
INCIDENT = entity("Incident", "i", category="outage")
CASES = {  # lines, in batches of 2: problems met per batch and at the end of the file
    "field and unknown endpoint": [company("a"), owns("a", "b", 7), company("b"), company("c"), company("d"),
                                   owns("ghost", "c", 0.5)],
    "failed record not reported again": [{"type": "Company", "id": "a"}, company("b"), company("c"),
                                         owns("a", "b", 0.5)],
    "type declared earlier": [company("a"), company("b"), entity("Person", "a"), entity("Person", "b")],
    "endpoint of the wrong kind": [INCIDENT, company("c"), owns("i", "c", 0.5), rel("RESPONSIBLE_FOR", "c", "c")],
    "shares across batches": [company("a"), company("b"), company("c"), owns("a", "c", 0.6), company("d"),
                              owns("b", "c", 0.6)],
    "shares across days": [company("a"), company("b"), company("c"), owns("a", "c", 0.10, valid_from="2019-01-01"),
                           owns("a", "c", 0.05, valid_from="2020-01-01", valid_to="2021-01-01"),
                           owns("b", "c", 0.95, valid_from="2020-07-01")],
    "companies merged by identifier": [company("c1", identifiers=COH), company("x"), owns("x", "c1", 0.6),
                                       company("c2", identifiers=COH), company("y"), owns("y", "c2", 0.6)],
    "placeholder left open": [entity("Person", "t", placeholder=True), owns("a", "t", 0.5), company("a")],
    "placeholder retyped under a stake": [company("c"), entity("Person", "p", placeholder=True),
                                          owns("p", "c", 0.5), company("e"), INCIDENT | {"id": "p"}],
}
GOOD = {
    "forward references": [owns("a", "b", 0.5), company("x"), company("a"), company("b")],
    "one holding stated twice by merged owners": [company("c1", identifiers=COH), company("x", identifiers=LEI),
                                                   owns("x", "c1", 0.6), company("c2", identifiers=COH),
                                                   company("x2", identifiers=LEI), owns("x2", "c2", 0.55)],
    "ids defined again, placeholders settled": [
        entity("Person", "p1", placeholder=True), entity("Person", "p2", placeholder=True), company("a", "Alpha"),
        owns("a", "b", 0.2), company("b"), entity("Person", "p2", placeholder=True), entity("Person", "p1", "Real"),
        company("a", "Zeta"), owns("a", "b", 0.3), owns("a", "b", 0.3), entity("Person", "t", placeholder=True),
        company("t", "Real T"), owns("a", "t", 0.5)],
}


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    """A native JSON Lines file, one record a line (line n holds records[n - 1])."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def embedded_problems(path: Path, db: Path) -> list[str]:
    """What `corpgraph load`'s streamed load into an empty embedded store reports, in batches of 2."""
    with pytest.raises(InvalidInput) as refused:
        ingest_stream(SqliteStore(db), str(path), iter_batches(path, 2)[1])
    return [str(problem) for problem in refused.value.problems]


@pytest.mark.parametrize("name", CASES)
def test_the_import_reports_what_the_streamed_load_does_and_leaves_nothing(name: str, tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", CASES[name])
    expected = embedded_problems(path, tmp_path / "embedded.db")
    with pytest.raises(InvalidInput) as refused:
        import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    assert [str(problem) for problem in refused.value.problems] == expected and expected
    assert not (tmp_path / "csv").exists()  # made for the import: gone with every CSV file and the scratch file


def test_the_problems_name_file_line_and_field(tmp_path: Path) -> None:
    """Worked by hand: line 2's share 7 is no fraction; line 6's owner 'ghost' is in no line; in the other case
    line 6 brings c's owners to 0.6 + 0.6 = 120% with no start date."""
    path = write(tmp_path / "in.jsonl", CASES["field and unknown endpoint"])
    with pytest.raises(InvalidInput) as refused:
        import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    assert [f"{p.line}: {p.field}" for p in refused.value.problems] == ["2: share", "6: source"]
    assert refused.value.problems[1].reason == "unknown id 'ghost': load the entity first or in the same file"
    path = write(tmp_path / "over.jsonl", CASES["shares across batches"])
    with pytest.raises(InvalidInput) as refused:
        import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    assert [str(p) for p in refused.value.problems] == [
        f"{path}:6: share: owners' shares of 'c' valid with no start date sum to 120% (a 60%, b 60%), above 100%; "
        "correct a share or end the earlier stake with valid_to"]


def test_a_type_declared_earlier_is_worded_alike_by_every_check(tmp_path: Path) -> None:
    """Lines 3 and 4 give a and b (Companies at lines 1 and 2) another type: the in-memory check of one batch, the
    streamed load and the import say it in one wording (graph.write.rules.declared_earlier)."""
    path = write(tmp_path / "in.jsonl", CASES["type declared earlier"])
    expected = [f"{path}:{line}: type: id {id!r} is declared earlier as Company" for line, id in ((3, "a"), (4, "b"))]
    assert embedded_problems(path, tmp_path / "embedded.db") == expected
    with pytest.raises(InvalidInput) as refused:
        import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    assert [str(problem) for problem in refused.value.problems] == expected
    with pytest.raises(InvalidInput) as refused:
        ingest(SqliteStore(tmp_path / "whole.db"), next(iter(iter_batches(path, 10)[1])))
    assert [str(problem) for problem in refused.value.problems] == expected


def test_a_refused_import_into_a_folder_that_was_there_removes_only_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    path = write(tmp_path / "in.jsonl", CASES["field and unknown endpoint"])
    with pytest.raises(InvalidInput):
        import_files(iter_batches(path, 2)[1], folder)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("name", GOOD)
def test_the_csv_files_hold_what_the_embedded_store_holds(name: str, tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", GOOD[name])
    store = SqliteStore(tmp_path / "embedded.db")
    summary = ingest_stream(store, str(path), iter_batches(path, 2)[1])
    files = import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    entities = {row[0]: row[-1] for _, csv_path in files.nodes[:-2] for row in _rows(csv_path)}
    relations = {row[2]: row[-1] for _, csv_path in files.relationships for row in _rows(csv_path)}
    assert entities == {raw.id: raw.doc for raw in store.raw_entities("", 100)}
    assert relations == {raw.id: raw.doc for raw in store.raw_relations("", 100)}
    assert (files.entities, files.relations, files.placeholders) == (len(entities), len(relations),
                                                                      summary.placeholders)
    assert not list((tmp_path / "csv").glob("staging*"))


def test_the_last_record_of_an_id_wins(tmp_path: Path) -> None:
    """Worked by hand (batches of 2 lines): p1's placeholder gives way to its real record (line 7), p2's two
    placeholders are one (the only placeholder left), a is Zeta (line 8), a's stake in b is 30% (lines 9-10
    replace line 4's 20%), t's placeholder Person gives way to the Company of the same batch: 5 entities (p1,
    p2, a, b, t), in the order their last records came, and 2 stakes (a -> b, a -> t)."""
    path = write(tmp_path / "in.jsonl", GOOD["ids defined again, placeholders settled"])
    files = import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    nodes = {label: [(row[0], row[2]) for row in _rows(csv_path)] for label, csv_path in files.nodes[:-2]}
    assert nodes == {"Entity:Company": [("b", "B"), ("a", "Zeta"), ("t", "Real T")],
                     "Entity:Person": [("p2", "P2"), ("p1", "Real")]}
    stakes = [(row[0], row[1], row[3]) for row in _rows(files.relationships[0][1])]
    assert files.relationships[0][0] == "OWNS" and stakes == [("a", "b", "0.3"), ("a", "t", "0.5")]
    assert (files.entities, files.relations, files.placeholders) == (5, 2, 1)


def _rows(path: Path) -> list[list[str]]:
    """A CSV file's data rows (after the header)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


_IN_WORKERS = """
import json, os, sys
from pathlib import Path
from corpgraph.graph.stores.neo4j_bulk import import_files, prepare
from corpgraph.loaders.validate import map_batches
from corpgraph.schema.errors import InvalidInput

out, pids = {}, set()
def work(batch):
    pids.add(os.getpid())  # in a worker: the set travels with nothing, so the pid goes into the label
    prepared = prepare(batch)
    prepared.label += f"@{os.getpid()}"
    return prepared
def labelled(batches):
    for prepared in batches:
        label, pid = prepared.label.rsplit("@", 1)
        pids.add(int(pid))
        prepared.label = label
        yield prepared
for name, path in json.loads(sys.argv[1]).items():
    folder = Path(path).with_suffix(".csv.d")
    try:
        files = import_files(labelled(map_batches(path, 2, work, workers=2)[1]), folder)
        out[name] = {p.name: p.read_text() for p in sorted(folder.iterdir())}
    except InvalidInput as exc:
        out[name] = [str(problem) for problem in exc.problems]
def fail(batch):
    if any(rec.id == "c" for rec, _ in batch.entities):  # the second batch: the first went through
        raise ValueError("worker failed at c")
    return len(batch)
try:
    out["before"] = []
    for size in map_batches(json.loads(sys.argv[1])["field and unknown endpoint"], 2, fail, workers=2)[1]:
        out["before"].append(size)
except ValueError as exc:
    out["error"] = str(exc)
out["pids"] = sorted(pids - {os.getpid()})
print(json.dumps(out))
"""


def test_workers_give_the_problems_and_files_of_one_process(tmp_path: Path) -> None:
    """map_batches with two forked workers (each validating and preparing every other batch of 2 lines) feeds
    import_files the same batches in the same order: word for word the same problems, byte for byte the same CSV
    files as in this process; a worker's exception is raised in the parent. Run in a child process of its own, as
    a fork of the test process could copy the locks of another test's threads."""
    paths = {name: write(tmp_path / f"{index}.jsonl", lines)
             for index, (name, lines) in enumerate([*CASES.items(), *GOOD.items()])}
    done = subprocess.run([sys.executable, "-c", _IN_WORKERS, json.dumps({n: str(p) for n, p in paths.items()})],
                          capture_output=True, text=True, check=True)
    got = json.loads(done.stdout)
    for name, path in paths.items():
        folder = tmp_path / f"{name}.serial"
        try:
            files = import_files(iter_batches(path, 2)[1], folder)
            expected: Any = {p.name: p.read_text() for p in sorted(files.folder.iterdir())}
        except InvalidInput as exc:
            expected = [str(problem) for problem in exc.problems]
        assert got[name] == expected and expected, name
    assert got["error"] == "worker failed at c" and got["before"] == [1]  # line 2 (share 7) failed validation
    assert len(got["pids"]) >= 2  # workers prepared the batches, none of them the parent process


def _random_file(seed: int) -> tuple[list[dict[str, Any]], int]:
    """A small file of few ids defined again and again (real and placeholder records of several types, records that
    fail validation, stakes, data supplies naming incidents, shared identifiers, lines repeated word for word), and a
    batch size: the cases the checks' bookkeeping must tell apart."""
    rng = random.Random(seed)
    ids = [f"x{k}" for k in range(rng.randint(2, 6))]
    lines = [_random_record(rng, ids) for _ in range(rng.randint(3, 24))]
    for k in range(1, len(lines)):
        if rng.random() < 0.2:
            lines[k] = lines[rng.randrange(k)]
    return lines, rng.choice([1, 2, 3, 5])


def _random_record(rng: random.Random, ids: list[str]) -> dict[str, Any]:
    """One record of _random_file."""
    r, id = rng.random(), rng.choice(ids)
    if r < 0.25:
        return company(id, rng.choice(["A", "B"]), identifiers=rng.choice([COH, LEI, [], [], []]))
    if r < 0.38:
        return entity(rng.choice(["Person", "Incident", "Organization"]) if r < 0.32 else "Person", id,
                      placeholder=r >= 0.32 or rng.random() < 0.5)
    if r < 0.40:
        return {"type": "Company", "id": id}  # no name: fails validation
    if r < 0.85:
        days = {"valid_from": rng.choice(["2019-01-01", "2020-01-01", "2020-07-01"])} if rng.random() < 0.5 else {}
        ends = {"valid_to": "2021-01-01"} if rng.random() < 0.2 else {}
        return owns(rng.choice([*ids, "ghost"]), id, rng.choice([0.3, 0.5, 0.6, 0.95, 7]), **days, **ends)
    kind = rng.choice(["RESPONSIBLE_FOR", "DEPENDS_ON", "PERPETRATED", "SUPPLIED_DATA_TO"])
    return rel(kind, rng.choice(ids), id, **({"incident": rng.choice(ids)} if kind == "SUPPLIED_DATA_TO" else {}))


@pytest.mark.parametrize("seed", [*range(40), 1005])  # 1005: merged owners with stakes of one day, in one batch
def test_random_files_give_the_streamed_loads_problems_and_rows(seed: int, tmp_path: Path) -> None:
    """The import's array checks against `corpgraph load`'s streamed load on small random files: the same problems
    word for word, or, without any, the same documents in the CSV files as in the embedded store."""
    lines, size = _random_file(seed)
    path = write(tmp_path / "in.jsonl", lines)
    store = SqliteStore(tmp_path / "embedded.db")
    try:
        ingest_stream(store, str(path), iter_batches(path, size)[1])
        expected: list[str] | None = None
    except InvalidInput as exc:
        expected = [str(problem) for problem in exc.problems]
    try:
        files = import_files(iter_batches(path, size)[1], tmp_path / "csv")
        got: list[str] | None = None
    except InvalidInput as exc:
        got = [str(problem) for problem in exc.problems]
    assert got == expected
    if expected is None:
        assert {row[0]: row[-1] for _, csv_path in files.nodes[:-2] for row in _rows(csv_path)} == {
            raw.id: raw.doc for raw in store.raw_entities("", 1000)}
        assert {row[2]: row[-1] for _, csv_path in files.relationships for row in _rows(csv_path)} == {
            raw.id: raw.doc for raw in store.raw_relations("", 1000)}


@pytest.mark.parametrize("lines", [[company("a"), company("b"), company("c"), owns("b", "c", 0.5)],
                                   [company("a"), company("c"), owns("b", "c", 0.5)]], ids=["entity", "reference"])
def test_two_ids_sharing_a_hash_refuse_the_import_and_write_nothing(lines: list[dict[str, Any]], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """'b' given the first hash of 'a' (its second hash stays real): the checks would take them for one id (a's row
    dropped as replaced by b's, or the stake's unknown owner 'b' taken for 'a', silently), so the import is refused,
    naming the cause, and leaves no file."""
    path = write(tmp_path / "in.jsonl", lines)
    monkeypatch.setattr(bulk_columns, "_hashes", lambda ids: hashes(["a" if i == "b" else i for i in ids]))
    with pytest.raises(InvalidInput) as refused:
        import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    [problem] = refused.value.problems
    assert (problem.file, problem.field) == (str(path), "id")
    assert "two different ids share one 64-bit hash in this run" in problem.reason
    assert "nothing was imported" in problem.reason and "new seed" in problem.reason
    assert not (tmp_path / "csv").exists()


def test_one_id_hashed_alike_everywhere_still_imports(tmp_path: Path) -> None:
    """The same ids as above with the real hashes: an entity, a reference and an identifier key of one id each
    carry one pair of hashes, so nothing is refused: 3 companies and 1 stake."""
    path = write(tmp_path / "in.jsonl", [company("a", identifiers=COH), company("b"), company("c", identifiers=COH),
                                         owns("b", "c", 0.5)])
    files = import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    assert (files.entities, files.relations, files.placeholders) == (3, 1, 0)
    stakes = [(row[0], row[1]) for row in _rows(files.relationships[0][1])]
    assert stakes == [("b", "c")]


def test_two_documents_of_one_relation_sharing_a_hash_refuse_the_import(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Worked by hand (batches of 2): b is declared a Person on line 4, so a's stake in b is refused on line 3 (by
    the final types: b's records disagree) and again on line 5, re-stated at 60% (by b's type then). With line 5's
    document given the first hash of line 3's (its second hash stays real), the checks would take it as unchanged
    and not check it again (line 5's problem lost), so the import is refused, naming the cause."""
    lines = [company("a"), company("b"), owns("a", "b", 0.5), entity("Person", "b"), owns("a", "b", 0.6)]
    path = write(tmp_path / "in.jsonl", lines)
    with pytest.raises(InvalidInput) as refused:
        import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    assert [f"{p.line}: {p.field}" for p in refused.value.problems] == ["3: target", "4: type", "5: target"]
    real = bulk_columns.document_hashes
    monkeypatch.setattr(neo4j_bulk, "document_hashes",
                        lambda doc: (real(doc.replace("0.6", "0.5"))[0], real(doc)[1]))
    with pytest.raises(InvalidInput) as refused:
        import_files(iter_batches(path, 2)[1], tmp_path / "csv")
    [problem] = refused.value.problems
    assert (problem.file, problem.field) == (str(path), "id")
    assert problem.reason.startswith("two different documents of one relation share one 64-bit hash in this run")
    assert "nothing was imported" in problem.reason and "new seed" in problem.reason
    assert not (tmp_path / "csv").exists()
