"""Limits that keep one request from stalling the server: document cost (linear check), body size, bad bodies, cache bytes."""
from __future__ import annotations

import time
import tracemalloc
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import get_introspection_query, parse

from corpgraph.api import query_cost
from corpgraph.api import document_guard
from corpgraph.api.doc_cache import CachedDocument, DocumentCache, tree_size
from corpgraph.api.document_guard import limit_error
from corpgraph.api.lanes import Lane
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.test_api_safety import client_for, gql, messages

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def bomb(levels: int, fan: int = 15) -> str:
    """F0 asks for `entity { id }`; each F(i) spreads F(i-1) `fan` times; the operation spreads F(levels) once."""
    parts = ['fragment F0 on Query { entity(id: "x") { id } }']
    parts += [f"fragment F{i} on Query {{ {' '.join([f'...F{i - 1}'] * fan)} }}" for i in range(1, levels + 1)]
    return "\n".join(parts) + f"\n{{ ...F{levels} }}"


@pytest.fixture
def client(seed_store: SqliteStore) -> Iterator[TestClient]:
    """A client with default settings."""
    with client_for(seed_store) as c:
        yield c


# --- cost of the expanded document ----------------------------------------------------------------------------

def test_fragment_bomb_is_refused_fast(client: TestClient) -> None:
    # F0 costs 2 (entity + id); five levels of 15 spreads: 2 * 15^5 = 1,518,750 > 5000 (the default limit).
    started = time.perf_counter()
    answer = gql(client, bomb(5))
    elapsed = time.perf_counter() - started
    assert answer["data"] is None
    [error] = answer["errors"]
    assert error["message"].startswith("the query costs 1518750 (fields once fragments are expanded")
    assert error["extensions"] == {"code": "LIMIT_EXCEEDED"}
    # strawberry's depth limiter alone took 7.9 s on this document; the whole request now takes milliseconds
    # (1 s leaves room for a loaded machine).
    assert elapsed < 1.0


def test_the_check_visits_each_selection_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Linear: the walker measures every selection set of the text once, however often a fragment is spread.
    # bomb(n) has n + 1 fragments with one selection set each, F0's `entity` has one more, the operation one:
    # n + 3 selection sets in the text, while the expansion has 15^n copies of F0.
    calls = 0
    original = query_cost._Walker.selections

    def counted(self: Any, node: Any) -> query_cost.Measure:
        nonlocal calls
        calls += 1
        return original(self, node)

    monkeypatch.setattr(query_cost._Walker, "selections", counted)
    for levels in (2, 5, 40):
        calls = 0
        [found] = query_cost.measure_operations(parse(bomb(levels)), {}, {}).values()
        assert calls == levels + 3
        # 2 * 15^levels, saturated at CAP when the true number is astronomically large
        assert found.cost == min(2 * 15 ** levels, query_cost.CAP)


def test_cost_counts_pages() -> None:
    # holdings(first: 50) { direct owner { id } }: 1 + 50 * (direct 1 + owner 1 + id 1) = 151;
    # search without `first` takes its default page of 10: 1 + 10 * 1 = 11.
    doc = parse('{ holdings(companyId: "a", first: 50) { direct owner { id } } search(text: "x") { id } }')
    [found] = query_cost.measure_operations(doc, {}, {"search": 10, "holdings": 100}).values()
    assert (found.cost, found.depth, found.aliases) == (151 + 11, 2, 0)
    # A variable's value counts like a literal: first $n = 3 gives 1 + 3 * 3 = 10.
    doc = parse('query($n: Int) { holdings(companyId: "a", first: $n) { direct owner { id } } }')
    assert query_cost.measure_operations(doc, {"n": 3}, {})["anonymous"].cost == 10


def test_cost_limit_message_and_boundary(seed_store: SqliteStore) -> None:
    query = '{ a: entity(id: "lakala") { id name } b: entity(id: "kaola") { id name } }'  # 2 * (1 + 2) = 6
    with client_for(seed_store, max_cost=5) as c:
        assert messages(gql(c, query))[0].startswith("the query costs 6 ")
    with client_for(seed_store, max_cost=6) as c:
        assert gql(c, query)["data"]["b"] == {"id": "kaola", "name": "Kaola Credit"}


