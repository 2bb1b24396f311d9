"""Two API replicas over one Neo4j (the shape docs/scaling.md describes), at small scale, on the real server:
`corpgraph serve --store neo4j` twice on loopback, a write through one visible through the other, identical
answers, and a replica killed with SIGKILL and restarted from its projection snapshot answering again."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.settings import Settings
from corpgraph.graph.stores import cypher, cypher_loads
from corpgraph.graph.stores.neo4j import Neo4jStore, open_neo4j_store
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from tests.factory import canonical
from tests.neo4j_server import Neo4jServer, free_port
from tests.test_neo4j_server_only import CLI, ROOT, _wait_http

TOKEN = "replica-test-token"
OWNERS = '{ owners(companyId: "kaola", first: 100) { owner { id } direct integrated controls } }'
QUERIES = [OWNERS, '{ liabilityChain(incidentId: "kaola-leak-2019") { parties { entity { id } role weight } } }',
           '{ exposure(entityId: "lakala") { totals items { incident { id } channel weight } } }',
           '{ search(text: "라카라") { id name } }']


@pytest.fixture
def seeded(neo4j_env: Neo4jServer) -> Iterator[Neo4jStore]:
    """The session's Neo4j emptied and holding the seed."""
    store = open_neo4j_store(Settings())
    store.delete_all()
    ingest(store, load_file(seed_path()))
    yield store
    store.close()


