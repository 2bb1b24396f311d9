"""An imported file read by a child process (loaders.readahead) gives exactly the stream read in-process: the
same records with the same origins, the same problems in the same order, and the load's outcome unchanged."""
from __future__ import annotations

import json
import multiprocessing
import os
import threading
from datetime import date
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.write.ingest import ingest_stream
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders import readahead
from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.formats import Raw, get_format
from corpgraph.loaders.readahead import read_ahead
from corpgraph.loaders.validate import iter_batches, validate_stream
from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import InvalidInput, Problem

FIXTURES = Path(__file__).parent / "fixtures"


def sent_id(item: object) -> Any:
    """The `id` of a record the child sent as JSON text."""
    assert isinstance(item, tuple) and isinstance(item[1], bytes), item
    return json.loads(item[1])["id"]


def as_list(items: Any) -> list[Any]:
    """A stream as comparable values (Origin.fields is left out of Origin's equality, so it is added here; a
    record sent as JSON text is read back)."""
    return [(item[0], dict(item[0].fields or {}), json.loads(item[1]) if isinstance(item[1], bytes) else item[1])
            if isinstance(item, tuple) else item for item in items]


@pytest.mark.parametrize(("name", "path"), [
    ("gleif", FIXTURES / "gleif" / "lei.xml"),
    ("gleif", FIXTURES / "gleif" / "rr.xml"),
    ("gleif", FIXTURES / "gleif" / "repex.xml"),
    ("gleif", FIXTURES / "gleif" / "api-relationship-records.json"),
    ("ftm", FIXTURES / "ftm" / "world.ftm.jsonl"),
])
def test_the_child_reads_the_same_stream(name: str, path: Path) -> None:
    fmt = get_format(name)
    here = as_list(fmt.read(path))
    assert here  # the fixture has records: the comparison is not of two empty lists
    assert as_list(read_ahead(fmt, path)) == here


def test_problems_come_through_in_order_with_their_lines(tmp_path: Path) -> None:
    # Line 2 refers to no entity by a broken schema (an FtM Ownership without an owner); line 3 is not JSON.
    path = tmp_path / "bad.ftm.jsonl"
    lines = [{"id": "c1", "schema": "Company", "properties": {"name": ["C1"]}},
             {"id": "o1", "schema": "Ownership", "properties": {"asset": ["c1"]}}]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{not json\n")
    fmt = get_format("ftm")
    here = as_list(fmt.read(path))
    assert any(not isinstance(item, tuple) for item in here)  # the file does carry problems
    assert as_list(read_ahead(fmt, path)) == here


def test_many_chunks_keep_their_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "CHUNK", 3)  # 50 companies: 17 messages, the last of 2
    path = tmp_path / "many.ftm.jsonl"
    path.write_text("".join(json.dumps({"id": f"c{i}", "schema": "Company", "properties": {"name": [f"C{i}"]}}) + "\n"
                            for i in range(50)))
    got = [sent_id(item) for item in read_ahead(get_format("ftm"), path)]
    assert got == [f"ftm:c{i}" for i in range(50)]


class Broken:
    """A format whose reader fails after one record, as a bug or an unreadable file would."""

    name = "broken"

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def sniff(self, head: bytes, path: Path) -> bool:
        """Never detected: only ever given."""
        return False

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """One record, then the error."""
        yield Origin(str(path), 1), {"type": "Company", "id": "a", "name": "A"}
        raise self.error


def test_the_child_is_used_only_with_a_core_to_spare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.ftm.jsonl"
    path.write_bytes(b" " * (readahead.MIN_BYTES + 1))
    ftm, native = get_format("ftm"), get_format("native")
    monkeypatch.setattr(readahead, "can_fork", lambda: True)  # this test process may run other threads
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.9, 0.0, 0.0))  # 2 cores, one busy: one spare
    assert readahead.worth_a_child(ftm, path) and not readahead.worth_a_child(native, path)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 0.0, 0.0))  # more than one core busy
    assert not readahead.worth_a_child(ftm, path)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))  # idle, but one core only
    assert not readahead.worth_a_child(ftm, path)


def test_the_childs_error_is_raised_here(tmp_path: Path) -> None:
    path = tmp_path / "any.txt"
    path.write_text("x")
    stream = read_ahead(Broken(ValueError("boom")), path)
    assert sent_id(next(stream)) == "a"
    with pytest.raises(ValueError, match="boom"):
        next(stream)