def test_graphiql_introspection_stays_allowed(client: TestClient) -> None:
    answer = gql(client, get_introspection_query())
    assert "errors" not in answer and answer["data"]["__schema"]["queryType"]["name"] == "Query"


def test_cyclic_and_unknown_fragments_are_left_to_validation(client: TestClient) -> None:
    cyclic = "fragment A on Query { ...B } fragment B on Query { ...A } { ...A }"
    assert messages(gql(client, cyclic)) == ["Cannot spread fragment 'A' within itself via 'B'."]
    assert messages(gql(client, "{ ...Nope }")) == ["Unknown fragment 'Nope'."]


def test_depth_is_checked_on_the_expansion() -> None:
    # Depth through a fragment: entity(0) > sources(1) > title(2) = 2, refused by a limit of 1.
    doc = parse('fragment S on Company { sources { title } } { entity(id: "x") { ... on Company { ...S } } }')
    error = limit_error(doc, {}, ApiSettings(max_query_depth=1), {})
    assert error is not None and error.message == "'anonymous' exceeds maximum operation depth of 1"
    assert limit_error(doc, {}, ApiSettings(max_query_depth=2), {}) is None


def test_a_cached_document_is_measured_again_only_when_its_page_sizes_change(monkeypatch: pytest.MonkeyPatch) -> None:
    # search's selection counted once per item of its page: 1 + first x 2 (id, name).
    doc = parse("query($n: Int, $t: String!) { search(text: $t, first: $n) { id name } }")
    entry = CachedDocument(doc)
    walks = 0
    original = query_cost.measure_operations

    def counting(*args: Any) -> Any:
        nonlocal walks
        walks += 1
        return original(*args)

    monkeypatch.setattr(document_guard, "measure_operations", counting)
    settings = ApiSettings(max_cost=21)
    assert limit_error(doc, {"n": 10, "t": "a"}, settings, {}, entry) is None  # 1 + 10 x 2 = 21
    assert limit_error(doc, {"n": 10, "t": "other text"}, settings, {}, entry) is None
    assert walks == 1  # the text is not a page size: the same measures
    refused = limit_error(doc, {"n": 11, "t": "a"}, settings, {}, entry)  # 1 + 11 x 2 = 23
    assert refused is not None and refused.message.startswith("the query costs 23 ")
    assert walks == 2 and entry.page_variables == ("n",)
    assert limit_error(doc, {"t": "a"}, settings, {"search": 10}, entry) is None  # no `first`: the default, 10
    assert walks == 3


def test_the_lane_choice_reads_a_cached_documents_field_names_once(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = parse('{ liabilityChain(incidentId: "x") { incident { id } } }')
    entry = CachedDocument(doc)
    walks = 0
    original = document_guard._names

    def counting(document: Any) -> set[str]:
        nonlocal walks
        walks += 1
        return original(document)

    monkeypatch.setattr(document_guard, "_names", counting)
    for _ in range(2):
        assert document_guard.lane_of(doc, {}, ApiSettings(), {}, frozenset({"liabilityChain"}), entry) is Lane.HEAVY
    assert walks == 1 and entry.names == frozenset({"liabilityChain", "incident", "id"})
    assert document_guard.lane_of(doc, {}, ApiSettings(), {}, frozenset({"search"}), entry) is Lane.QUICK


# --- the HTTP body ------------------------------------------------------------------------------------------

def test_body_limit_declared_and_streamed(seed_store: SqliteStore) -> None:
    big = '{"query": "{ __typename }", "variables": {"pad": "' + "x" * 2000 + '"}}'
    want = {"error": "the request body is larger than 1000 bytes (CORPGRAPH_API_MAX_BODY_BYTES); send fewer "
                     "records per mutation or a shorter query", "code": "REQUEST_TOO_LARGE"}
    with client_for(seed_store, max_body_bytes=1000) as c:
        declared = c.post("/graphql", content=big, headers={"content-type": "application/json"})
        assert (declared.status_code, declared.json()) == (413, want)
        # No Content-Length (chunked): the body is counted as it arrives.
        streamed = c.post("/graphql", content=iter([big[:600].encode(), big[600:].encode()]),
                          headers={"content-type": "application/json"})
        assert (streamed.status_code, streamed.json()) == (413, want)
        small = c.post("/graphql", json={"query": "{ __typename }"})
        assert (small.status_code, small.json()) == (200, {"data": {"__typename": "Query"}})


SHAPE = 'the request body must be a JSON object such as {"query": "{ ... }", "variables": {}}'


@pytest.mark.parametrize("body,message", [
    ('"a plain string"', f"{SHAPE}, not a string"),
    ("42", f"{SHAPE}, not a number"),
    ("null", f"{SHAPE}, not null"),
    ('{"query": "{ __typename }", "variables": ' + '{"a": ' * 100 + "1" + "}" * 100 + "}",
     "the request body nests JSON more than 64 levels deep (CORPGRAPH_API_MAX_JSON_DEPTH)"),
    # Deeper than Python's JSON decoder can recurse (within the 50,000 arrays allowed): its RecursionError becomes
    # the same 400.
    ('{"query": "{ __typename }", "variables": {"a": ' + "[" * 40_000 + "]" * 40_000 + "}}",
     "the request body nests JSON more than 64 levels deep"),
])
def test_bad_bodies_get_a_clear_400(client: TestClient, body: str, message: str) -> None:
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith(message) and response.json()["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("body", ['{"query": 5}', '{"query": "{ __typename }", "variables": [1]}', "[]", "{bad",
                                  '{"query": "{ __typename }", "variables": "x"}', '{"query": "{"}'])
def test_other_bad_bodies_never_answer_500(client: TestClient, body: str) -> None:
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 400), response.text
    assert "Traceback" not in response.text and "Internal" not in response.text