class Replica:
    """One `corpgraph serve --store neo4j` process on a free loopback port, snapshots in `snapshots`."""

    def __init__(self, snapshots: Path) -> None:
        self.snapshots = snapshots
        self.port = free_port()
        self.client = httpx.Client(trust_env=False, timeout=60)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, probe: str = OWNERS) -> float:
        """Start it; seconds until it answers its first GraphQL query (`probe`)."""
        started = time.monotonic()
        env = {**os.environ, "CORPGRAPH_API_TOKEN": TOKEN, "CORPGRAPH_SNAPSHOT_DIR": str(self.snapshots)}
        self.process = subprocess.Popen([*CLI, "serve", "--store", "neo4j", "--port", str(self.port)], cwd=ROOT,
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_http(self.client, f"http://127.0.0.1:{self.port}/healthz", self.process)
        # A query that arrives while the first build runs waits for it within the time budget (10 s) and is
        # answered TIMEOUT past it, as a client is told to try again: on a loaded machine the build (a child
        # interpreter reading Neo4j) can take longer, so the probe asks again, as a client would, up to a minute.
        while (answer := self.answer(probe)).get("errors") and time.monotonic() - started < 60:
            assert answer["errors"][0]["extensions"]["code"] == "TIMEOUT", answer
        assert "errors" not in answer, answer
        return time.monotonic() - started

    def ask(self, query: str, variables: dict[str, Any] | None = None, token: bool = False) -> Any:
        """The data of one GraphQL request (errors fail the test)."""
        answer = self.answer(query, variables, token)
        assert "errors" not in answer, answer
        return answer["data"]

    def answer(self, query: str, variables: dict[str, Any] | None = None, token: bool = False) -> Any:
        """The whole GraphQL answer, errors included."""
        headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
        return self.client.post(f"http://127.0.0.1:{self.port}/graphql", headers=headers,
                                json={"query": query, "variables": variables or {}}).json()

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process by its pid."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=30)


def test_a_write_through_one_replica_is_seen_through_the_other_and_a_killed_one_comes_back(
    seeded: Neo4jStore, tmp_path: Path
) -> None:
    """A: upsert a company holding 10% of Kaola; B answers it (by hand: direct 0.1, integrated 0.1, no
    control) within a few seconds, and A and B give identical answers to the same queries before and after;
    B killed with SIGKILL and restarted from its snapshot answers the same again."""
    a, b = Replica(tmp_path / "snap-a"), Replica(tmp_path / "snap-b")
    try:
        a.start(), b.start()
        assert [canonical(a.ask(q)) for q in QUERIES] == [canonical(b.ask(q)) for q in QUERIES]
        records = [{"type": "Company", "id": "newco", "name": "NewCo"},
                   {"type": "OWNS", "source": "newco", "target": "kaola", "share": 0.1, "valid_from": "2019-01-01"}]
        written = a.ask("mutation($r: [JSON!]!) { upsertRecords(records: $r) { entities relations } }",
                        {"r": records}, token=True)
        assert written == {"upsertRecords": {"entities": 1, "relations": 1}}
        started, seen = time.monotonic(), None
        while seen is None and time.monotonic() - started < 30:
            holdings = b.ask(OWNERS)["owners"]
            seen = next((h for h in holdings if h["owner"]["id"] == "newco"), None)
        assert seen == {"owner": {"id": "newco"}, "direct": 0.1, "integrated": 0.1, "controls": False}
        answers = [canonical(a.ask(q)) for q in QUERIES]
        assert answers == [canonical(b.ask(q)) for q in QUERIES]
        assert any(p["entity"]["id"] == "newco" for p in answers[1]["liabilityChain"]["parties"])
        b.kill(signal.SIGKILL)
        assert any(tmp_path.joinpath("snap-b").iterdir())  # the snapshot it restarts from
        b.start()
        assert [canonical(b.ask(q)) for q in QUERIES] == answers
    finally:
        a.kill()
        b.kill()


# What a write of two new companies and a stake between them runs (graph.stores.neo4j, Neo4jStore._write_tx), and
# what a replica's first delta reads: the statements the warm-up must have had the server run, so planned.
WARMED = {cypher_loads.LOCK_META, cypher.BUMP_REVISION, cypher.ENTITY_TYPES, cypher.GET_ENTITIES,
          cypher.get_relations(RelationType.OWNS), cypher.merge_entities(EntityType.COMPANY),
          cypher.merge_relations(RelationType.OWNS, EntityType.COMPANY, EntityType.COMPANY), cypher.LOG_CHANGE,
          cypher.PRUNE_CHANGES, cypher.CHANGES_SINCE, cypher.JUDGEMENTS}


def _stored(store: Neo4jStore) -> tuple[Any, ...]:
    """Everything a write would change: revision, counts, change log, decisions, the warm-up's ids."""
    return (store.revision(), store.counts(), store.changes_since(0), store.judgements(),
            store.get_entities(["corpgraph-warm-up-a", "corpgraph-warm-up-b"]))


def _run_statements(store: Neo4jStore) -> set[str]:
    """The statements the server ran since its query collection started (db.stats, in Community too)."""
    rows = store._driver.execute_query("CALL db.stats.retrieve('QUERIES') YIELD data RETURN data.query AS query")[0]
    return {row["query"] for row in rows}


@pytest.fixture
def collected(seeded: Neo4jStore) -> Iterator[Neo4jStore]:
    """The seeded store with the server collecting the statements it runs from now on, its plans forgotten."""
    run = seeded._driver.execute_query
    run("CALL db.clearQueryCaches()")
    run("CALL db.stats.clear('QUERIES')")
    run("CALL db.stats.collect('QUERIES')")
    yield seeded
    run("CALL db.stats.stop('QUERIES')")
    run("CALL db.stats.clear('QUERIES')")


def test_the_warm_up_runs_the_first_writes_statements_and_writes_nothing(collected: Neo4jStore) -> None:
    """warm_up has the server run (so plan and cache) every statement of a two-company stake's write and of a
    replica's first delta, and leaves the revision, the records, the change log and the decisions as they were."""
    before = _stored(collected)
    assert collected.warm_up() == 2  # the stake's transaction and the lone company's, both rolled back
    assert _stored(collected) == before
    assert WARMED <= _run_statements(collected)


def test_serve_warms_up_at_start_and_writes_nothing(collected: Neo4jStore, tmp_path: Path) -> None:
    """`corpgraph serve --store neo4j` runs the warm-up on its own (no request asks for it): the server runs the
    write's statements before any write, and nothing is stored."""
    before = _stored(collected)
    replica = Replica(tmp_path / "snap")
    try:
        replica.start()
        started = time.monotonic()
        while not WARMED <= _run_statements(collected) and time.monotonic() - started < 60:
            time.sleep(0.2)
        assert WARMED <= _run_statements(collected)
        assert _stored(collected) == before
    finally:
        replica.kill()
