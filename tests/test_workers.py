"""`corpgraph serve --workers N` (api/workers.py): a builder publishes the projection, followers map it; the
same answers from every worker, and a write through one seen through all."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from corpgraph.api.workers import HEADER, Publisher
from corpgraph.graph import service
from corpgraph.graph.projection.snapshot import Snapshots
from corpgraph.graph.service import Applied, CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from tests.factory import batch, canonical, company, owns
from tests.neo4j_server import free_port
from tests.test_neo4j_server_only import CLI, ROOT, _wait_http

TOKEN = "workers-test-token"
OWNERS = '{ owners(companyId: "kaola", first: 100) { owner { id } direct integrated controls } }'
QUERIES = [OWNERS, '{ liabilityChain(incidentId: "kaola-leak-2019") { parties { entity { id } role weight } } }',
           '{ exposure(entityId: "lakala") { totals items { incident { id } channel weight } } }',
           '{ search(text: "라카라") { id name } }']
UPSERT = "mutation($r: [JSON!]!) { upsertRecords(records: $r) { entities relations } }"
# newco holds 10% of Kaola: direct 0.1; no chain above it, so integrated 0.1; 0.1 <= 0.5, no control.
NEWCO = {"owner": {"id": "newco"}, "direct": 0.1, "integrated": 0.1, "controls": False}


def _stake(owner: str) -> list[dict[str, Any]]:
    """A new company holding 10% of Kaola, as mutation records."""
    return [{"type": "Company", "id": owner, "name": owner.title()},
            {"type": "OWNS", "source": owner, "target": "kaola", "share": 0.1, "valid_from": "2019-01-01"}]


def test_a_follower_facade_maps_what_the_builder_published_and_applies_small_writes_itself(tmp_path: Path) -> None:
    """In process: a following facade starts from the builder's snapshot, applies a small write's change log
    itself, and maps the builder's snapshot after a change that needs a full build (an identity decision)."""
    db = tmp_path / "c.db"
    builder_store, follower_store = SqliteStore(db), SqliteStore(db)
    ingest(builder_store, batch(company("a"), company("b"), owns("a", "b", 0.6)))
    snapshots = Snapshots(tmp_path / "snaps", "s")
    builder, follower = CorpGraph(builder_store, snapshots=snapshots), CorpGraph(follower_store, snapshots=snapshots,
                                                                                  follow=True)
    publisher = Publisher(builder)
    publisher.start()
    try:
        # a holds 60% of b: direct = integrated = 0.6, control (0.6 > 0.5)
        assert [(h.owner, h.direct, h.integrated, h.controls) for h in follower.owners("b")] == [("a", 0.6, 0.6, True)]
        assert _how(follower) is Applied.MAPPED
        follower.write(batch(company("c"), owns("c", "b", 0.3)))
        assert _how(follower) is Applied.DELTA
        # c's 30% too, at once: c controls nothing (0.3 <= 0.5)
        assert sorted((h.owner, h.direct, h.controls) for h in follower.owners("b")) == [("a", 0.6, True),
                                                                                         ("c", 0.3, False)]
        follower.decide("a", "c", "different", "test")  # a decision: the change log cannot carry it
        assert _how(follower) is Applied.MAPPED and _how(builder) is Applied.FULL
        assert follower.live.current().revision == builder.live.current().revision  # type: ignore[union-attr]
        assert follower.owners("b") == builder.owners("b")
    finally:
        publisher.stop()
        builder_store.close()
        follower_store.close()


def _how(graph: CorpGraph) -> Applied:
    """How the facade's current state was made."""
    state = graph.live.current()
    assert state is not None
    return state.how.applied


