"""What HTTP clients are told: no filesystem path in any message (the server log has it), and every refusal of
the HTTP layer, strawberry's own included, in the project's JSON shape {"error": ..., "code": ...}."""
from __future__ import annotations

import logging
import sqlite3
import warnings
from typing import Any

import pytest

from corpgraph.api.app import create_app
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import WITHHELD

with warnings.catch_warnings():
    # starlette >= 1.9 nudges towards httpx2 for TestClient; httpx is what the project installs.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _failing_reads(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read of the store fails as SQLite does on a damaged file (the message would name the file)."""
    def broken(sql: str, params: Any) -> list[tuple[Any, ...]]:
        raise store._translated(sqlite3.DatabaseError("database disk image is malformed"), "reading")
    monkeypatch.setattr(store, "_query", broken)


def test_store_errors_name_no_path_to_clients_and_log_it(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    path = str(seed_store.path)
    with TestClient(create_app(store=seed_store, settings=ApiSettings())) as client:
        client.get("/healthz")  # the projection is built before the store breaks
        _failing_reads(seed_store, monkeypatch)
        with caplog.at_level(logging.WARNING):
            health = client.get("/healthz")
            answer = client.post("/graphql", json={"query": '{ entity(id: "lakala") { id } }'})
    assert health.status_code == 503 and health.json()["code"] == "STORE_ERROR"
    assert path not in health.text and str(seed_store.path.parent) not in health.text  # main: the full path
    assert f"reading the embedded store at {WITHHELD} failed: database disk image is malformed" in health.text
    message = answer.json()["errors"][0]["message"]
    assert path not in message and WITHHELD in message
    assert path in caplog.text  # the operator still learns which file


@pytest.mark.parametrize("body,content_type,reason", [
    (b'[{"query": "{ __typename }"}]', "application/json", "Batching is not enabled"),
    (b"{ __typename }", "text/plain", "Unsupported content type"),
])
def test_strawberry_s_own_refusals_have_the_json_shape(seed_store: SqliteStore, body: bytes, content_type: str,
                                                       reason: str) -> None:
    with TestClient(create_app(store=seed_store, settings=ApiSettings())) as client:
        response = client.post("/graphql", content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert response.json() == {"error": reason, "code": "BAD_REQUEST"}  # main: the reason as plain text


def test_a_method_graphql_does_not_take_is_a_json_405(seed_store: SqliteStore) -> None:
    with TestClient(create_app(store=seed_store, settings=ApiSettings())) as client:
        response = client.put("/graphql", content=b"{}")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("method,path,status,code", [("GET", "/nowhere", 404, "NOT_FOUND"),
                                                     ("POST", "/healthz", 405, "METHOD_NOT_ALLOWED")])
def test_starlette_s_own_refusals_have_the_json_shape(seed_store: SqliteStore, method: str, path: str, status: int,
                                                      code: str) -> None:
    with TestClient(create_app(store=seed_store, settings=ApiSettings())) as client:
        response = client.request(method, path)
    assert response.status_code == status
    assert response.json()["code"] == code  # main: "Not Found" / "Method Not Allowed" as plain text
