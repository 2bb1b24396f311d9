"""api/fast_lists.py: lists of plain objects completed without graphql-core's per-field machinery give the same
JSON and the same errors as graphql-core's own completion (seed data, and a tiny schema for the error cases)."""
from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from corpgraph.api.context import make_context
from graphql import parse

from corpgraph.api.fast_lists import _PLAIN, _SHARED, FastListExecution, is_awaitable, shared_plans
from corpgraph.api.graphql_schema import make_schema
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore

CHAIN = '{ liabilityChain(incidentId: "kaola-leak-2019", asOf: "2020-01-01") { parties { entity { id } role weight } } }'
QUERIES = [
    CHAIN,
    # __typename, fragments, aliases, @skip/@include, an abstract field's own fragments, nested lists (paths, hops)
    '''query($no: Boolean = true) { liabilityChain(incidentId: "kaola-leak-2019", asOf: "2020-01-01") {
         incident { __typename id } parties { __typename ...P who: entity { ... on Company { name } __typename id }
         weight @skip(if: $no) controls @include(if: $no) } } }
       fragment P on Party { role entity { id type } paths { weight hops { from to type share } } }''',
    '{ exposure(entityId: "lakala", asOf: "2020-01-01") { count items { incident { id name } via { id } channel '
    'weight unknown estimate cursor } totals } }',
]


def _run(store: SqliteStore, query: str, execution: type[Any]) -> tuple[Any, int]:
    """(the answer as a client gets it, the number of resolve infos graphql-core built) under an execution class."""
    settings = ApiSettings()
    schema = make_schema(settings)
    infos = 0

    class Counting(execution):  # type: ignore[misc]
        def build_resolve_info(self, *args: Any) -> Any:
            nonlocal infos
            infos += 1
            return super().build_resolve_info(*args)

    schema.execution_context_class = Counting
    result = asyncio.run(schema.execute(query, context_value=make_context(CorpGraph(store), settings)))
    return ({"data": result.data, "errors": [e.formatted for e in result.errors or []]}, infos)


@pytest.mark.parametrize("query", QUERIES)
def test_the_shortcut_answers_as_graphql_core_does(seed_store: SqliteStore, query: str) -> None:
    fast, _ = _run(seed_store, query, FastListExecution)
    plain, _ = _run(seed_store, query, StrawberryGraphQLCoreExecutionContext)
    assert fast == plain and not fast["errors"]


def test_the_shortcut_builds_no_resolve_info_per_party(seed_store: SqliteStore) -> None:
    answer, fast = _run(seed_store, CHAIN, FastListExecution)
    _, plain = _run(seed_store, CHAIN, StrawberryGraphQLCoreExecutionContext)
    parties = len(answer["data"]["liabilityChain"]["parties"])
    assert parties >= 3  # README: Kaola RESPONSIBLE, Lakala OWNER, Heipachong DATA_RECIPIENT
    # graphql-core: liabilityChain and parties, then per party entity, role and weight, and the entity's id.
    assert plain == 2 + 4 * parties
    assert fast == 2


@pytest.mark.parametrize("query, shared", [(CHAIN, True), (QUERIES[1], False)], ids=["plain", "directives"])
def test_a_document_without_directives_keeps_its_plans_for_the_next_request(seed_store: SqliteStore, query: str,
                                                                            shared: bool) -> None:
    settings = ApiSettings()
    schema = make_schema(settings)  # one schema: its document cache hands both requests the same parsed document
    made = 0

    class Counting(FastListExecution):
        def _make_plan(self, *args: Any) -> Any:
            nonlocal made
            made += 1
            return super()._make_plan(*args)

    schema.execution_context_class = Counting
    answers, plans = [], []
    for _ in range(2):
        made = 0
        result = asyncio.run(schema.execute(query, context_value=make_context(CorpGraph(seed_store), settings)))
        answers.append((result.data, result.errors))
        plans.append(made)
    assert answers[0] == answers[1] and answers[0][1] is None
    assert plans[0] >= 2  # parties, and the entity type of their `entity`
    # @skip/@include read variables: such a document's plans are made again for each request
    assert plans[1] == (0 if shared else plans[0])


def test_a_documents_plans_go_with_it() -> None:
    schema = make_schema(ApiSettings())._schema
    document = parse("{ companies { nodes { id } } }")
    key = id(document)
    assert shared_plans(schema, document) == {} and key in _SHARED[schema]
    del document
    gc.collect()
    assert key not in _SHARED[schema]


