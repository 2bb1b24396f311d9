"""A relation row whose share cannot be right (9e999, -5: a hand-edited table) is left out of the projection and
reported in `errors` of every answer it touches; the rest of the answer is unaffected."""
from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import pytest

from corpgraph.api.app import create_app
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.identity.clusters import build_identity
from corpgraph.graph.projection.build import build_projection
from corpgraph.graph.projection.snapshot import Snapshots
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from tests.factory import batch, companies_owning, company, entity, owns, rel

with warnings.catch_warnings():
    # starlette >= 1.9 nudges towards httpx2 for TestClient; httpx is what the project installs.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

OWNERS = '{ owners(companyId: "c") { direct owner { id } } }'


def _damaged(tmp_path: Path, share: str) -> SqliteStore:
    """c held 10% by each of o1..o4 and 20% by x, then x's row set to `share` by raw SQL."""
    store = SqliteStore(tmp_path / "corpgraph.db")
    ingest(store, companies_owning(*((f"o{k}", "c", 0.1) for k in range(1, 5)), ("x", "c", 0.2)))
    with sqlite3.connect(store.path) as db:
        db.execute(f"UPDATE relations SET share = {share} WHERE id = 'OWNS|x|c|'")
    return store


@pytest.mark.parametrize("share", ["9e999", "-5"])
def test_an_impossible_share_is_left_out_and_reported(tmp_path: Path, share: str) -> None:
    store = _damaged(tmp_path, share)
    try:
        with TestClient(create_app(store=store, settings=ApiSettings())) as client:
            answer = client.post("/graphql", json={"query": OWNERS}).json()
    finally:
        store.close()
    # By hand: the four sound owners, 10% each, whatever x's row says (main: wrong owners, no error)
    assert sorted((h["owner"]["id"], h["direct"]) for h in answer["data"]["owners"]) == [
        ("o1", 0.1), ("o2", 0.1), ("o3", 0.1), ("o4", 0.1)]
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["UNREADABLE_RECORD"]
    assert "the stored relation 'OWNS|x|c|' is damaged (share " in answer["errors"][0]["message"]


def test_an_answer_that_touches_no_damage_has_no_error(tmp_path: Path) -> None:
    store = _damaged(tmp_path, "9e999")
    ingest(store, companies_owning(("p", "q", 0.5)))
    try:
        with TestClient(create_app(store=store, settings=ApiSettings())) as client:
            answer = client.post("/graphql", json={"query": '{ owners(companyId: "q") { direct } }'}).json()
    finally:
        store.close()
    assert answer == {"data": {"owners": [{"direct": 0.5}]}}


def test_the_damage_survives_a_snapshot(tmp_path: Path) -> None:
    store = _damaged(tmp_path, "-5")
    built = build_projection(store, build_identity(store))
    store.close()
    snapshots = Snapshots(tmp_path / "snaps", "x")
    snapshots.save(built)
    loaded = snapshots.load(built.revision)
    assert loaded is not None and [d.relation for d in loaded.damaged] == ["OWNS|x|c|"] == [
        d.relation for d in built.damaged]


def test_a_dangling_relation_and_an_unreadable_owner_leave_the_other_owners_answered(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "corpgraph.db")
    ingest(store, companies_owning(("o1", "c", 0.1), ("o2", "c", 0.2)))
    with sqlite3.connect(store.path) as db:  # a relation from an id no entity has, and o1's document broken
        db.execute("INSERT INTO relations(id, type, source, target, share, doc) VALUES "
                   "('OWNS|ghost|c|', 'OWNS', 'ghost', 'c', 0.3, ?)",
                   ['{"type": "OWNS", "source": "ghost", "target": "c", "share": 0.3}'])
        db.execute("UPDATE entities SET doc = 'garbage' WHERE id = 'o1'")
    try:
        with TestClient(create_app(store=store, settings=ApiSettings())) as client:
            answer = client.post("/graphql", json={"query": '{ owners(companyId: "c") { direct owner { id } } }'})
    finally:
        store.close()
    body = answer.json()
    # main: {"data": null} with NOT_FOUND 'ghost' (or o1's error): nothing of the answer survived
    assert body["data"] == {"owners": [{"direct": 0.2, "owner": {"id": "o2"}}]}
    messages = sorted(e["message"] for e in body["errors"])
    assert len(messages) == 2 and {e["extensions"]["code"] for e in body["errors"]} == {"UNREADABLE_RECORD"}
    assert messages[0].startswith("a stored relation points at 'ghost', which is not a stored entity")
    assert messages[1].startswith("the stored entity 'o1' (Company) cannot be read")


def test_a_search_that_meets_an_unreadable_entity_answers_the_others(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "corpgraph.db")
    ingest(store, companies_owning(("acme-one", "acme-two", 0.5)))
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE entities SET doc = 'garbage' WHERE id = 'acme-one'")
    try:
        with TestClient(create_app(store=store, settings=ApiSettings())) as client:
            body = client.post("/graphql", json={"query": '{ search(text: "acme") { id } }'}).json()
    finally:
        store.close()
    # main: {"data": null} and the error, naming the record '?': no match survived one damaged row
    assert body["data"] == {"search": [{"id": "acme-two"}]}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNREADABLE_RECORD"]
    assert body["errors"][0]["message"].startswith("the stored entity 'acme-one' (Company) cannot be read")


def test_a_row_that_disagrees_with_its_document_is_reported_where_paths_read_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "corpgraph.db")
    ingest(store, batch(company("p"), company("c"), entity("Incident", "i", category="outage"),
                        owns("p", "c", 0.0698), rel("RESPONSIBLE_FOR", "c", "i", role="operator")))
    with sqlite3.connect(store.path) as db:  # the row says 0.9 where the document says 0.0698
        db.execute("UPDATE relations SET share = 0.9 WHERE id = 'OWNS|p|c|'")
    query = '{ liabilityChain(incidentId: "i") { parties { entity { id } paths { hops { share } } } } }'
    try:
        with TestClient(create_app(store=store, settings=ApiSettings())) as client:
            body = client.post("/graphql", json={"query": query}).json()
    finally:
        store.close()
    # main: 0.9 served with no error
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNREADABLE_RECORD"]
    assert ("the stored relation 'OWNS|p|c|' is damaged: its row holds the share 0.9 and its document 0.0698"
            in body["errors"][0]["message"])
