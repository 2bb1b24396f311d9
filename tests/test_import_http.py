"""Imported GLEIF and FollowTheMoney data answered over real HTTP (GraphQL): owners, unknown parents, topics.

The fixtures' worlds are described in tests/test_import_gleif.py and tests/test_import_ftm.py.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corpgraph.api.app import create_app
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.validate import load_file
from tests.http_server import serving
from tests.test_api_http import gql

FIXTURES = Path(__file__).parent / "fixtures"
FILES = [FIXTURES / "gleif" / "rr.xml", FIXTURES / "gleif" / "lei.xml", FIXTURES / "gleif" / "repex.xml",
         FIXTURES / "ftm" / "world.ftm.jsonl"]

OWNERS = """query($id: ID!) { owners(companyId: $id, asOf: "2024-06-01") {
  owner { id name } direct integrated controls } }"""
SEARCH = """query($text: String!, $topics: [String!]) { search(text: $text, topics: $topics) {
  id name topics placeholder unknownReason sources { publisher title } } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a store holding the GLEIF fixtures (relationships first) and the FtM world."""
    store = SqliteStore(Path(tmp_path_factory.mktemp("imports")) / "corpgraph.db")
    for path in FILES:
        ingest(store, load_file(path))
    with serving(create_app(store=store)) as base:
        yield base
    store.close()


def test_gleif_owners_over_http(server: str) -> None:
    owners = {o["owner"]["id"]: o for o in gql(server, OWNERS, {"id": "lei:TESTCHILDB0000000072"})["owners"]}
    # Child A holds 100.00% of Child B; Parent holds 80.00% of Child A: 0.8 x 1.0 = 0.8, a majority.
    child_a, parent = owners["lei:TESTCHILDA0000000024"], owners["lei:TESTPARENT0000000020"]
    assert (child_a["owner"]["name"], child_a["direct"], child_a["controls"]) == ("Test Child A Limited", 1.0, True)
    assert parent["integrated"] == pytest.approx(0.8) and parent["controls"] is True


def test_unknown_parent_and_placeholder_are_marked(server: str) -> None:
    [unknown] = gql(server, SEARCH, {"text": "Unknown direct parent of TESTPARENT"})["search"]
    assert (unknown["unknownReason"], unknown["placeholder"]) == ("NATURAL_PERSONS", False)
    [outside] = gql(server, SEARCH, {"text": "TESTOUTSIDE000000039"})["search"]
    assert outside["placeholder"] is True


def test_topics_are_shown_and_filter_the_search(server: str) -> None:
    [anna] = gql(server, SEARCH, {"text": "Anna Muster", "topics": ["sanction"]})["search"]
    assert anna["id"] == "ftm:anna" and anna["topics"] == ["role.pep", "sanction"]
    assert {"publisher": "Council of the EU", "title": "Sanction: EU Widget Regime"} in anna["sources"]
    assert gql(server, SEARCH, {"text": "Anna Muster", "topics": ["crime"]})["search"] == []
    # Acme carries corp.public only; among "acme" matches the sanction filter keeps none.
    assert gql(server, SEARCH, {"text": "Acme", "topics": ["sanction"]})["search"] == []
    assert [e["id"] for e in gql(server, SEARCH, {"text": "Acme", "topics": ["corp.public"]})["search"]] == ["ftm:acme"]
