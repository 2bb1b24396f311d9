"""A bounded hypothesis-graphql fuzz run: valid random queries and mutations never give a 500 or a leaked traceback."""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries
from pydantic import SecretStr

from corpgraph.api.app import create_app
from corpgraph.api.graphql_schema import sdl
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.stores.sqlite import SqliteStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nudges towards httpx2 for TestClient
    from starlette.testclient import TestClient

TOKEN = "fuzz-token"
SEED_IDS = ["lakala", "kaola", "kaola-leak-2019", "heipachong", "alibaba", "ctrip-outage-2015", "cctv"]
SCALARS = {
    "Date": st.dates().map(nodes.String),
    "JSON": st.one_of(st.integers(-10, 10).map(nodes.Int), st.text(max_size=5).map(nodes.String)),
    # Ids of the seed half of the time, so resolvers get past NotFound and into the analytics.
    "ID": st.one_of(st.sampled_from(SEED_IDS), st.text(max_size=8)).map(nodes.String),
}
OPERATIONS = st.one_of(queries(sdl(), custom_scalars=SCALARS), mutations(sdl(), custom_scalars=SCALARS))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An in-process client over a seeded store (mutations unlocked, so their validation is fuzzed too)."""
    from corpgraph.graph.write.ingest import ingest
    from corpgraph.loaders.seed import seed_path
    from corpgraph.loaders.validate import load_file

    store = SqliteStore(tmp_path_factory.mktemp("fuzz") / "corpgraph.db")
    ingest(store, load_file(seed_path()))
    app = create_app(store=store, settings=ApiSettings(token=SecretStr(TOKEN), max_aliases=1000, max_query_depth=50,
                                                      max_tokens=100_000))
    # raise_server_exceptions=False: an exception escaping the app must show up as the 500 a client would get.
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(operation=OPERATIONS)
def test_fuzzed_operations_fail_only_cleanly(client: TestClient, operation: str) -> None:
    response = client.post("/graphql", json={"query": operation},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    errors: list[dict[str, Any]] = response.json().get("errors") or []
    # A masked error is still a crash of ours on some valid input: the fuzz run must not meet any.
    assert [e["message"] for e in errors if e["message"].startswith("Internal error")] == []