def test_an_invalid_input_keeps_its_problems(tmp_path: Path) -> None:
    path = tmp_path / "any.txt"
    path.write_text("x")
    problem = Problem(str(path), 7, "(file)", "cannot read it")
    with pytest.raises(InvalidInput) as raised:
        list(read_ahead(Broken(InvalidInput([problem])), path))
    assert raised.value.problems == [problem]


def test_a_load_through_the_child_equals_one_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = FIXTURES / "gleif" / "rr.xml"
    stores = []
    monkeypatch.setattr(readahead, "spare_core", lambda: True)  # through the child however busy the machine is
    for threshold in (10**12, 0):  # in-process, then every imported file through a child
        monkeypatch.setattr(readahead, "MIN_BYTES", threshold)
        store = SqliteStore(tmp_path / f"s{threshold}.db")
        _, batches = iter_batches(path, 7)
        ingest_stream(store, str(path), batches)
        stores.append((store.raw_entities("", 100_000), store.raw_relations("", 100_000)))
        store.close()
    assert stores[0][0] and stores[0] == stores[1]


def test_a_refused_file_gives_the_same_problems_through_the_child(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    text = (FIXTURES / "gleif" / "rr.xml").read_text().replace("IS_FUND-MANAGED_BY", "IS_BEST_FRIEND_OF")
    path = tmp_path / "rr.xml"
    path.write_text(text)
    got = []
    monkeypatch.setattr(readahead, "spare_core", lambda: True)
    for threshold in (10**12, 0):
        monkeypatch.setattr(readahead, "MIN_BYTES", threshold)
        store = SqliteStore(tmp_path / f"s{threshold}.db")
        with pytest.raises(InvalidInput) as refused:
            _, batches = iter_batches(path, 5)
            ingest_stream(store, str(path), batches)
        assert store.counts() == {}
        store.close()
        got.append([str(p) for p in refused.value.problems])
    assert got[0] and got[0] == got[1]


class Given:
    """A format that yields the records it is given, each on its own line."""

    name = "given"

    def __init__(self, *records: dict[str, Any]) -> None:
        self.records = records

    def sniff(self, head: bytes, path: Path) -> bool:
        """Never detected: only ever given."""
        return False

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """The records, at lines 1, 2, ..."""
        for line, record in enumerate(self.records, start=1):
            yield Origin(str(path), line), record


def test_records_sent_as_text_validate_as_the_dicts_would(tmp_path: Path) -> None:
    path = tmp_path / "any.txt"
    path.write_text("x")
    fmt = Given({"type": "Company", "id": "a", "name": "A", "aliases": ("A1", "A2")},
                {"type": "OWNS", "source": "a", "target": "b", "share": 7},  # a fraction above 1: refused
                {"type": "Company", "id": "b", "name": "B", "sources": [{"publisher": "p", "title": "t",
                                                                         "published_on": date(2020, 1, 2)}]},
                {"type": "Company", "id": "c", "country": "XX"},  # no name, and no such country
                {"type": "OWNS", "source": "b", "target": "a", "share": float("nan")})
    sent = list(read_ahead(fmt, path))
    first, third = sent[0], sent[2]
    assert isinstance(first, tuple) and isinstance(first[1], bytes)
    assert isinstance(third, tuple) and isinstance(third[1], dict)  # a date object stays a dict
    here, there = validate_stream(str(path), fmt.read(path)), validate_stream(str(path), sent)
    assert [str(p) for p in there.problems] == [str(p) for p in here.problems]
    assert [p.line for p in here.problems] == [2, 4, 4, 5]  # share 7; name and country; NaN
    assert there.entities == here.entities and [r.id for r, _ in here.entities] == ["a", "b"]
    assert there.failed_ids == here.failed_ids == {"c"}


def test_with_another_thread_running_the_child_is_spawned_and_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork would copy the locks another thread holds (the suite once hung on SQLite's allocator mutex): with a
    second thread alive the child is spawned, and the stream is the same."""
    path = FIXTURES / "ftm" / "world.ftm.jsonl"
    fmt = get_format("ftm")
    started: list[str] = []
    real = multiprocessing.get_context

    def get_context(method: str) -> Any:
        started.append(method)
        return real(method)
    monkeypatch.setattr(multiprocessing, "get_context", get_context)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert as_list(read_ahead(fmt, path)) == as_list(fmt.read(path))
    finally:
        stop.set()
        other.join()
    assert started == ["spawn"]
