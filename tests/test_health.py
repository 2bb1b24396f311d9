"""/healthz tells a sound store from a damaged one: "degraded" with the first problem (never a path) when the
store cannot be read, or when the projection could not be built from it."""
from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

from corpgraph.api.app import create_app
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import companies_owning

with warnings.catch_warnings():
    # starlette >= 1.9 nudges towards httpx2 for TestClient; httpx is what the project installs.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _malformed_relations(path: Path) -> None:
    """Overwrite the root page of the relations table with garbage, as a disk or a hand edit could."""
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'relations'").fetchone()[0]
    db.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)


def test_healthz_is_degraded_when_the_store_file_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "corpgraph.db"
    store = SqliteStore(path)
    ingest(store, companies_owning(*((f"o{i}", "t", 0.0001) for i in range(2_000))))
    store.close()  # the last connection checkpoints the WAL into the file
    _malformed_relations(path)
    store = SqliteStore(path)
    try:
        with TestClient(create_app(store=store, settings=ApiSettings())) as client:
            answer = client.post("/graphql", json={"query": '{ owners(companyId: "t") { direct } }'})
            assert answer.json()["errors"]  # the projection cannot be built from the damaged table
            health = client.get("/healthz")
    finally:
        store.close()
    assert health.status_code == 200
    body = health.json()
    # main: {"status": "ok", ...} while no analytic could be answered
    assert body["status"] == "degraded" and body["revision"] == 1
    assert "malformed" in body["problem"] and str(path) not in body["problem"]


def test_healthz_is_degraded_503_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "corpgraph.db"
    store = SqliteStore(path)
    try:
        with TestClient(create_app(store=store, settings=ApiSettings())) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            with sqlite3.connect(path) as db:
                db.execute("DROP TABLE meta")  # where the revision lives
            health = client.get("/healthz")
    finally:
        store.close()
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "degraded" and body["code"] == "STORE_ERROR"
    assert "no such table: meta" in body["problem"] and str(path) not in body["problem"]