@dataclass
class _Row:
    name: str | None
    size: Any


@strawberry.type
class _Item:
    name: str
    size: int | None


@strawberry.type
class _Query:
    @strawberry.field
    def items(self) -> list[_Item]:
        return ROWS  # type: ignore[return-value]  # plain objects, as the analytics' answers are


ROWS: list[_Row] = []


BOTH = {"items": [{"name": "a", "size": 1}, {"name": "b", "size": None}]}


@pytest.mark.parametrize("rows, data, errors", [
    ([_Row("a", 1), _Row(None, 2)], None, 1),  # a null where the schema says non-null: the list is nulled, one error
    ([_Row("a", 1), _Row("b", "x")], BOTH, 1),  # a value Int refuses: that field is null, one error
    ([_Row("a", 1), _Row("b", None)], BOTH, 0),  # a null where the schema allows it: no error
], ids=["non-null", "refused", "nullable"])
def test_what_the_shortcut_cannot_complete_is_answered_by_graphql_core(rows: list[_Row], data: Any, errors: int) -> None:
    ROWS[:] = rows
    answers = _both_ways(_Query, "{ items { name size } }")
    assert answers[0] == answers[1]
    assert answers[0][0] == data and len(answers[0][1]) == errors


def _both_ways(query: type, text: str) -> list[tuple[Any, list[Any]]]:
    """(data, formatted errors) of the query on a tiny schema, with the shortcut, then with graphql-core's completion."""
    answers = []
    for execution in (FastListExecution, StrawberryGraphQLCoreExecutionContext):
        result = strawberry.Schema(query, execution_context_class=execution).execute_sync(text)
        answers.append((result.data, [e.formatted for e in result.errors or []]))
    return answers


class _Plain:
    pass


class _Answers:
    """An object that answers any attribute through __getattr__, `__await__` included (as a proxy might)."""

    def __getattr__(self, name: str) -> Any:
        return lambda: iter(())


def test_awaitability_is_remembered_only_where_the_type_decides_it() -> None:
    async def work() -> int:
        return 1

    coroutine = work()
    assert is_awaitable(coroutine) and is_awaitable(coroutine)  # never remembered as plain
    coroutine.close()
    assert not is_awaitable(_Plain()) and _Plain in _PLAIN  # the type decides: asked once
    # A __getattr__ may answer `__await__` for one object and not another: asked of every object, never remembered.
    assert is_awaitable(_Answers()) and _Answers not in _PLAIN
    assert not is_awaitable(1.5) and not is_awaitable("OWNER")


@dataclass
class _Measure:
    weight: Any
    key: Any
    flag: Any


@strawberry.type
class _Scalars:
    weight: float | None
    key: strawberry.ID | None
    flag: bool | None


@strawberry.type
class _ScalarQuery:
    @strawberry.field
    def measures(self) -> list[_Scalars]:
        return MEASURES  # type: ignore[return-value]


MEASURES: list[_Measure] = []


@pytest.mark.parametrize("row, data, errors", [
    (_Measure(0.25, "c1", True), {"weight": 0.25, "key": "c1", "flag": True}, 0),  # the types passed as they are
    (_Measure(2, 7, 1), {"weight": 2.0, "key": "7", "flag": True}, 0),  # others coerced: int to Float, int to ID
    (_Measure(float("nan"), "c1", False), {"weight": None, "key": "c1", "flag": False}, 1),  # Float refuses NaN
    (_Measure(float("inf"), "c1", False), {"weight": None, "key": "c1", "flag": False}, 1),  # ... and infinities
    (_Measure(True, "c1", None), {"weight": 1, "key": "c1", "flag": None}, 0),  # a bool is no float: coerced to 1
], ids=["exact", "coerced", "nan", "infinite", "bool"])
def test_built_in_scalars_are_completed_as_graphql_core_completes_them(row: _Measure, data: Any, errors: int) -> None:
    MEASURES[:] = [row]
    answers = _both_ways(_ScalarQuery, "{ measures { weight key flag } }")
    assert answers[0] == answers[1]
    assert answers[0][0] == {"measures": [data]} and len(answers[0][1]) == errors
    weight = answers[0][0]["measures"][0]["weight"]
    assert type(weight) is type(data["weight"])  # 2.0 a float, True's 1 an int, as graphql-core gives them
