"""Safety of the GraphQL endpoint, in process: limits, bounded caches, masking, switches, CORS, the mutation token."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import warnings

import pytest

from corpgraph.api.app import create_app
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.base import GraphStore
from corpgraph.graph.stores.sqlite import SqliteStore

with warnings.catch_warnings():
    # starlette >= 1.9 nudges towards httpx2 for TestClient; httpx is what the project installs.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "s3cret-token"
DEEP = '{ liabilityChain(incidentId: "kaola-leak-2019") { parties { paths { hops { sources { title } } } } } }'


def client_for(store: GraphStore, **settings: Any) -> TestClient:
    """An in-process client of an app over the store with these settings."""
    return TestClient(create_app(store=store, settings=ApiSettings(**settings)))


def gql(client: TestClient, query: str, variables: dict[str, Any] | None = None,
        token: str | None = None, status: int = 200) -> dict[str, Any]:
    """POST a GraphQL request; the JSON answer (its HTTP status must be `status`)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == status, response.text
    return cast(dict[str, Any], response.json())


def messages(answer: dict[str, Any]) -> list[str]:
    """The error messages of an answer."""
    return [e["message"] for e in answer.get("errors") or []]


@pytest.fixture
def client(seed_store: SqliteStore) -> Iterator[TestClient]:
    """A client with default settings and a mutation token."""
    with client_for(seed_store, token=TOKEN) as c:
        yield c


# --- limits on the document -------------------------------------------------------------------------------

def test_depth_limit(seed_store: SqliteStore) -> None:
    # liabilityChain > parties > paths > hops > sources > title: depth 5 counted from the root field's children.
    with client_for(seed_store, max_query_depth=4) as c:
        assert messages(gql(c, DEEP)) == ["'anonymous' exceeds maximum operation depth of 4"]


def test_token_limit(seed_store: SqliteStore) -> None:
    # `{ entity ( id : "x" ) { id } }` is 11 tokens: { entity ( id : "x" ) { id } }
    with client_for(seed_store, max_tokens=10) as c:
        assert messages(gql(c, '{ entity(id: "x") { id } }')) == [
            "Syntax Error: Document contains more than 10 tokens. Parsing aborted."]
    with client_for(seed_store, max_tokens=11) as c:
        assert gql(c, '{ entity(id: "x") { id } }') == {"data": {"entity": None}}


def test_alias_limit(seed_store: SqliteStore) -> None:
    query = '{ a: entity(id: "lakala") { id } b: entity(id: "kaola") { id } c: entity(id: "alipay") { id } }'
    with client_for(seed_store, max_aliases=2) as c:
        assert messages(gql(c, query)) == ["3 aliases found. Allowed: 2"]
    with client_for(seed_store, max_aliases=3) as c:
        assert gql(c, query)["data"]["c"] == {"id": "alipay"}


@pytest.mark.parametrize("query,message", [
    ('{ search(text: "la", first: 101) { id } }', "first must be between 1 and 100, got 101"),
    ('{ search(text: "la", first: 0) { id } }', "first must be between 1 and 100, got 0"),
    ('{ companies(first: 500) { nodes { id } } }', "first must be between 1 and 100, got 500"),
    ('{ liabilityChain(incidentId: "kaola-leak-2019", maxDepth: 7) { asOf } }', "maxDepth must be between 1 and 6, got 7"),
    ('{ exposure(entityId: "lakala", maxDepth: 0) { asOf } }', "maxDepth must be between 1 and 6, got 0"),
    ('{ neighborhood(id: "kaola", depth: 9) { nodes { id } } }', "depth must be between 1 and 6, got 9"),
    ('{ liabilityChain(incidentId: "kaola-leak-2019", minShare: 1.5) { asOf } }', "minShare must be between 0 and 1, got 1.5"),
    ('{ liabilityChain(incidentId: "kaola-leak-2019", maxOwners: 1001) { asOf } }', "maxOwners must be between 1 and 1000, got 1001"),
])
def test_argument_bounds_have_clear_errors(client: TestClient, query: str, message: str) -> None:
    assert messages(gql(client, query)) == [message]


# --- errors -------------------------------------------------------------------------------------------------

