"""What only a real Neo4j server can show, against the session's Neo4j Community (conftest's `neo4j_server`).

- the README's "Running on Neo4j" path end to end: `corpgraph db init` (twice), `load --store neo4j`, `serve
  --store neo4j`, as a user runs them (subprocesses with NEO4J_* set);
- the same answers as the embedded store on a generated world (benchmarks/generate.py);
- the uniqueness constraints under two (and four) concurrent writers;
- a transaction too large for the server fails fast with a message naming the limit and the remedy, and the
  same file loads in smaller batches (batched loads, kill -9 and recovery: tests/test_neo4j_loads.py).
The test server caps one transaction at TRANSACTION_MAX (conftest), far above what the other tests write.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest

from benchmarks.generate import World, generate
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection.build import build_projection
from corpgraph.graph.settings import Settings
from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.neo4j import Neo4jStore, open_neo4j_store
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import ConstraintViolation
from tests.conftest import TRANSACTION_MAX
from tests.factory import batch, canonical, company, entity, type_name
from tests.neo4j_server import Neo4jServer, free_port
from tests.test_store_contract import _canonical_projection

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from corpgraph.api.cli import app; app()"]


@pytest.fixture
def neo(neo4j_env: Neo4jServer) -> Iterator[Neo4jStore]:
    """An emptied Neo4j store on the session server, opened from NEO4J_* as the CLI opens it."""
    store = open_neo4j_store(Settings())
    store.delete_all()
    yield store
    store.close()


def corpgraph(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the `corpgraph` command line in a subprocess (environment as the test set it, plus `env`)."""
    return subprocess.run([*CLI, *args], cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def _flat(text: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(text.split())


# --- the README path ---------------------------------------------------------------------------------------

def test_readme_path_db_init_load_serve(neo: Neo4jStore) -> None:
    """db init twice (idempotent on Community, Enterprise-only constraints reported), load, serve, ask."""
    applied = len(cypher.schema_statements())
    for _ in range(2):
        done = corpgraph("db", "init")
        assert done.returncode == 0, done.stderr
        assert f"{applied} constraints and indexes in place on {neo.uri}" in _flat(done.stdout)
        assert _flat(done.stdout).count("skipped (needs Neo4j Enterprise Edition)") == 2  # the id and type NOT NULL
    loaded = corpgraph("load", "--store", "neo4j", "--seed")
    assert loaded.returncode == 0, loaded.stderr
    assert neo.counts() == _seed_counts()
    assert corpgraph("load", "--store", "neo4j", "--seed").returncode == 0  # loading twice changes nothing
    assert neo.counts() == _seed_counts()

    port = free_port()
    server = subprocess.Popen([*CLI, "serve", "--store", "neo4j", "--port", str(port)], cwd=ROOT,
                              env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = httpx.Client(trust_env=False, timeout=30)
        _wait_http(client, f"http://127.0.0.1:{port}/healthz", server)
        query = ('{ liabilityChain(incidentId: "kaola-leak-2019") { parties { entity { id } weight } } '
                 'search(text: "라카라") { id } }')
        answer = client.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}).json()
        assert "errors" not in answer, answer
        weights = {p["entity"]["id"]: p["weight"] for p in answer["data"]["liabilityChain"]["parties"]}
        # By hand from the seed: Kaola answers for its own leak (1), Lakala holds 32.4% of Kaola.
        assert weights["kaola"] == 1.0 and weights["lakala"] == pytest.approx(0.324)
        assert answer["data"]["search"][0] == {"id": "lakala"}
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


# --- the same answers as the embedded store ---------------------------------------------------------------

# The generated world of the README-steps comparison (at least 5,000 companies): 21,294 records
# (benchmarks/generate.py, seed 11). Neo4j holds about 4.5 KB of transaction memory per record (docs/neo4j.md),
# so it is loaded as one file in batched transactions of BATCH records (about 18 MB each) under the test
# server's 32 MB cap: six transactions, published at once.
WORLD_COMPANIES = 5_000
BATCH = "4000"
AS_OF = "2025-06-30"  # benchmarks.generate's query date
PARTY_FIELDS = "entity { id } role weight controls unknown detail overAllocated paths { weight hops { from to type share } }"


def test_readme_steps_on_a_generated_world_answer_graphql_as_the_embedded_store(neo: Neo4jStore, tmp_path: Path) -> None:
    """`db init`, `load --store neo4j`, `serve --store neo4j` on a 5,000-company world, as a user runs them; the
    embedded store loaded and served the same way is the reference: counts, the projection, and the GraphQL
    answers (liability chains, exposures, holdings, search) must be the same."""
    world = generate(tmp_path / "world.jsonl", companies=WORLD_COMPANIES, seed=11)
    assert world.records > 20_000
    assert corpgraph("db", "init").returncode == 0
    loaded = corpgraph("load", "--store", "neo4j", str(world.path), env={"CORPGRAPH_BATCH_SIZE": BATCH})
    assert loaded.returncode == 0, loaded.stderr
    embedded = {"CORPGRAPH_DB": str(tmp_path / "embedded.db"), "CORPGRAPH_STORE": "embedded"}
    loaded = corpgraph("load", str(world.path), env=embedded)
    assert loaded.returncode == 0, loaded.stderr
    reference = SqliteStore(tmp_path / "embedded.db")
    try:
        assert neo.counts() == reference.counts() == world.counts
        assert _canonical_projection(build_projection(neo)) == _canonical_projection(build_projection(reference))
    finally:
        reference.close()

    assert world.incidents and len(world.holders) > 20
    queries = world_queries(world, incidents=40, holders=20)
    with _serve("neo4j", {}) as ours, _serve("embedded", embedded) as theirs:
        answers = []
        for query in queries:
            answer, expected = ours(query), theirs(query)
            assert answer == expected, query
            answers.append(answer)
    # Not agreement on empty answers: owners answer for some incidents, some holders are exposed, the holder holds.
    assert any(a["liabilityChain"]["ownersTotal"] > 0 for a in answers[:40])
    assert any(a["exposure"]["items"] for a in answers[40:60])
    assert len(answers[60]["holdings"]) == 100 and answers[61]["search"]


def world_queries(world: World, incidents: int, holders: int) -> list[str]:
    """GraphQL fields to compare two servers on a generated world: liability chains (with paths), exposures,
    the largest holder's holdings, a search."""
    queries = [f'liabilityChain(incidentId: "{incident}", asOf: "{AS_OF}") {{ ownersTotal parties {{ {PARTY_FIELDS} }} }}'
               for incident in world.incidents[:incidents]]
    queries += [f'exposure(entityId: "{holder}", asOf: "{AS_OF}") {{ totals items {{ incident {{ id }} channel weight '
                'overAllocated paths { weight hops { from to type share } } } }' for holder in world.holders[:holders]]
    queries.append(f'holdings(companyId: "{world.largest_holder}", asOf: "{AS_OF}", first: 100) '
                   '{ owner { id } company { id } direct integrated controls unknown count }')
    queries.append('search(text: "company 12", first: 20) { id name }')
    return queries


@contextlib.contextmanager
def _serve(store: str, env: dict[str, str]) -> Iterator[Callable[[str], Any]]:
    """`corpgraph serve --store STORE` in a subprocess; yields ask(query) -> the canonical data of the answer."""
    port = free_port()
    # These tests compare answers, not speed: a first request that pays the projection's build on a busy machine
    # must not meet the API's default time budget (the budget has its own tests).
    budget = {"CORPGRAPH_API_TIME_BUDGET": "120"}
    server = subprocess.Popen([*CLI, "serve", "--store", store, "--port", str(port)], cwd=ROOT,
                              env={**os.environ, **budget, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = httpx.Client(trust_env=False, timeout=120)
    try:
        _wait_http(client, f"http://127.0.0.1:{port}/healthz", server)

        def ask(query: str) -> Any:
            """One GraphQL query; its data with floats to 9 places and lists in a stable order."""
            answer = client.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ " + query + " }"}).json()
            assert "errors" not in answer, (query, answer)
            return canonical(answer["data"])
        yield ask
    finally:
        client.close()
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


# --- concurrent writers -----------------------------------------------------------------------------------

def test_two_concurrent_writers_of_one_id_with_two_types_one_is_refused(neo: Neo4jStore) -> None:
    """Written around graph.write.ingest's check at the same moment, 'dup' as a Company and as a Person: the
    :Entity(id) constraint lets exactly one through, and the refused file leaves nothing behind."""
    files = {
        "company": batch(company("dup"), company("only-a"), label="a.jsonl"),
        "person": batch(entity("Person", "dup"), entity("Person", "only-b"), label="b.jsonl"),
    }
    outcomes = _race({name: (lambda b=b: neo.write(b)) for name, b in files.items()})
    refused = [name for name, outcome in outcomes.items() if isinstance(outcome, ConstraintViolation)]
    assert len(refused) == 1, outcomes
    winner = "person" if refused == ["company"] else "company"
    assert outcomes[winner] is not None and not isinstance(outcomes[winner], BaseException), outcomes
    stored = neo.get_entities(["dup", "only-a", "only-b"])
    assert sorted(stored) == sorted(["dup", "only-a" if winner == "company" else "only-b"])
    assert type_name(stored["dup"]) == ("Company" if winner == "company" else "Person")


def test_four_concurrent_writers_of_the_same_ids_make_one_node_each(neo: Neo4jStore) -> None:
    """MERGE under a uniqueness constraint: four writers of the same 60 companies leave 60 nodes, not 240."""
    same = batch(*(company(f"co{i:02}") for i in range(60)))
    revision = neo.revision()
    outcomes = _race({f"writer{k}": (lambda: neo.write(same)) for k in range(4)})
    assert not [o for o in outcomes.values() if isinstance(o, BaseException)], outcomes
    assert neo.counts() == {"Company": 60}
    # Writers take turns: the first writes the 60, the three after it find them stored as they are (nothing
    # written, no revision: the store's rule for unchanged records).
    assert sorted(o.unchanged for o in outcomes.values()) == [0, 60, 60, 60]
    assert neo.revision() == revision + 1


# --- transaction memory ----------------------------------------------------------------------------------

def test_a_batch_too_large_for_one_transaction_fails_with_the_limit_and_loads_in_smaller_batches(
    neo: Neo4jStore, tmp_path: Path
) -> None:
    """A file whose batches of 10,000 records outgrow db.memory.transaction.max: exit 2 at once (no 30 s of
    retries), the limit and what to do named, nothing of it visible; with CORPGRAPH_BATCH_SIZE=2000 the same
    file loads (six transactions of bounded memory, published at once)."""
    ingest(neo, load_file(seed_path()))
    before, revision = neo.counts(), neo.revision()
    path = tmp_path / "huge.jsonl"
    # 12,000 companies with 1,000-character descriptions: over 12 MB of property text alone, and a transaction
    # needs several times its file's size (docs/neo4j.md), against a 32 MB cap.
    filler = "x" * 1000
    path.write_text("".join(f'{{"type":"Company","id":"h{i:05}","name":"Huge {i}","description":"{filler}"}}\n'
                            for i in range(12_000)))
    started = time.monotonic()
    done = corpgraph("load", "--store", "neo4j", str(path))
    elapsed = time.monotonic() - started
    message = _flat(done.stderr)
    assert done.returncode == 2, done.stderr
    assert "huge.jsonl: too large for one Neo4j transaction" in message
    assert f"limit {TRANSACTION_MAX[:-1]}.0 MiB" in message and "db.memory.transaction.max" in message
    assert "lower CORPGRAPH_BATCH_SIZE" in message and "nothing of it was written" in message
    assert "Traceback" not in done.stderr
    assert elapsed < 120, elapsed  # the driver's retry loop alone would add 30 s per attempt budget
    assert neo.counts() == before and neo.revision() == revision
    assert neo.get_entities(["h00000", "h11999"]) == {}
    done = corpgraph("load", "--store", "neo4j", str(path), env={"CORPGRAPH_BATCH_SIZE": "2000"})
    assert done.returncode == 0, done.stderr
    assert neo.counts() == {**before, "Company": before["Company"] + 12_000} and neo.revision() == revision + 1


# --- helpers ----------------------------------------------------------------------------------------------

def _seed_counts() -> dict[str, int]:
    """Counts the embedded store reports for the seed (the reference)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "seed.db")
        try:
            ingest(store, load_file(seed_path()))
            return store.counts()
        finally:
            store.close()


def _race(jobs: dict[str, Any]) -> dict[str, Any]:
    """Run the jobs in threads released at the same moment; each one's result or exception by name."""
    barrier = threading.Barrier(len(jobs))
    outcomes: dict[str, Any] = {}

    def run(name: str) -> None:
        barrier.wait()
        try:
            outcomes[name] = jobs[name]()
        except BaseException as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[name] = exc
    threads = [threading.Thread(target=run, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def _admin_driver(server: Neo4jServer) -> neo4j.Driver:
    """A driver of the test's own, to watch the server's transactions."""
    return neo4j.GraphDatabase.driver(server.uri, auth=(server.username, server.password))


def _wait_http(client: httpx.Client, url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll until the server answers 200 at url; fail with its stderr if it exits."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            if client.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.2)
