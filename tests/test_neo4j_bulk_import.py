"""`corpgraph db import` (graph/stores/neo4j_bulk.py) round trip on the real Neo4j: CSV files, Neo4j's own
import tool (tools/neo4j-server/neo4j-admin), a server started on the imported database, `corpgraph db init`,
and the same GraphQL answers as the embedded store loaded from the same file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.generate import generate
from corpgraph.graph.stores.base import ChangeKind
from corpgraph.graph.stores.neo4j import open_neo4j_store
from corpgraph.schema.kinds import EntityType
from tests.factory import company, entity, owns
from tests.neo4j_server import LAUNCHER, start_neo4j_server
from tests.test_neo4j_server_only import ROOT, _flat, _serve, corpgraph, world_queries

ADMIN = str(LAUNCHER / "neo4j-admin")


def test_bulk_import_answers_graphql_as_the_embedded_store(tmp_path: Path) -> None:
    """A 400-company world imported into an empty database: after `db init` the counts, the revision (1, one
    bulk change-log entry) and the answers to liability chains, exposures, holdings and a search over GraphQL
    are the embedded store's."""
    world = generate(tmp_path / "world.jsonl", companies=400, seed=11)
    home = tmp_path / "neo4j-home"
    done = corpgraph("db", "import", str(world.path), "--neo4j-home", str(home), "--neo4j-admin", ADMIN)
    assert done.returncode == 0, done.stdout + done.stderr
    entities = sum(n for kind, n in world.counts.items() if kind in {t.value for t in EntityType})
    assert f"{entities} entities, {world.records - entities} relations" in _flat(done.stdout)
    assert "then start Neo4j and run `corpgraph db init`" in _flat(done.stdout)
    assert (home / "import" / "corpgraph" / "import.report").exists() and not (ROOT / "import.report").exists()
    server = start_neo4j_server(home)
    try:
        assert corpgraph("db", "init", env=server.env()).returncode == 0
        store = open_neo4j_store(server.settings())
        try:
            assert store.counts() == world.counts
            assert store.revision() == 1 and [c.kind for c in store.changes_since(0)] == [ChangeKind.BULK]
        finally:
            store.close()
        embedded = {"CORPGRAPH_DB": str(tmp_path / "embedded.db"), "CORPGRAPH_STORE": "embedded"}
        assert corpgraph("load", str(world.path), env=embedded).returncode == 0
        queries = world_queries(world, incidents=15, holders=8)
        with _serve("neo4j", server.env()) as ours, _serve("embedded", embedded) as theirs:
            answers = [(ours(query), theirs(query)) for query in queries]
    finally:
        server.stop()
    assert all(answer == expected for answer, expected in answers)
    assert any(a["liabilityChain"]["ownersTotal"] > 0 for a, _ in answers[:15])
    assert answers[-1][0]["search"] and answers[-2][0]["holdings"]


def test_a_retyped_placeholders_stakes_are_checked_alike_after_the_import_and_the_embedded_load(
        tmp_path: Path) -> None:
    """Placeholder p's real record (a Company carrying q's LEI) makes p and q one owner, each stating a stake in c
    from 2020-01-01 (50% and 30%): one holding stated twice, of which the smaller counts (graph.write.allocation).
    Worked by hand: x's 75% then sums to 30 + 75 = 105%, refused with the same words by the imported Neo4j and the
    embedded store; x's 60% to 90%, loaded by both. (Neo4j reads c's stakes in another order than the embedded
    store's rows: when the later one read counted, the import took p's 50% and refused the 60% too.)"""
    lei = [{"scheme": "LEI", "id": "5493001KJTIIGC8Y1R12"}]
    day = {"valid_from": "2020-01-01"}
    world = tmp_path / "world.jsonl"
    world.write_text("".join(json.dumps(record) + "\n" for record in [
        company("c"), entity("Person", "p", placeholder=True), owns("p", "c", 0.5, **day),
        company("q", identifiers=lei), owns("q", "c", 0.3, **day), company("p", "Real P", identifiers=lei),
        company("x")]))
    files = {share: tmp_path / f"x{share}.jsonl" for share in (0.75, 0.6)}
    for share, path in files.items():
        path.write_text(json.dumps(owns("x", "c", share, **day)) + "\n")
    refused = (f"{files[0.75]}:1: share: owners' shares of 'c' valid on 2020-01-01 sum to 105% (p 30%, x 75%), "
               "above 100%")
    embedded = {"CORPGRAPH_DB": str(tmp_path / "embedded.db"), "CORPGRAPH_STORE": "embedded"}
    home = tmp_path / "neo4j-home"
    assert corpgraph("db", "import", str(world), "--neo4j-home", str(home), "--neo4j-admin", ADMIN).returncode == 0
    assert corpgraph("load", str(world), env=embedded).returncode == 0
    server = start_neo4j_server(home)
    try:
        assert corpgraph("db", "init", env=server.env()).returncode == 0
        for env in (embedded, {**server.env(), "CORPGRAPH_STORE": "neo4j"}):
            done = corpgraph("load", str(files[0.75]), env=env)
            assert done.returncode == 1 and refused in _flat(done.stderr), done.stderr
            done = corpgraph("load", str(files[0.6]), env=env)
            assert done.returncode == 0, done.stderr
    finally:
        server.stop()


def test_without_a_home_it_prints_the_command_and_a_bad_file_writes_nothing(tmp_path: Path) -> None:
    """No --neo4j-home: two files checked together (a stake before its companies), the CSV files and the exact
    neo4j-admin command, no scratch file left; a file with an unknown reference: its line and field, exit 1,
    no CSV file and no folder."""
    owns, companies = tmp_path / "owns.jsonl", tmp_path / "companies.jsonl"
    owns.write_text('{"type":"OWNS","source":"a","target":"b","share":0.5}\n')
    companies.write_text('{"type":"Company","id":"a","name":"A"}\n{"type":"Company","id":"b","name":"B"}\n')
    # the files are checked together: the stake's companies come in the next file
    done = corpgraph("db", "import", str(owns), str(companies), "--csv-dir", str(tmp_path / "csv"))
    assert done.returncode == 0, done.stderr
    assert not list((tmp_path / "csv").glob("staging*"))  # the scratch file is gone once the CSV files are
    text = _flat(done.stdout)
    assert "2 entities, 1 relations, 0 placeholder(s)" in text
    assert (f"neo4j-admin database import full neo4j --id-type=string --array-delimiter=U+001F "
            f"--multiline-fields-format=v2 --multiline-fields={tmp_path}/csv/nodes-Company.csv "
            f"--nodes=Entity:Company={tmp_path}/csv/nodes-Company.csv") in text
    assert f"--relationships=OWNS={tmp_path}/csv/relationships-OWNS.csv" in text
    assert f"--report-file={tmp_path}/csv/import.report --bad-tolerance=0" in text  # no bad entry skipped silently
    assert (tmp_path / "csv" / "relationships-OWNS.csv").read_text().splitlines()[1].startswith("a,b,OWNS|a|b|,0.5,")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type":"Company","id":"a","name":"A"}\n{"type":"OWNS","source":"a","target":"zz","share":0.5}\n')
    done = corpgraph("db", "import", str(bad), "--csv-dir", str(tmp_path / "bad-csv"))
    assert done.returncode == 1
    assert f"{bad}:2: target: unknown id 'zz'" in done.stderr and not (tmp_path / "bad-csv").exists()


@pytest.fixture(autouse=True)
def _no_session_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests start their own server; the CLI must not reach the session's through inherited NEO4J_*."""
    for key in ("NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        monkeypatch.delenv(key, raising=False)
