"""Figures from a real Neo4j Community server (tools/neo4j-server): load rate, projection feed, query plans.

    python -m benchmarks.on_neo4j --companies 23000          # ~100k records (the figures in docs/neo4j.md)
    python -m benchmarks.on_neo4j --companies 3000 --batch-sizes 1000,10000   # a quick look

Generates a world (benchmarks/generate.py), then for each batch size empties the store and loads the file as a
user does, `corpgraph load --store neo4j FILE` in a child process with CORPGRAPH_BATCH_SIZE at that size (reading,
validation, the checks and a batched load of transactions of that many records, published at once), printing
records/s, the loader's peak RSS (the child's, from wait4), the largest transaction's peak memory as Neo4j estimates
it, and the CPU time the server and the loader spent per record (after one untimed load that warms the JVM up: the
first load is several times slower). Until round 11 the load was `ingest` of the file validated beforehand, in this
process: its records/s did not count reading and validating. With the last load in place it
times the projection feed (`iter_edges` alone and `build_projection`, relations/s, best of 5) and PROFILEs every read statement the store
sends, with realistic parameters, printing the plan's operators and whether an index (or the count store)
answers it. The server gets a 1 GB heap, the throughput garbage collector (ParallelGC) and no per-transaction
cap; it is stopped at the end.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j

from benchmarks.generate import generate
from corpgraph.graph.identity.normalize import query_key
from corpgraph.graph.projection.build import build_projection
from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.base import edge_row
from corpgraph.graph.stores.codec import encode
from corpgraph.graph.stores.neo4j import Neo4jStore, _entity_row, open_neo4j_store
from corpgraph.loaders.validate import load_file
from corpgraph.schema.batch import Batch
from corpgraph.schema.declaration import ANALYTIC_RELATIONS, relation_id
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Company, Owns
from tests.neo4j_server import THROUGHPUT_GC, Neo4jServer, find_java, start_neo4j_server

# Operators that read through an index or the count store, and those that read every node/relationship of a
# label or type (a "label scan": fine for a whole-store export, wrong on a hot path).
_INDEXED = ("IndexSeek", "IndexScan", "IndexContainsScan", "IndexEndsWithScan", "CountFromCountStore")  # substrings
_SCANS = ("AllNodesScan", "NodeByLabelScan", "AllRelationshipsScan", "RelationshipTypeScan")
# Reads that the API answers per request; the others serve whole-store jobs (counts, exports, the feed).
TARGET_RATE = 50_000  # records/s, issue 25, for the 1M-company world
# The server's settings for a load (the launcher's BASE_SETTINGS under them): no per-transaction cap.
LOAD_SETTINGS = {"db.memory.transaction.max": "0", "server.memory.pagecache.size": "256m"}
_HOT = {"ENTITY_TYPES", "GET_ENTITIES", "SEARCH", "list_entities", "get_relations", "relations_touching",
        "READ_REVISION", "IDS_WITH_IDENTIFIER", "edge_columns"}


@dataclass
class Load:
    """One load of the world at one batch size."""

    batch_size: int
    records: int
    write_s: float
    peak_tx_mb: float
    server_cpu_s: float  # the Neo4j JVM's CPU time (all threads) during the load
    loader_cpu_s: float  # this process's
    threads: dict[str, float]  # the server's CPU seconds during the load by thread group (_thread_group)
    loader_rss_mb: float  # the loading process's peak resident set

    @property
    def rate(self) -> float:
        """Records per second through `corpgraph load` (reading, validation, checks and writes)."""
        return self.records / self.write_s


def main() -> None:
    """Parse the options, run every measurement, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=23_000, help="world size (23,000 companies ~ 100k records)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-sizes", default="500,2000,5000,10000,20000", help="UNWIND rows per statement")
    parser.add_argument("--heap", default="1g", help="the server's -Xmx")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                        help="a neo4j.conf setting for the server, over the benchmark's (repeatable)")
    parser.add_argument("--jvm", action="append", default=[], metavar="OPTION",
                        help="a JVM option for the server, given as --jvm=-Xmn512m (repeatable)")
    parser.add_argument("--loads-only", action="store_true", help="skip the feed and the PROFILE of the reads")
    parser.add_argument("--loads", type=int, default=1, help="warm loads at each batch size (all printed)")
    parser.add_argument("--warm", type=int, default=1,
                        help="loads of the same file again into the loaded database, at the largest batch size")
    parser.add_argument("--jfr", type=Path, metavar="FILE",
                        help="record the server with Java Flight Recorder (settings=profile) over the warm loads into "
                             "FILE (read it with `jfr print --events jdk.ExecutionSample FILE`; the recorder costs "
                             "the server some CPU, so the table's figures are not comparable then)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.batch_sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="corpgraph-neo4j-bench-") as folder:
        work = Path(folder)
        world = generate(work / "world.jsonl", args.companies, seed=args.seed)
        records = world.records
        print(f"world: {args.companies:,} companies, {records:,} records ({world.path.stat().st_size / 1e6:.1f} MB)")
        started = time.perf_counter()
        settings = {**LOAD_SETTINGS, **dict(pair.split("=", 1) for pair in args.setting)}
        server = start_neo4j_server(work / "neo4j", settings, heap=args.heap, jvm_options=tuple(args.jvm),
                                    gc=THROUGHPUT_GC)
        print(f"Neo4j started in {time.perf_counter() - started:.1f} s at {server.uri} (heap {args.heap}; "
              f"{', '.join(f'{k}={v}' for k, v in settings.items())}; JVM {' '.join(args.jvm) or 'defaults'})")
        try:
            server.init_schema()
            store = open_neo4j_store(server.settings())
            cold = _load(server, world.path, records, max(sizes))
            print(f"first load (cold JVM, not compared): {cold.rate:,.0f} records/s, loader peak RSS "
                  f"{cold.loader_rss_mb:,.0f} MB")
            if args.jfr is not None:
                _jcmd(server, "JFR.start", "name=corpgraph", "settings=profile", f"filename={args.jfr.resolve()}")
            loads = [_load(server, world.path, records, size) for size in sizes for _ in range(args.loads)]
            if args.jfr is not None:
                _jcmd(server, "JFR.stop", "name=corpgraph")
                print(f"Java Flight Recorder profile of the warm loads: {args.jfr}")
            if loads:
                _print_loads(loads)
            again = [_load(server, world.path, records, max(sizes), empty=False) for _ in range(args.warm)]
            if again:
                _print_loads(again, "the same file again into the database that holds it (every record stored as "
                                    "it is: read, checked against the stored records, compared, nothing written)")
            print(f"plans Neo4j discarded as stale over the loads (debug.log): {_stale_plans(server)}")
            if not args.loads_only:
                _print_feed(store, server.process.pid)
                _print_plans(server, store, load_file(world.path))  # the whole world in memory, for realistic ids
            store.close()
        finally:
            started = time.perf_counter()
            server.stop()
            print(f"\nNeo4j stopped in {time.perf_counter() - started:.1f} s")


def _load(server: Neo4jServer, path: Path, records: int, size: int, empty: bool = True) -> Load:
    """Empty the store (unless told not to: a second load into the database in use), then `corpgraph load` the world
    at one batch size in a child process, watching the transaction's memory; the child's CPU and peak RSS come from
    wait4."""
    if empty:
        _empty(server)
    env = {**os.environ, **server.env(), "CORPGRAPH_BATCH_SIZE": str(size)}
    with _PeakMemory(server) as peak:
        started, server_cpu = time.perf_counter(), _cpu_seconds(server.process.pid)
        threads = _thread_cpu(server.process.pid)
        child = subprocess.Popen([sys.executable, "-c", "from corpgraph.api.cli import app; app()", "load",
                                  "--store", "neo4j", str(path)], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        assert child.stderr is not None
        errors = child.stderr.read()  # read while it runs: a full pipe would stop it
        _, status, usage = os.wait4(child.pid, 0)
        write_s = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"corpgraph load failed ({child.returncode}): {errors.decode(errors='replace')[-2000:]}")
    after = _thread_cpu(server.process.pid)
    return Load(size, records, write_s, peak.bytes / 2**20, _cpu_seconds(server.process.pid) - server_cpu,
                usage.ru_utime + usage.ru_stime, {group: after[group] - threads.get(group, 0.0) for group in after},
                usage.ru_maxrss / 1024)  # KiB on Linux


def _jcmd(server: Neo4jServer, *command: str) -> None:
    """Run a JDK diagnostic command (jcmd, beside the server's java) in the server's JVM."""
    subprocess.run([str(Path(find_java()).resolve().parent / "jcmd"), str(server.process.pid), *command], check=True,
                   stdout=subprocess.DEVNULL)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far, from /proc (the server's share of the machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of a process's live threads by _thread_group (a thread that ended is not counted)."""
    out: dict[str, float] = dict.fromkeys(_GROUPS, 0.0)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended between the listing and the read
        out[_thread_group(name)] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


_GROUPS = ("bolt", "jit", "gc", "index", "io", "other")


def _thread_group(name: str) -> str:
    """Which part of the server a JVM thread's name (/proc comm, its first 15 characters) says it is: the Bolt
    workers that run the statements and commits, the JIT (compilers and code cache sweeper), the garbage
    collector, index sampling and population, the page cache and checkpoints, or the rest."""
    groups = {"neo4j.BoltWork": "bolt", "C1 Compiler": "jit", "C2 Compiler": "jit", "Sweeper thread": "jit",
              "GC Thread": "gc", "G1 ": "gc", "VM Thread": "gc", "neo4j.IndexSam": "index",
              "neo4j.IndexPop": "index", "neo4j.PageCach": "io", "MuninnPageCach": "io", "neo4j.CheckPoi": "io"}
    return next((group for prefix, group in groups.items() if name.startswith(prefix)), "other")


def _stale_plans(server: Neo4jServer) -> int:
    """How many cached query plans the server replanned because its statistics moved (its debug.log says so)."""
    log = server.home / "logs" / "debug.log"
    return sum("stale" in line.lower() for line in log.read_text(errors="replace").splitlines()) if log.exists() else 0


def _own_cpu() -> float:
    """This process's user and system CPU seconds so far (every thread)."""
    times = os.times()
    return times.user + times.system


def _print_loads(loads: list[Load], what: str = "") -> None:
    """The load table, best rate marked."""
    best = max(loads, key=lambda x: x.rate)
    print("\nload through `corpgraph load --store neo4j` (reading, validation, checks, transactions of `batch size` "
          f"records){': ' + what if what else ''}")
    print("(server/loader CPU: the Neo4j JVM's and this process's CPU time during the load, in microseconds a record;"
          f" target {TARGET_RATE:,} records/s; load average {os.getloadavg()[0]:.1f})")
    print(f"{'batch size':>10} | {'write s':>7} | {'records/s':>9} | {'peak tx MB':>10} | {'tx bytes/record':>15} | "
          f"{'server us/rec':>13} | {'loader us/rec':>13} | {'loader RSS MB':>13} | server us/rec by thread")
    for load in loads:
        mark = "  <- best" if load is best else ""
        print(f"{load.batch_size:>10,} | {load.write_s:>7.1f} | {load.rate:>9,.0f} | {load.peak_tx_mb:>10,.0f} | "
              f"{load.peak_tx_mb * 2**20 / load.records:>15,.0f} | {load.server_cpu_s * 1e6 / load.records:>13,.0f} | "
              f"{load.loader_cpu_s * 1e6 / load.records:>13,.0f} | {load.loader_rss_mb:>13,.0f} | "
              f"{', '.join(f'{k} {v * 1e6 / load.records:.0f}' for k, v in load.threads.items())}{mark}")


def _print_feed(store: Neo4jStore, server_pid: int, rounds: int = 5) -> None:
    """The projection feed: every analytic relation read (iter_edges alone, then built into the projection),
    best of `rounds` (the first also plans the statements), with the CPU seconds this process and the server
    spent on that round: on a shared machine the wall time is mostly waiting for a core, the CPU time is not."""
    print("\nprojection feed (store.iter_edges of the analytic relations; pages of 50,000 as columns)")
    feeds: tuple[tuple[str, Callable[[], int]], ...] = (
        ("iter_edges", lambda: sum(len(page) for page in store.iter_edges(ANALYTIC_RELATIONS))),
        ("build_projection", lambda: len(build_projection(store).relation_ids)))
    for name, work in feeds:
        rounds_run = []
        for _ in range(rounds):
            started, client, server = time.perf_counter(), _own_cpu(), _cpu_seconds(server_pid)
            count = work()
            rounds_run.append((time.perf_counter() - started, _own_cpu() - client, _cpu_seconds(server_pid) - server))
        best, client_s, server_s = min(rounds_run)
        print(f"{name:>16}: {count:,} relations, best {best:.2f} s = {count / best:,.0f} relations/s; CPU of that round: "
              f"client {client_s:.2f} s, server {server_s:.2f} s = {count / (client_s + server_s):,.0f} relations per "
              f"CPU second (load average {os.getloadavg()[0]:.1f}; rounds: {', '.join(f'{r[0]:.2f}' for r in rounds_run)} s)")


def _print_plans(server: Neo4jServer, store: Neo4jStore, batch: Batch) -> None:
    """PROFILE every read statement with realistic parameters; operators, db hits, index use."""
    print("\nPROFILE of every read statement (hot = answered per API request)")
    print(f"{'statement':<34} | {'hot':^3} | {'rows':>7} | {'db hits':>9} | {'ms':>6} | index | operators")
    with neo4j.GraphDatabase.driver(server.uri, auth=(server.username, server.password),
                                    notifications_min_severity="OFF") as driver:
        for name, statement, params in [*_reads(batch), *_writes(batch)]:
            with driver.session() as session:
                started = time.perf_counter()
                # $key: the revision node every read looks at for an unpublished load (cypher.HIDDEN)
                result = session.run("PROFILE " + statement, {"key": cypher.REVISION_KEY, "load": None, **params})
                rows = len(list(result))
                profile = result.consume().profile
                assert profile is not None, "a PROFILEd statement's summary carries its plan"
                ms = (time.perf_counter() - started) * 1000
            operators = list(_operators(profile))
            indexed = any(part in op for op in operators for part in _INDEXED)
            scans = [op for op in operators if op.endswith(_SCANS)]
            verdict = "yes" if indexed and not scans else ("SCAN" if scans else "no")
            hot = "*" if name.split("(")[0] in _HOT else ""
            hits = sum(_db_hits(profile))
            print(f"{name:<34} | {hot:^3} | {rows:>7,} | {hits:>9,} | {ms:>6.0f} | {verdict:<5} | "
                  f"{' > '.join(_dedupe(operators))}")


def _reads(batch: Batch) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name, statement, parameters) for every read the store sends, parameters drawn from the loaded world."""
    rng = random.Random(1)
    ids = sorted(rec.id for rec, _ in batch.entities)
    some = rng.sample(ids, 100)
    companies = [rec for rec, _ in batch.entities if isinstance(rec, Company)]
    key = query_key(rng.choice(companies).name)
    owns = sorted(relation_id(rec) for rec, _ in batch.relations if isinstance(rec, Owns))
    yield "ENTITY_TYPES", cypher.ENTITY_TYPES, {"ids": some}
    yield "GET_ENTITIES", cypher.GET_ENTITIES, {"ids": some}
    yield "SEARCH", cypher.SEARCH, {"text": key, "exact": f"\n{key}\n", "prefix": f"\n{key}",
                                    "types": [t.value for t in EntityType], "limit": 20, "topics": None}
    yield "SEARCH(prefix 'company 12')", cypher.SEARCH, {"text": "company12", "exact": "\ncompany12\n",
                                                         "prefix": "\ncompany12", "types": ["Company"], "limit": 20,
                                                         "topics": None}
    yield "READ_REVISION", cypher.READ_REVISION, {"key": cypher.REVISION_KEY}
    yield "IDS_WITH_IDENTIFIER", cypher.IDS_WITH_IDENTIFIER, {"needle": "\nlei:529900t8bm49aursdo55\n"}
    yield "list_entities(Company)", cypher.list_entities(EntityType.COMPANY), {"type": "Company", "after": "c5",
                                                                                       "limit": 100}
    yield "get_relations(OWNS)", cypher.get_relations(RelationType.OWNS), {"ids": rng.sample(owns, 100)}
    yield "relations_touching(OWNS)", cypher.relations_touching(RelationType.OWNS), {"ids": some}
    yield "edge_columns(OWNS) first", cypher.edge_columns(RelationType.OWNS), {"after": "", "limit": 50_000}
    yield "edge_columns(OWNS) later", cypher.edge_columns(RelationType.OWNS), {"after": owns[len(owns) // 2],
                                                                            "limit": 50_000}
    yield "COUNT_ENTITIES", cypher.COUNT_ENTITIES, {}
    yield "COUNT_RELATIONS", cypher.COUNT_RELATIONS, {}
    yield "SHARED_IDENTIFIERS", cypher.SHARED_IDENTIFIERS, {}
    yield "JUDGEMENTS", cypher.JUDGEMENTS, {}


def _writes(batch: Batch) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The two bulk write statements with 1,000 rows each (the world is loaded: they MERGE onto what is there)."""
    entities = {rec.id: rec for rec, _ in batch.entities}
    companies = [_entity_row(rec) for rec in entities.values() if isinstance(rec, Company)][:1000]
    owns = [{**edge_row(relation_id(rec), rec), "doc": encode(rec)} for rec, _ in batch.relations
            if isinstance(rec, Owns) and isinstance(entities[rec.source], Company)][:1000]
    yield "merge_entities(Company) write", cypher.merge_entities(EntityType.COMPANY), {"rows": companies}
    yield ("merge_relations(OWNS) write", cypher.merge_relations(RelationType.OWNS, EntityType.COMPANY,
                                                                 EntityType.COMPANY), {"rows": owns})


def _operators(plan: dict[str, Any]) -> Iterator[str]:
    """Operator names of a profiled plan, leaves first."""
    for child in plan.get("children", []):
        yield from _operators(child)
    yield str(plan.get("operatorType", "?")).split("@")[0]


def _db_hits(plan: dict[str, Any]) -> Iterator[int]:
    """Database hits of every operator of a profiled plan."""
    yield int(plan.get("dbHits", 0))
    for child in plan.get("children", []):
        yield from _db_hits(child)


def _dedupe(names: list[str]) -> list[str]:
    """Operator names without the ProduceResults tail and without consecutive repeats."""
    out: list[str] = []
    for name in names:
        if name != "ProduceResults" and (not out or out[-1] != name):
            out.append(name)
    return out


def _empty(server: Neo4jServer) -> None:
    """Delete every relationship, then every node, in transactions of 10,000 each (the benchmark's own: one DETACH
    DELETE of 100k+ would be one huge transaction, and so is DETACH DELETE of 10,000 nodes when one of them holds
    850,000 stakes: the 1M world's largest holder took the server past its transaction memory)."""
    with neo4j.GraphDatabase.driver(server.uri, auth=(server.username, server.password)) as driver:
        for statement in ("MATCH ()-[r]->() WITH r LIMIT $chunk DELETE r RETURN count(*) AS deleted",
                          "MATCH (n) WITH n LIMIT $chunk DELETE n RETURN count(*) AS deleted"):
            while True:
                records, _, _ = driver.execute_query(statement, {"chunk": 10_000})
                if records[0]["deleted"] == 0:
                    break


# Seconds between two SHOW TRANSACTIONS of _PeakMemory. Why not more often: each one walks every lock of every open
# transaction (TransactionDependenciesResolver, whatever the YIELD), and a chunk transaction holds tens of thousands;
# polled every 0.1 s it was 10-14% of the server's CPU samples during a load (JFR, round 12), counted in the table's
# server CPU a record. A chunk's transaction lives about a second or more and its memory peaks at its end, so over the
# load's hundreds of chunks a poll a second still lands near the peak of some of them.
PEAK_POLL_S = 1.0


class _PeakMemory:
    """Poll SHOW TRANSACTIONS while a block runs; `bytes` is the largest estimated heap use of any transaction."""

    def __init__(self, server: Neo4jServer, every: float = PEAK_POLL_S) -> None:
        self.server = server
        self.every = every
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _poll(self) -> None:
        with neo4j.GraphDatabase.driver(self.server.uri, auth=(self.server.username, self.server.password)) as d:
            while not self._stop.is_set():
                records, _, _ = d.execute_query("SHOW TRANSACTIONS YIELD currentQuery, estimatedUsedHeapMemory "
                                                "RETURN currentQuery, estimatedUsedHeapMemory AS used")
                for record in records:
                    if not record["currentQuery"].startswith("SHOW"):
                        self.bytes = max(self.bytes, int(record["used"] or 0))
                self._stop.wait(self.every)


if __name__ == "__main__":
    main()
