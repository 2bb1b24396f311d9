"""Running on Neo4j as a service would, against the session's Neo4j Community server:

- reads see the store's own writes on a cluster: every session and query of a store shares one bookmark manager;
- the schema is created by `corpgraph db init` only, and a store opened without it says to run that;
- deleting everything runs in batches (a graph too big for one transaction empties) and the revision only grows;
- fresh connections, one after another, never hang (the old Bolt test server's handshake did, every second one).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Collection

import neo4j
import pytest
from neo4j import exceptions as nx
from neo4j.api import BookmarkManager

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.settings import Settings
from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.neo4j import Neo4jStore, open_neo4j_store
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import SchemaMissing
from tests.factory import batch, company
from tests.neo4j_server import Neo4jServer
from tests.test_neo4j_server_only import corpgraph, neo  # noqa: F401 - neo is a fixture


class RecordingBookmarks(BookmarkManager):
    """The driver's own bookmark manager, with every hand-over recorded (the driver calls these from any thread)."""

    def __init__(self) -> None:
        self.inner = neo4j.GraphDatabase.bookmark_manager()
        self.updates: list[frozenset[str]] = []  # bookmarks that committed transactions handed in
        self.handed_out: list[frozenset[str]] = []  # bookmarks a transaction was started with
        self._lock = threading.Lock()

    def update_bookmarks(self, previous_bookmarks: Collection[str], new_bookmarks: Collection[str]) -> None:
        """Record, then keep them as the driver's manager does."""
        with self._lock:
            self.updates.append(frozenset(new_bookmarks))
        self.inner.update_bookmarks(previous_bookmarks, new_bookmarks)

    def get_bookmarks(self) -> Collection[str]:
        """Record what a starting transaction is told to wait for."""
        out = self.inner.get_bookmarks()
        with self._lock:
            self.handed_out.append(frozenset(out))
        return out


def test_a_read_after_a_write_waits_for_that_write(neo4j_server: Neo4jServer) -> None:
    """The write's commit hands its bookmark to the store's manager, and the next read starts with it: on a
    cluster that read is answered only by a member that has applied the write (here one server: the answer
    is already right; what the test pins is that the bookmark travels)."""
    bookmarks = RecordingBookmarks()
    driver = neo4j.GraphDatabase.driver(neo4j_server.uri, auth=(neo4j_server.username, neo4j_server.password))
    store = Neo4jStore(driver, uri=neo4j_server.uri, bookmarks=bookmarks)
    try:
        store.delete_all()
        assert store.bookmarks is bookmarks
        store.write(batch(company("bm-a"), label="a.jsonl"))
        written = bookmarks.updates[-1]
        assert written, "the write committed without handing a bookmark to the store's manager"
        asked = len(bookmarks.handed_out)
        assert sorted(store.get_entities(["bm-a"])) == ["bm-a"]
        assert len(bookmarks.handed_out) > asked and written <= bookmarks.handed_out[-1]
        # The projection feed, the revision and the schema check read the same way.
        before = len(bookmarks.handed_out)
        assert store.revision() > 0 and list(store.iter_edges([])) == []
        assert not store.missing_schema()
        assert len(bookmarks.handed_out) >= before + 3
    finally:
        store.close()


def test_a_store_opened_from_the_settings_keeps_its_writes_bookmarks(neo: Neo4jStore) -> None:
    """Opened as the CLI and the API open it: each committed write leaves its bookmark in the store's manager."""
    before = set(neo.bookmarks.get_bookmarks())
    neo.write(batch(company("bm-b"), label="b.jsonl"))
    after = set(neo.bookmarks.get_bookmarks())
    assert after and after != before


# --- the schema: `corpgraph db init` only -----------------------------------------------------------------

def test_a_database_without_the_schema_is_refused_until_db_init(neo: Neo4jStore, neo4j_server: Neo4jServer) -> None:
    """Opening no longer creates constraints: without them the store refuses to open and says what to run;
    the CLI prints that (exit 2, no traceback); after `corpgraph db init` the same command works."""
    names = cypher.schema_names()
    with _admin(neo4j_server) as admin:
        try:
            for name in names:
                # Names come from cypher.schema_statements (our own constants), not from input.
                admin.execute_query(f"DROP CONSTRAINT {name} IF EXISTS")
                admin.execute_query(f"DROP INDEX {name} IF EXISTS")
            assert neo.missing_schema() == names
            with pytest.raises(SchemaMissing, match=rf"lacks {len(names)} of corpgraph's constraints and indexes .*"
                                                    r"run `corpgraph db init` once"):
                open_neo4j_store(Settings())
            refused = corpgraph("summary", "--store", "neo4j")
            assert refused.returncode == 2, refused.stderr
            assert "run `corpgraph db init` once" in " ".join(refused.stderr.split())
            assert "Traceback" not in refused.stderr
            assert corpgraph("db", "init").returncode == 0
            assert neo.missing_schema() == []
            assert corpgraph("summary", "--store", "neo4j").returncode == 0
        finally:
            neo4j_server.init_schema()  # whatever happened, later tests find the schema in place


