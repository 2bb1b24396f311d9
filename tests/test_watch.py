"""The `watch` subscription (issue 21 item 5) over a real websocket (graphql-transport-ws) on a uvicorn server:
events for a new listing, a new stake and a new incident at a holding, each with the change log's ids."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from websockets.sync.client import ClientConnection, connect

from corpgraph.api.app import create_app
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company, entity, owns
from tests.http_server import serving

TOKEN = "watch-token"
HTTP = httpx.Client(trust_env=False, timeout=30)
WATCH = """subscription { watch(entityIds: ["a", "b"], regimes: ["OFAC"]) {
  entity { id } revision changed causes statuses { regime status aggregateShare } incidents exposure } }"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """X (not listed yet) holds 60% of A; A holds 40% of B. The server looks at the revision every 0.05 s."""
    store = SqliteStore(tmp_path / "corpgraph.db")
    ingest(store, batch(entity("Person", "x"), company("a"), company("b"), owns("x", "a", 0.6), owns("a", "b", 0.4)))
    with serving(create_app(store=store, settings=ApiSettings(token=SecretStr(TOKEN), watch_interval=0.05))) as url:
        yield url
    store.close()


def upsert(server: str, *records: dict[str, Any]) -> None:
    """Write records through the upsert mutation."""
    body = HTTP.post(f"{server}/graphql", headers={"Authorization": f"Bearer {TOKEN}"},
                     json={"query": "mutation($r: [JSON!]!) { upsertRecords(records: $r) { relations } }",
                           "variables": {"r": list(records)}}).json()
    assert "errors" not in body, body


def event(ws: ClientConnection) -> dict[str, Any]:
    """The next `next` message's watch event."""
    message = json.loads(ws.recv(timeout=20))
    assert message["type"] == "next", message
    found: dict[str, Any] = message["payload"]["data"]["watch"]
    return found


def test_watch_pushes_a_listing_a_stake_and_an_incident_at_a_holding(server: str) -> None:
    url = server.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": WATCH}}))
        initial = {e["entity"]["id"]: e for e in (event(ws), event(ws))}
        assert {k: (e["changed"], e["statuses"][0]["status"]) for k, e in initial.items()} == {
            "a": (["initial"], "NOT_BLOCKED"), "b": (["initial"], "NOT_BLOCKED")}

        # X is listed: A is blocked (60%); B's blocked holders now hold 40% (A's stake): not blocked, but changed.
        upsert(server, {"type": "Sanction", "entity": "x", "regime": "OFAC", "program": "SDN"})
        listed = {e["entity"]["id"]: e for e in (event(ws), event(ws))}
        assert listed["a"]["statuses"][0] == {"regime": "OFAC", "status": "BLOCKED_BY_OWNERSHIP", "aggregateShare": 0.6}
        assert listed["b"]["statuses"][0] == {"regime": "OFAC", "status": "NOT_BLOCKED", "aggregateShare": 0.4}
        assert listed["a"]["changed"] == ["sanctions:OFAC"] and "Sanction|x|x|OFAC|SDN|" in listed["a"]["causes"]

        # X takes 20% of B: 40% + 20% = 60% held by blocked persons: B is blocked; A does not change.
        upsert(server, owns("x", "b", 0.2))
        stake = event(ws)
        assert (stake["entity"]["id"], stake["statuses"][0]["status"]) == ("b", "BLOCKED_BY_OWNERSHIP")
        assert stake["statuses"][0]["aggregateShare"] == pytest.approx(0.6) and "OWNS|x|b|" in stake["causes"]

        # An incident at B, a holding of A (40%): A's exposure changes (one incident, 1000 records x 0.4).
        upsert(server, entity("Incident", "leak", category="data_leak", records_affected=1000),
               {"type": "RESPONSIBLE_FOR", "source": "b", "target": "leak"})
        exposed = event(ws)
        assert (exposed["entity"]["id"], exposed["changed"], exposed["incidents"]) == ("a", ["exposure"], 1)
        assert exposed["exposure"] == {"records_affected": pytest.approx(400.0)}
        ws.send(json.dumps({"id": "1", "type": "complete"}))


def test_watch_refuses_an_unknown_regime(server: str) -> None:
    url = server.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ws.recv(timeout=10)
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": 'subscription { watch(entityIds: ["a"], regimes: ["UN"]) { revision } }'}}))
        message = json.loads(ws.recv(timeout=10))
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert "no ownership rule for regime 'UN'" in errors[0]["message"]
