"""The embedded store's connections: one per live thread, closed when the thread ends, so a server that starts a
thread per write (the projection builder) keeps a flat count of open files however many writes it takes."""
from __future__ import annotations

import os
import sqlite3
import time
import threading
from pathlib import Path

import httpx

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import companies_owning
from tests.live_server import open_files, rss_mib, server_process

UPSERT = "mutation($r: [JSON!]!) { upsertRecords(records: $r) { entities relations } }"


def _files() -> int:
    """Open files of this process."""
    return len(os.listdir("/proc/self/fd"))


def test_a_thread_s_connection_is_closed_when_the_thread_ends(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 0.5)))
    before = _files()

    def read_once() -> None:
        assert tmp_store.revision() == 1

    for _ in range(300):  # more threads than a 256-file limit would allow connections (each is 1-3 files)
        thread = threading.Thread(target=read_once)
        thread.start()
        thread.join()
    assert tmp_store.open_connections() == 1  # the opening (this) thread's
    assert _files() <= before + 3  # at most one connection's files (db, -wal, -shm) beyond the start


def test_connections_of_live_threads_stay_open_and_close_closes_them(tmp_store: SqliteStore) -> None:
    started, release = threading.Barrier(4), threading.Event()

    def hold() -> None:
        tmp_store.revision()
        started.wait()
        release.wait()
        assert tmp_store.revision() == 0  # the thread's connection is still usable while the thread lives

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    started.wait()
    assert tmp_store.open_connections() == 4  # three threads and this one
    release.set()
    for thread in threads:
        thread.join()
    assert tmp_store.open_connections() == 1
    tmp_store.close()
    assert tmp_store.open_connections() == 0


def test_600_mutations_under_ulimit_256_all_succeed_with_flat_files_and_memory(tmp_path: Path) -> None:
    db = tmp_path / "corpgraph.db"
    store = SqliteStore(db)
    ingest(store, companies_owning(("a", "b", 0.5)))
    store.close()
    with server_process(db, token="t", nofile=256) as (url, process), \
            httpx.Client(trust_env=False, timeout=60, headers={"Authorization": "Bearer t"}) as client:
        assert client.post(f"{url}/graphql", json={"query": '{ owners(companyId: "b") { direct } }'}).status_code == 200
        files, rss = open_files(process.pid), [rss_mib(process.pid)]
        for i in range(600):  # each write starts a projection builder thread (graph.live)
            if i == 300:
                rss.append(rss_mib(process.pid))
            records = [{"type": "Company", "id": f"x{i}", "name": "X"},
                       {"type": "OWNS", "source": f"x{i}", "target": "b", "share": 0.0005}]  # 0.5 + 600 x 0.0005 <= 1
            answer = client.post(f"{url}/graphql", json={"query": UPSERT, "variables": {"r": records}})
            assert answer.status_code == 200 and "errors" not in answer.json(), (i, answer.text[:300])
        owners = client.post(f"{url}/graphql", json={"query": '{ owners(companyId: "b", first: 1000) { direct } }'})
        assert len(owners.json()["data"]["owners"]) == 601
        # Flat: a few files may come and go (a builder's connection while it runs, a socket), not one per write.
        assert open_files(process.pid) <= files + 6
        # A leaked connection per write held ~0.25 MiB (its page cache): ~75 MiB per 300 writes. Without leaks the
        # threads' SQLite page caches (32 MiB each at most) still grow with the file: measured +11 MiB over the
        # first 300 writes and +8 to +9 over the next (Python objects: +0.25 MiB for 400 writes, tracemalloc).
        rss.append(rss_mib(process.pid))
        assert rss[2] - rss[1] <= 20, rss


def test_a_writer_waiting_for_another_process_s_lock_holds_up_no_new_reader(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "corpgraph.db", busy_timeout=10)
    blocker = sqlite3.connect(tmp_path / "corpgraph.db", isolation_level=None)  # as another process's load
    blocker.execute("BEGIN IMMEDIATE")
    wrote: list[object] = []
    writer = threading.Thread(target=lambda: wrote.append(store.write(companies_owning(("a", "b", 0.5)))))
    try:
        writer.start()
        time.sleep(0.3)  # the writer now waits in BEGIN IMMEDIATE (up to 10 s)
        seconds: list[float] = []

        def read() -> None:  # a thread that never used the store: it opens its connection now
            started = time.perf_counter()
            assert store.revision() == 0
            seconds.append(time.perf_counter() - started)

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=20)
        assert seconds and seconds[0] < 1.0, seconds  # main: ~10 s (the writer held the lock _connect takes)
        assert writer.is_alive() and not wrote
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    writer.join(timeout=20)
    assert store.revision() == 1 and len(wrote) == 1
    store.close()