def test_db_init_drops_what_earlier_versions_created_and_this_one_no_longer_keeps(
        neo: Neo4jStore, neo4j_server: Neo4jServer) -> None:
    """A database made by an earlier version holds a unique id per entity label and a type-only index: every new
    node paid for them, nothing reads them. db init drops them, and a second Company with a taken id is still
    refused (by the one :Entity id constraint)."""
    with _admin(neo4j_server) as admin:
        try:
            admin.execute_query("CREATE CONSTRAINT corpgraph_node_company_id IF NOT EXISTS "
                                "FOR (n:Company) REQUIRE n.id IS UNIQUE")
            admin.execute_query("CREATE INDEX corpgraph_entity_type IF NOT EXISTS FOR (n:Entity) ON (n.type)")
            neo.init_schema()
            names = {row["name"] for row in admin.execute_query("SHOW CONSTRAINTS YIELD name RETURN name")[0]}
            names |= {row["name"] for row in admin.execute_query("SHOW INDEXES YIELD name RETURN name")[0]}
            assert not names & {"corpgraph_node_company_id", "corpgraph_entity_type"}
            assert neo.missing_schema() == []
            admin.execute_query("CREATE (:Entity:Company {id: 'twice', type: 'Company'})")
            with pytest.raises(nx.ConstraintError):
                admin.execute_query("CREATE (:Entity:Company {id: 'twice', type: 'Company'})")
        finally:
            admin.execute_query("MATCH (n:Entity {id: 'twice'}) DELETE n")
            neo4j_server.init_schema()


def test_opening_a_store_creates_no_schema(neo: Neo4jStore, neo4j_server: Neo4jServer) -> None:
    """One index dropped, then a store opened: it is refused and the index stays missing (no DDL on open)."""
    with _admin(neo4j_server) as admin:
        try:
            admin.execute_query("DROP INDEX corpgraph_entity_type_id IF EXISTS")
            with pytest.raises(SchemaMissing, match="lacks 1 of corpgraph's constraints and indexes "
                                                    r"\(corpgraph_entity_type_id\)"):
                open_neo4j_store(Settings())
            assert neo.missing_schema() == ["corpgraph_entity_type_id"]
        finally:
            neo4j_server.init_schema()


# --- deleting everything ----------------------------------------------------------------------------------

# Node pairs (each joined by an OWNS relationship) for the batched-delete test. By hand: deleting a node with its
# relationship costs about 1.8 KB of transaction memory (measured: 145 MB for 80,000 nodes), so 24,000 nodes
# need about 43 MB in one transaction, a third over the test server's 32 MB cap (conftest.TRANSACTION_MAX), and
# a batch of 1,000 nodes about 1.8 MB.
PAIRS = 12_000


def test_deleting_everything_runs_in_batches_and_the_revision_only_grows(
    neo: Neo4jStore, neo4j_server: Neo4jServer
) -> None:
    """A graph too big to delete in one transaction is emptied by delete_all, and the revision goes up by one."""
    ingest(neo, load_file(seed_path()))
    with _admin(neo4j_server) as admin:
        with admin.session() as session:  # written in batches too, under the same cap
            session.run("UNWIND range(1, $pairs) AS i CALL (i) { "
                        "CREATE (:Entity:Company {id: 'big-a' + toString(i), type: 'Company'})"
                        "-[:OWNS {id: 'OWNS|big-a' + toString(i) + '|big-b' + toString(i) + '|', share: 0.5}]->"
                        "(:Entity:Company {id: 'big-b' + toString(i), type: 'Company'}) } IN TRANSACTIONS OF 2000 ROWS",
                        {"pairs": PAIRS}).consume()
        assert neo.counts()["Company"] == 6 + 2 * PAIRS  # the seed's 6 companies (by hand) and the pairs
        with pytest.raises(nx.TransientError, match="db.memory.transaction.max"):  # the control: one transaction
            admin.execute_query("MATCH (n:Entity) DETACH DELETE n")
    revision = neo.revision()
    assert revision > 0
    neo.delete_all()
    assert neo.counts() == {}
    assert neo.revision() == revision + 1  # bumped once, never reset to 0


# --- connections ------------------------------------------------------------------------------------------

def test_twenty_fresh_connections_in_a_row_never_hang(neo4j_env: Neo4jServer) -> None:
    """Each `corpgraph` command opens a new driver: 20 in a row (connect, check the schema, read, close), each
    bounded by a 10 s connection timeout. The Bolt test server used before Neo4j hung in the handshake of every
    second new connection; Neo4j does not."""
    started = time.monotonic()
    for _ in range(20):
        store = open_neo4j_store(Settings())
        try:
            assert store.revision() >= 0
        finally:
            store.close()
    for _ in range(20):
        with neo4j.GraphDatabase.driver(neo4j_env.uri, auth=(neo4j_env.username, neo4j_env.password),
                                        connection_timeout=10, connection_acquisition_timeout=10) as driver:
            driver.verify_connectivity()
            assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1
    assert time.monotonic() - started < 120


# --- helpers ----------------------------------------------------------------------------------------------

def _admin(server: Neo4jServer) -> neo4j.Driver:
    """A driver of the test's own, for statements the store never sends."""
    return neo4j.GraphDatabase.driver(server.uri, auth=(server.username, server.password))