# --- the document cache, bounded by bytes ---------------------------------------------------------------------

def test_tree_size_matches_the_memory_a_parse_takes() -> None:
    # tracemalloc measures what parse() allocated; the cache's estimate must not fall more than 25% short of it
    # (so the byte bound holds) and not overshoot by half (so the cache stays useful). Short names that
    # Python interns are counted though not allocated: small documents are overestimated, the safe side.
    for text in ['{ entity(id: "lakala") { id name } }', get_introspection_query(),
                 "{ " + " ".join(f'a{i}: entity(id: "{i}") {{ id name aliases }}' for i in range(300)) + " }"]:
        tracemalloc.start()
        document = parse(text)
        allocated = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert 0.75 * allocated <= tree_size(document) <= 1.5 * allocated


def test_cache_is_bounded_by_bytes_not_entries() -> None:
    cache = DocumentCache(max_bytes=2_000_000)
    for i in range(60):  # 60 distinct queries of ~0.3 MB parsed each: 18 MB if all were kept
        text = "{ " + " ".join(f'a{j}: entity(id: "{i}") {{ id }}' for j in range(120)) + " }"
        cache.put(text, parse(text))
        assert cache.bytes <= cache.max_bytes
    assert 0 < len(cache) < 60
    huge = "{ " + " ".join(f'b{j}: entity(id: "x") {{ id }}' for j in range(2000)) + " }"
    cache.put(huge, parse(huge))  # larger than the whole budget: answered, never kept
    assert cache.get(huge) is None and cache.bytes <= cache.max_bytes


def test_second_request_is_served_from_the_cache(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import corpgraph.api.document_guard as guard

    parses = 0
    original = parse  # graphql's, which the guard calls by that name

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal parses
        parses += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(guard, "parse", counted)
    with client_for(seed_store) as c:
        for _ in range(3):
            assert gql(c, '{ entity(id: "lakala") { id } }')["data"] == {"entity": {"id": "lakala"}}
    assert parses == 1
    with client_for(seed_store, cache_bytes=0) as c:  # no room at all: every request parses again
        for _ in range(2):
            gql(c, '{ entity(id: "lakala") { id } }')
    assert parses == 3


def test_capped_neighbourhood_says_how_many_more(seed_store: SqliteStore) -> None:
    # Depth 2 from kaola reaches 7 entities (see test_api_graph); a cap of 5 keeps 5 and marks 2 more.
    query = '{ neighborhood(id: "kaola", depth: 2) { nodes { id } moreNodes } }'
    with client_for(seed_store, max_nodes=5) as c:
        graph = gql(c, query)["data"]["neighborhood"]
    assert (len(graph["nodes"]), graph["moreNodes"]) == (5, 2)
