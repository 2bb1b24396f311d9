"""Sanctions by ownership over real HTTP (issue 21): sanctionsStatus, sanctionedByOwnership and their errors, on a
uvicorn server over a store holding OFAC's example 3, an EU aggregate, and the real OpenSanctions sample."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corpgraph.api.app import create_app
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.validate import load_file
from tests.factory import batch, company, entity, owns
from tests.http_server import serving

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "ftm" / "t1-sanctions-entities.ftm.jsonl"
HTTP = httpx.Client(trust_env=False, timeout=30)
SRC = [{"publisher": "OFAC", "title": "SDN List"}]

STATUS = """query($id: ID!, $regime: String!, $asOf: Date) { sanctionsStatus(entityId: $id, regime: $regime, asOf: $asOf) {
  entity { id } regime status aggregateShare aggregateShareMin aggregateShareMax notes
  designations { regime program validFrom sources { title } }
  contributors { entity { id } status via share paths { hops { from to type share sources { title } } } } } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """OFAC example 3 (X 50% of A and 10% of B, A 40% of B; X listed from 2020), P and Q listed by the EU with
    30% and 25% of E, and the real OpenSanctions sample."""
    store = SqliteStore(Path(tmp_path_factory.mktemp("sanctions")) / "corpgraph.db")
    ingest(store, batch(
        entity("Person", "x"), entity("Person", "p"), entity("Person", "q"), *(company(c) for c in "abe"),
        {"type": "Sanction", "entity": "x", "authority": "Office of Foreign Assets Control", "program": "SDGT",
         "valid_from": "2020-01-01", "sources": SRC},
        {"type": "Sanction", "entity": "p", "regime": "EU"}, {"type": "Sanction", "entity": "q", "regime": "EU"},
        owns("x", "a", 0.5), owns("x", "b", 0.1), owns("a", "b", 0.4), owns("p", "e", 0.3), owns("q", "e", 0.25)))
    ingest(store, load_file(REAL))
    with serving(create_app(store=store, settings=ApiSettings())) as url:
        yield url
    store.close()


def post(server: str, query: str, variables: dict[str, Any]) -> Any:
    """The whole GraphQL answer (data and errors)."""
    response = HTTP.post(f"{server}/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    return response.json()


def status(server: str, id: str, regime: str, as_of: str | None = None) -> Any:
    """The sanctionsStatus answer, failing the test on any error."""
    body = post(server, STATUS, {"id": id, "regime": regime, "asOf": as_of})
    assert "errors" not in body, body["errors"]
    return body["data"]["sanctionsStatus"]


def test_ofac_example_3_over_http_with_its_evidence(server: str) -> None:
    b = status(server, "b", "OFAC")
    # 10% from listed X + 40% from A (blocked: 50% held by X) = 50%: blocked under OFAC's "50 percent or more".
    assert (b["status"], b["aggregateShare"], b["regime"]) == ("BLOCKED_BY_OWNERSHIP", pytest.approx(0.5), "OFAC")
    got = {c["entity"]["id"]: c for c in b["contributors"]}
    assert {k: (c["status"], c["share"]) for k, c in got.items()} == {
        "x": ("LISTED", pytest.approx(0.1)), "a": ("BLOCKED_BY_OWNERSHIP", pytest.approx(0.4))}
    hops = got["a"]["paths"][0]["hops"]
    assert [(h["type"], h["from"], h["to"]) for h in hops] == [("SANCTION", "x", "x"), ("OWNS", "x", "a"),
                                                              ("OWNS", "a", "b")]
    assert hops[0]["sources"] == [{"title": "SDN List"}]
    # The regime came from the authority; before the listing nothing is blocked.
    x = status(server, "x", "ofac")
    assert x["status"] == "LISTED" and x["designations"][0]["program"] == "SDGT"
    assert status(server, "b", "OFAC", "2019-12-31")["status"] == "NOT_BLOCKED"


def test_eu_aggregate_over_http_and_uk_does_not_apply_eu_listings(server: str) -> None:
    e = status(server, "e", "EU")
    assert (e["status"], e["aggregateShare"]) == ("BLOCKED_BY_OWNERSHIP", pytest.approx(0.55))
    assert status(server, "e", "UK")["status"] == "NOT_BLOCKED"  # P and Q are listed by the EU only


def test_the_real_opensanctions_sample_is_listed_by_the_eu(server: str) -> None:
    # t1-sanctions-entities: IRGC, of topic sanction, in the eu_fsf dataset only (no Sanction entity in the file).
    irgc = status(server, "ftm:NK-2PacmNpiLUmoz4XD2mSt7A", "EU")
    assert irgc["status"] == "LISTED" and irgc["designations"][0]["program"] == "eu_fsf"
    assert status(server, "ftm:NK-2PacmNpiLUmoz4XD2mSt7A", "OFAC")["status"] == "NOT_BLOCKED"


def test_sanctioned_by_ownership_over_http(server: str) -> None:
    query = """query($after: String) { sanctionedByOwnership(regime: "OFAC", first: 1, after: $after) {
      count pageInfo { endCursor hasNextPage } nodes { entity { id } status aggregateShare } } }"""
    first = post(server, query, {"after": None})["data"]["sanctionedByOwnership"]
    assert first["count"] == 2 and first["pageInfo"]["hasNextPage"]
    assert first["nodes"] == [{"entity": {"id": "a"}, "status": "BLOCKED_BY_OWNERSHIP", "aggregateShare": 0.5}]
    rest = post(server, query, {"after": first["pageInfo"]["endCursor"]})["data"]["sanctionedByOwnership"]
    assert [n["entity"]["id"] for n in rest["nodes"]] == ["b"] and not rest["pageInfo"]["hasNextPage"]


def test_errors_are_clear_and_leak_nothing(server: str) -> None:
    unknown = post(server, STATUS, {"id": "x", "regime": "UN"})["errors"][0]
    assert unknown["extensions"]["code"] == "BAD_REQUEST" and "OFAC, EU, UK" in unknown["message"]
    missing = post(server, STATUS, {"id": "nobody", "regime": "OFAC"})["errors"][0]
    assert missing["extensions"]["code"] == "NOT_FOUND" and "Traceback" not in missing["message"]
    incident_query = post(server, """{ sanctionedByOwnership(regime: "OFAC", first: 5000) { count } }""", {})
    assert incident_query["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"


def test_screen_over_http(server: str) -> None:
    query = """query($rows: [CounterpartyInput!]!) { screen(counterparties: $rows, regimes: ["OFAC", "EU"]) {
      index name hit match { entity { id } score reasons } statuses { regime status aggregateShare } } }"""
    rows = [{"name": "B"}, {"name": "nobody at all"}, {"name": "E", "id": "e"}]
    got = {r["index"]: r for r in post(server, query, {"rows": rows})["data"]["screen"]}
    # "B" is company b's name exactly (identical names 0.85): OFAC blocks it (50%), the EU does not (P, Q: E only).
    assert got[1]["match"]["entity"]["id"] == "b" and got[1]["match"]["score"] == 0.85
    assert [(s["regime"], s["status"]) for s in got[1]["statuses"]] == [("OFAC", "BLOCKED_BY_OWNERSHIP"),
                                                                      ("EU", "NOT_BLOCKED")]
    assert got[2]["match"] is None and got[2]["hit"] is False and got[2]["statuses"] == []
    assert got[3]["match"]["score"] == 1.0 and got[3]["statuses"][1]["status"] == "BLOCKED_BY_OWNERSHIP"
    bad = post(server, query, {"rows": [{"name": "x", "country": "XX"}]})["errors"][0]
    assert bad["extensions"]["code"] == "INVALID_INPUT" and bad["extensions"]["problems"][0].startswith("screen:1: country:")
