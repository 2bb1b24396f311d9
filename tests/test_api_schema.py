"""The GraphQL schema itself: committed SDL, enums from the one declaration, descriptions, DataLoader batching."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLEnumType, GraphQLInterfaceType, GraphQLObjectType

from corpgraph.api.context import Context, make_context
from corpgraph.api.graphql_schema import make_schema, sdl
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.analytics.results import Channel, Role
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.declaration import ENTITIES, RELATIONS
from corpgraph.schema.kinds import IncidentCategory

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"
SCHEMA = make_schema(ApiSettings())


def test_committed_sdl_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == sdl(), \
        "schema.graphql is stale: run `python -m corpgraph.api.graphql_schema > schema.graphql`"


@pytest.mark.parametrize("name,members", [
    ("EntityType", [t.name for t in ENTITIES]),
    ("RelationType", [t.name for t in RELATIONS]),
    ("ExposureChannel", [c.name for c in Channel]),
    ("Role", [r.name for r in Role]),
    ("IncidentCategory", [c.name for c in IncidentCategory]),
])
def test_enums_follow_the_declaration(name: str, members: list[str]) -> None:
    enum = SCHEMA._schema.type_map[name]
    assert isinstance(enum, GraphQLEnumType)
    assert list(enum.values) == members


def test_relation_type_values_carry_their_declared_descriptions() -> None:
    enum = SCHEMA._schema.type_map["RelationType"]
    assert isinstance(enum, GraphQLEnumType)
    assert {name: value.description for name, value in enum.values.items()} == {
        kind.name: spec.description for kind, spec in RELATIONS.items()}


def test_every_entity_type_has_an_object_type_implementing_entity() -> None:
    interface = SCHEMA._schema.type_map["Entity"]
    for kind in ENTITIES:
        object_type = SCHEMA._schema.type_map[kind.value]
        assert isinstance(object_type, GraphQLObjectType) and interface in object_type.interfaces


def test_every_field_has_a_description() -> None:
    missing = [
        f"{type_.name}.{field}"
        for type_ in SCHEMA._schema.type_map.values()
        if isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType)) and not type_.name.startswith("__")
        for field, definition in type_.fields.items()
        if not definition.description
    ]
    assert missing == []


def test_entity_types_expose_only_record_fields() -> None:
    # A GraphQL entity field that is not a field of its record would be data invented by the API; the one
    # exception is computed by graph.identity.clusters from the stored records: the other ids of a merged entity.
    computed = {"referents"}
    for kind, spec in ENTITIES.items():
        object_type = SCHEMA._schema.type_map[kind.value]
        assert isinstance(object_type, GraphQLObjectType)
        names = {_snake(n) for n in object_type.fields}
        assert computed <= names and names - computed <= set(spec.model.model_fields), kind


def test_entity_loads_are_batched_into_one_store_call(seed_store: SqliteStore,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = seed_store.get_entities

    def counting(ids: Any) -> Any:
        calls.append(list(ids))
        return real(ids)

    monkeypatch.setattr(seed_store, "get_entities", counting)
    query = '{ a: entity(id: "lakala") { name } b: entity(id: "kaola") { name } c: entity(id: "nope") { name } }'
    context = make_context(CorpGraph(seed_store), ApiSettings())
    result = asyncio.run(SCHEMA.execute(query, context_value=context))
    assert result.errors is None
    assert result.data == {"a": {"name": "Lakala"}, "b": {"name": "Kaola Credit"}, "c": None}
    assert calls == [["lakala", "kaola", "nope"]]


@pytest.mark.parametrize(("selection", "read"), [("id name", "entities"), ("id", "entity_types")])
def test_nested_entity_fields_of_an_answer_share_one_batch(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                                                          selection: str, read: str) -> None:
    batches: dict[str, list[list[str]]] = {"entities": [], "entity_types": []}
    for name in batches:
        def spy(self: CorpGraph, ids: list[str], real: Any = getattr(CorpGraph, name), name: str = name) -> Any:
            batches[name].append(list(ids))
            return real(self, ids)

        monkeypatch.setattr(CorpGraph, name, spy)
    query = ('{ liabilityChain(incidentId: "kaola-leak-2019") { incident { %s } parties { entity { %s } } } }'
             % (selection, selection))
    result = asyncio.run(SCHEMA.execute(query, context_value=make_context(CorpGraph(seed_store), ApiSettings())))
    assert result.errors is None
    assert result.data is not None
    assert {p["entity"]["id"] for p in result.data["liabilityChain"]["parties"]} == {"heipachong", "kaola", "lakala"}
    # The incident and its three parties (kaola, lakala, heipachong) are read in a single batch: their records when
    # a field needs them, else only their types (an id-only selection).
    assert [len(b) for b in batches.values()] == ([1, 0] if read == "entities" else [0, 1])
    assert sorted(batches[read][0]) == ["heipachong", "kaola", "kaola-leak-2019", "lakala"]


def test_each_request_gets_fresh_loaders(seed_store: SqliteStore) -> None:
    graph = CorpGraph(seed_store)
    assert make_context(graph, ApiSettings()).entities is not make_context(graph, ApiSettings()).entities


def _snake(name: str) -> str:
    """camelCase GraphQL name back to the snake_case record field."""
    return "".join("_" + c.lower() if c.isupper() else c for c in name)



def _unexposed(result_types: dict[type, type]) -> list[str]:
    """Fields of the answers that their GraphQL types neither expose (as x or x_id) nor list as INTERNAL."""
    import dataclasses

    from strawberry.types import get_object_definition

    from corpgraph.api import graphql_types as gt

    renamed: dict[tuple[type, str], str] = {key: name for key, name in gt._RENAMED.items()}
    missing = []
    for result, gql in result_types.items():
        exposed = {f.name for f in dataclasses.fields(gql)} | {
            f.python_name for f in get_object_definition(gql, strict=True).fields}
        for field in dataclasses.fields(result):
            names = {field.name, f"{field.name}_id", renamed.get((result, field.name), "")}
            if field.name not in gt.INTERNAL.get(result, ()) and not names & exposed:
                missing.append(f"{result.__name__}.{field.name}")
    return missing


def test_every_field_of_an_answer_is_exposed_or_declared_internal() -> None:
    """One source per answer shape: a result field missing from its GraphQL type (and from INTERNAL) fails here."""
    from corpgraph.api import graphql_types as gt

    assert not _unexposed(gt.RESULT_TYPES), "answer fields neither exposed in GraphQL nor in graphql_types.INTERNAL"


def test_the_check_of_answer_fields_sees_a_new_one() -> None:
    """The check is not vacuous: an answer grown by a field its GraphQL type lacks is reported."""
    import dataclasses

    from corpgraph.api import graphql_types as gt
    from corpgraph.graph.analytics import results as res

    @dataclasses.dataclass(frozen=True)
    class Grown(res.Declared):
        novel: int = 0

    assert _unexposed({Grown: gt.RESULT_TYPES[res.Declared]}) == ["Grown.novel"]


def test_lanes_pages_and_needs_are_read_from_the_fields_themselves() -> None:
    """What the server needs to know of a field is declared on it (@resolver(heavy=, page_size=), NEEDS_*)."""
    assert SCHEMA.heavy_fields == {"liabilityChain", "exposure", "neighborhood", "owners", "holdings", "search",
                                   "resolveCandidates", "ultimateOwners", "sanctionsStatus", "sanctionedByOwnership",
                                   "screen"}
    assert SCHEMA.page_sizes == {"search": 10, "companies": 20, "incidents": 20, "resolveCandidates": 20,
                                 "declaredDisagreements": 20, "owners": 100, "holdings": 100,
                                 "sanctionedByOwnership": 20, "exposure": 20}
    assert SCHEMA.needs == {"bounds": {"integratedMin", "integratedMax", "weightMin", "weightMax", "mayControl",
                                       "integratedMaxExact", "weightMaxExact"},
                            "paths": {"paths", "graph", "pathsCutShort"}}


@pytest.mark.parametrize("selection,paths,bounds", [
    ("items { channel }", False, False),
    ("items { paths { weight } }", True, False),
    ("...Explained", True, False),  # through a named fragment
    ("items { ... on ExposureItem { weightMin } }", False, True),  # through an inline fragment
])
def test_exposure_explains_paths_and_bounds_only_when_selected(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                                                               selection: str, paths: bool, bounds: bool) -> None:
    asked: list[tuple[bool, bool]] = []
    real = CorpGraph.exposure

    def spy(self: CorpGraph, *args: Any, **kwargs: Any) -> Any:
        asked.append((kwargs["paths"], kwargs["bounds"]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CorpGraph, "exposure", spy)
    query = ('{ exposure(entityId: "lakala") { count ' + selection + ' } } '
             'fragment Explained on Exposure { items { paths { weight } } }')
    if "Explained" not in selection:
        query = query.split(" fragment ")[0]
    result = asyncio.run(SCHEMA.execute(query, context_value=make_context(CorpGraph(seed_store), ApiSettings())))
    assert result.errors is None
    assert asked == [(paths, bounds)]