def test_internal_errors_are_masked_and_logged(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    def broken(self: CorpGraph, *args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("secret detail at /srv/corpgraph/db")

    monkeypatch.setattr(CorpGraph, "owners_page", broken)
    response = client.post("/graphql", json={"query": '{ owners(companyId: "kaola") { direct } }'})
    assert response.status_code == 200
    assert [e["message"] for e in response.json()["errors"]] == ["Internal error; it has been logged."]
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "secret detail" in caplog.text  # the operator still sees the cause


def test_project_errors_keep_their_message_and_are_not_logged(client: TestClient,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    answer = gql(client, '{ companies(first: 2, after: "%%%") { nodes { id } } }')
    assert messages(answer) == ["invalid cursor '%%%': pass the endCursor of a previous page"]
    assert "invalid cursor" not in caplog.text  # a client's mistake is not a server error


def test_project_errors_carry_a_code(client: TestClient) -> None:
    limit = gql(client, '{ search(text: "la", first: 0) { id } }')["errors"][0]
    assert limit["extensions"] == {"code": "LIMIT_EXCEEDED"}
    refused = gql(client, UPSERT, {"r": NEW}, status=401)["errors"][0]  # 401, as the README says (main: 200)
    assert refused["extensions"] == {"code": "UNAUTHORIZED"}
    invalid = gql(client, UPSERT, {"r": [{"type": "Company", "id": "x"}]}, token=TOKEN)["errors"][0]
    assert invalid["extensions"] == {"code": "INVALID_INPUT",
                                     "problems": ["mutation:1: name: required field is missing"]}


def test_validation_messages_are_kept_and_suggestions_switch_off(seed_store: SqliteStore) -> None:
    query = '{ entiti(id: "x") { id } }'
    with client_for(seed_store) as c:
        assert messages(gql(c, query)) == ["Cannot query field 'entiti' on type 'Query'. Did you mean 'entity'?"]
    with client_for(seed_store, suggestions=False) as c:
        assert messages(gql(c, query)) == ["Cannot query field 'entiti' on type 'Query'."]


# --- switches and HTTP --------------------------------------------------------------------------------------

def test_introspection_switches_off(seed_store: SqliteStore) -> None:
    query = "{ __schema { queryType { name } } }"
    with client_for(seed_store) as c:
        assert gql(c, query)["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    with client_for(seed_store, introspection=False) as c:
        assert messages(gql(c, query))[0] == \
            "GraphQL introspection has been disabled, but the requested query contained the field '__schema'."


def test_graphiql_switches_off(seed_store: SqliteStore) -> None:
    html = {"Accept": "text/html"}
    with client_for(seed_store) as c:
        page = c.get("/graphql", headers=html)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    with client_for(seed_store, graphiql=False) as c:
        assert c.get("/graphql", headers=html).status_code == 404


def test_cors_only_for_configured_origins(seed_store: SqliteStore) -> None:
    preflight = {"Origin": "https://viz.example", "Access-Control-Request-Method": "POST"}
    with client_for(seed_store, cors_origins=["https://viz.example"]) as c:
        allowed = c.options("/graphql", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://viz.example"
        other = c.options("/graphql", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with client_for(seed_store) as c:
        assert "access-control-allow-origin" not in c.options("/graphql", headers=preflight).headers


def test_healthz(client: TestClient, seed_store: SqliteStore) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "store": "embedded", "revision": seed_store.revision()}


# --- mutations and the bearer token -------------------------------------------------------------------------

UPSERT = "mutation($r: [JSON!]!) { upsertRecords(records: $r) { entities relations } }"
NEW = [{"type": "Company", "id": "acme", "name": "Acme"}, {"type": "OWNS", "source": "lakala", "target": "acme",
                                                            "share": "60%"}]


def test_mutations_disabled_without_a_configured_token(seed_store: SqliteStore) -> None:
    with client_for(seed_store) as c:
        answer = gql(c, UPSERT, {"r": NEW}, token="anything", status=401)
    assert messages(answer) == ["mutations are disabled: the server has no CORPGRAPH_API_TOKEN set"]
    assert seed_store.get_entities(["acme"]) == {}


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x"])
def test_mutations_refused_without_the_right_token(client: TestClient, seed_store: SqliteStore,
                                                   token: str | None) -> None:
    answer = gql(client, UPSERT, {"r": NEW}, token=token, status=401)
    assert messages(answer) == ["mutations need the header 'Authorization: Bearer <CORPGRAPH_API_TOKEN>'"]
    assert seed_store.get_entities(["acme"]) == {}


def test_mutation_with_the_token_writes(client: TestClient, seed_store: SqliteStore) -> None:
    answer = gql(client, UPSERT, {"r": NEW}, token=TOKEN)
    assert answer == {"data": {"upsertRecords": {"entities": 1, "relations": 1}}}
    assert seed_store.get_entities(["acme"])["acme"].name == "Acme"


def test_mutation_validates_like_the_loader_and_writes_nothing(client: TestClient, seed_store: SqliteStore) -> None:
    bad = [{"type": "Company", "id": "acme"}, {"type": "OWNS", "source": "lakala", "target": "acme", "share": 3},
           "not an object"]
    assert messages(gql(client, UPSERT, {"r": bad}, token=TOKEN)) == [
        "3 problem(s), nothing written:\n"
        "mutation:1: name: required field is missing\n"
        "mutation:2: share: 3 is above 1: write a fraction (0.324) or a percent string ('32.4%')\n"
        "mutation:3: (record): expected a JSON object"]
    dangling = [{"type": "OWNS", "source": "lakala", "target": "ghost", "share": 0.1}]
    assert messages(gql(client, UPSERT, {"r": dangling}, token=TOKEN)) == [
        "1 problem(s), nothing written:\n"
        "mutation:1: target: unknown id 'ghost': load the entity first or in the same file"]
    assert seed_store.get_entities(["acme"]) == {}


def test_mutation_size_is_bounded(seed_store: SqliteStore) -> None:
    with client_for(seed_store, token=TOKEN, max_upsert=1) as c:
        assert messages(gql(c, UPSERT, {"r": NEW}, token=TOKEN)) == [
            "at most 1 records per mutation, got 2; split them"]


def test_mutations_are_refused_over_get(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": 'mutation { upsertRecords(records: []) { entities } }'},
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400  # strawberry's own refusal, in the project's JSON shape (main: plain text)
    assert response.json() == {"error": "mutations are not allowed when using GET", "code": "BAD_REQUEST"}