def test_a_following_facade_needs_a_snapshots_folder(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    try:
        with pytest.raises(ValueError, match="snapshots folder"):
            CorpGraph(store, follow=True)
    finally:
        store.close()


class Workers:
    """`corpgraph serve --workers 2 --seed` on a free loopback port; asks a chosen worker by its header."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        # no kept-alive connections: each request is a new connection, which the kernel gives to either worker
        self.client = httpx.Client(trust_env=False, timeout=60, limits=httpx.Limits(max_keepalive_connections=0))
        env = {**os.environ, "CORPGRAPH_API_TOKEN": TOKEN, "CORPGRAPH_DB": str(folder / "c.db")}
        env.pop("CORPGRAPH_SNAPSHOT_DIR", None)
        env.pop("CORPGRAPH_SNAPSHOTS", None)
        self.process = subprocess.Popen([*CLI, "serve", "--workers", "2", "--seed", "--port", str(self.port)],
                                        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_http(self.client, f"http://127.0.0.1:{self.port}/healthz", self.process)

    def ask(self, worker: int, query: str, variables: dict[str, Any] | None = None, token: bool = False) -> Any:
        """The data of one GraphQL request answered by that worker (errors fail the test)."""
        headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
        for _ in range(200):  # each new connection goes to either worker (SO_REUSEPORT hashes the client port)
            response = self.client.post(f"http://127.0.0.1:{self.port}/graphql", headers=headers,
                                        json={"query": query, "variables": variables or {}})
            if response.headers[HEADER] == str(worker):
                answer = response.json()
                assert "errors" not in answer, answer
                return answer["data"]
        raise AssertionError(f"worker {worker} never answered")

    def stop(self) -> None:
        """SIGTERM to the parent, which stops both workers."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Two workers over a store holding the seed."""
    served = Workers(tmp_path)
    yield served
    served.stop()


def _owners_seen(workers: Workers, worker: int, owner: str) -> Any:
    """The owner's holding of Kaola as that worker answers it, waiting up to 30 s for it to appear."""
    started = time.monotonic()
    while time.monotonic() - started < 30:
        seen = next((h for h in workers.ask(worker, OWNERS)["owners"] if h["owner"]["id"] == owner), None)
        if seen is not None:
            return seen
        time.sleep(0.05)
    return None


def test_two_workers_give_identical_answers_and_both_see_a_write(workers: Workers) -> None:
    assert [canonical(workers.ask(0, q)) for q in QUERIES] == [canonical(workers.ask(1, q)) for q in QUERIES]
    answered = _write_through(workers, 1, "newco")  # through the follower: it returns once the follower sees it
    first = next(h for h in workers.ask(1, OWNERS)["owners"] if h["owner"]["id"] == "newco")
    assert answered == {"upsertRecords": {"entities": 1, "relations": 1}} and first == NEWCO
    assert _owners_seen(workers, 0, "newco") == NEWCO
    _write_through(workers, 0, "otherco")  # through the builder: the follower maps it once published
    assert _owners_seen(workers, 1, "otherco") == {**NEWCO, "owner": {"id": "otherco"}}
    answers = [canonical(workers.ask(0, q)) for q in QUERIES]
    assert answers == [canonical(workers.ask(1, q)) for q in QUERIES]
    assert {"newco", "otherco"} <= {p["entity"]["id"] for p in answers[1]["liabilityChain"]["parties"]}


def _write_through(workers: Workers, worker: int, owner: str) -> Any:
    """Upsert `_stake(owner)` through that worker (a mutation is sent once: new connections until that worker
    takes one, probed with /healthz first)."""
    for _ in range(200):
        with httpx.Client(trust_env=False, timeout=60) as client:  # one kept connection: the probe's worker
            probe = client.get(f"http://127.0.0.1:{workers.port}/healthz")
            if probe.headers[HEADER] != str(worker):
                continue
            answer = client.post(f"http://127.0.0.1:{workers.port}/graphql",
                                 headers={"Authorization": f"Bearer {TOKEN}"},
                                 json={"query": UPSERT, "variables": {"r": _stake(owner)}})
            assert answer.headers[HEADER] == str(worker)
            data = answer.json()
            assert "errors" not in data, data
            return data["data"]
    raise AssertionError(f"worker {worker} never answered")


def test_the_builder_publishes_a_state_made_by_deltas(tmp_path: Path) -> None:
    """A delta's state saved by `publish` maps back to the same answers (what a restarted follower starts from)."""
    store = SqliteStore(tmp_path / "c.db")
    try:
        ingest(store, batch(company("a"), company("b"), owns("a", "b", 0.6)))
        snapshots = Snapshots(tmp_path / "snaps", "s")
        builder = CorpGraph(store, snapshots=snapshots)
        builder.projection()
        assert builder.publish() is None  # a full build: it saved its own snapshot (or will), nothing to publish
        builder.write(batch(company("c"), owns("c", "b", 0.3)))
        assert _how(builder) is Applied.DELTA
        assert builder.publish() == store.revision() and builder.publish() is None  # once per state
        reader = CorpGraph(store, snapshots=snapshots, follow=True)
        assert _how_after(reader) is Applied.MAPPED and reader.owners("b") == builder.owners("b")
    finally:
        store.close()


def _how_after(graph: CorpGraph) -> Applied:
    """How the facade's state was made, once it answered from one."""
    graph.projection()
    return _how(graph)


DAY, LATER = date(2024, 1, 1), date(2025, 1, 1)


def test_a_follower_patches_only_the_views_it_used_and_gets_the_others_at_its_own_revision(tmp_path: Path) -> None:
    """The builder publishes views of two days; the follower answers about one: a write through it patches that
    view alone, and the other day, asked after the write, comes from the builder's publication of the write's
    revision (never the view of the snapshot the follower started from, which is still there and lacks the write)."""
    db = tmp_path / "c.db"
    builder_store, follower_store = SqliteStore(db), SqliteStore(db)
    ingest(builder_store, batch(company("a"), company("b"), owns("a", "b", 0.6)))
    snapshots = Snapshots(tmp_path / "snaps", "s")
    builder = CorpGraph(builder_store, snapshots=snapshots)
    follower = CorpGraph(follower_store, snapshots=snapshots, follow=True)
    for day in (DAY, LATER):
        builder.owners("b", day)
    assert builder.publish() == builder_store.revision()  # with both days' views
    # a holds 60% of b on both days
    assert [(h.owner, h.direct) for h in follower.owners("b", DAY)] == [("a", 0.6)]
    assert follower.projection().cached_days() == [DAY]  # LATER's view stays in the file until asked for
    follower.write(batch(company("c"), owns("c", "b", 0.3)))
    assert _how(follower) is Applied.DELTA and follower.projection().cached_days() == [DAY]
    stop = threading.Event()

    def serve() -> None:  # the builder's publisher, asked views only: nothing else publishes the write's revision
        while not stop.wait(0.01):
            builder.live.fresh()
            if builder.serve_wanted():
                builder.publish()
    serving = threading.Thread(target=serve)
    serving.start()
    try:
        # c's 30% is there on the other day too: the view of the write's revision, not the one mapped first
        assert sorted((h.owner, h.direct) for h in follower.owners("b", LATER)) == [("a", 0.6), ("c", 0.3)]
        assert follower.owners("b", LATER) == builder.owners("b", LATER)
        assert follower.projection().view(LATER).projection is follower.projection()
    finally:
        stop.set()
        serving.join()
        builder_store.close()
        follower_store.close()


def test_the_builder_publishes_once_the_writes_pause() -> None:
    """Publisher.due: not within `publish_every` of the last publication; then once the revision has not moved for
    `quiet` seconds, or `at_most` seconds after the last publication however busy the writes."""
    publisher = Publisher.__new__(Publisher)
    publisher.publish_every, publisher.quiet, publisher.at_most = 5.0, 1.0, 30.0
    assert not publisher.due(since_published=4.9, since_changed=60.0)  # too soon after the last one
    assert not publisher.due(since_published=6.0, since_changed=0.3)  # amid writes
    assert publisher.due(since_published=6.0, since_changed=1.0)  # the writes paused
    assert publisher.due(since_published=30.0, since_changed=0.0)  # writes never pause: published anyway


def test_a_builder_worker_saves_no_delta_state_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """save_deltas=False (the builder worker, whose Publisher publishes): a delta's state is not saved by the build
    that made it, however old the last save; with save_deltas (one process) it is, once SNAPSHOT_EVERY passed."""
    monkeypatch.setattr(service, "SNAPSHOT_EVERY", 0.0)
    for save_deltas in (False, True):
        store = SqliteStore(tmp_path / f"c-{save_deltas}.db")
        try:
            ingest(store, batch(company("a"), company("b"), owns("a", "b", 0.6)))
            snapshots = Snapshots(tmp_path / f"snaps-{save_deltas}", "s")
            graph = CorpGraph(store, snapshots=snapshots, save_deltas=save_deltas)
            built = graph.live.fresh().revision
            while snapshots.newest() != built:  # the full build's own snapshot, saved in the background
                time.sleep(0.01)
            graph.write(batch(company("c"), owns("c", "b", 0.3)))
            assert _how(graph) is Applied.DELTA
            deadline = time.monotonic() + 10
            while save_deltas and snapshots.newest() != store.revision() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert snapshots.newest() == (store.revision() if save_deltas else built)
        finally:
            store.close()
