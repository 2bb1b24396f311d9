"""Entity objects of GraphQL answers: fields converted from the record when read, and the entity fields of the
large answers (parties, exposure items) resolved by their direct resolvers (seed data)."""
from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from corpgraph.api import graphql_types as gt
from corpgraph.api.context import make_context
from corpgraph.api.graphql_schema import make_schema
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.kinds import EntityType


def _gql(store: SqliteStore | CorpGraph, query: str) -> Any:
    settings = ApiSettings()
    graph = store if isinstance(store, CorpGraph) else CorpGraph(store)
    result = asyncio.run(make_schema(settings).execute(query, context_value=make_context(graph, settings)))
    assert result.errors is None, result.errors
    return result.data


def test_an_entity_object_converts_a_declared_field_when_it_is_read(seed_store: SqliteStore) -> None:
    record = seed_store.get_entities(["lakala"])["lakala"]
    made = gt.entity_from_record(record)
    assert isinstance(made, gt.Company) and made.id == "lakala" and made.name == record.name
    assert "sources" not in vars(made)  # not converted until read
    assert [(s.publisher, s.title) for s in made.sources] == [(s.publisher, s.title) for s in record.sources]
    assert all(isinstance(s, gt.Source) for s in made.sources) and "sources" in vars(made)  # converted once, kept
    with pytest.raises(AttributeError):
        getattr(made, "model_dump")  # the record's own attributes are not the GraphQL type's fields


def test_liability_chain_parties_name_their_entities(seed_store: SqliteStore) -> None:
    # README: Kaola Credit RESPONSIBLE (1), Lakala OWNER (0.324), Heipachong DATA_RECIPIENT (1).
    data = _gql(seed_store, '{ liabilityChain(incidentId: "kaola-leak-2019", asOf: "2020-01-01") { incident { id } '
                            'parties { entity { __typename id name } role weight } } }')
    chain = data["liabilityChain"]
    assert chain["incident"] == {"id": "kaola-leak-2019"}
    parties = {(p["entity"]["id"], p["role"]): (p["entity"]["__typename"], p["weight"]) for p in chain["parties"]}
    assert parties[("kaola", "RESPONSIBLE")] == ("Company", 1.0)
    assert parties[("lakala", "OWNER")][0] == "Company" and parties[("lakala", "OWNER")][1] == pytest.approx(0.324)
    assert parties[("heipachong", "DATA_RECIPIENT")] == ("Company", 1.0)
    names = {p["entity"]["id"]: p["entity"]["name"] for p in chain["parties"]}
    assert names["kaola"] == seed_store.get_entities(["kaola"])["kaola"].name


def test_exposure_items_name_their_incident_and_via(seed_store: SqliteStore) -> None:
    # README: Lakala is exposed to the leak through OWNERSHIP (0.324, via Kaola) and AFFECTED (1, via itself).
    data = _gql(seed_store, '{ exposure(entityId: "lakala", asOf: "2020-01-01") { items { incident { id } '
                            'channel weight via { id } } } }')
    items = {(i["incident"]["id"], i["channel"]): (i["via"] and i["via"]["id"], i["weight"])
             for i in data["exposure"]["items"]}
    assert items[("kaola-leak-2019", "OWNERSHIP")][0] == "kaola"
    assert items[("kaola-leak-2019", "OWNERSHIP")][1] == pytest.approx(0.324)
    assert items[("kaola-leak-2019", "AFFECTED")] == ("lakala", 1.0)


def _chain_reading(store: SqliteStore, monkeypatch: pytest.MonkeyPatch, selection: str) -> tuple[Any, list[str]]:
    """The seed's kaola chain with this selection on its entities, and the ids whose records the store decoded."""
    graph = CorpGraph(store)
    graph.projection()  # built first: the build reads the incidents' records (their impacts)
    read: list[str] = []
    decode = SqliteStore.get_entities

    def counted(self: SqliteStore, ids: Any) -> Any:
        read.extend(ids)
        return decode(self, ids)

    monkeypatch.setattr(SqliteStore, "get_entities", counted)
    data = _gql(graph, '{ liabilityChain(incidentId: "kaola-leak-2019", asOf: "2020-01-01") { incident ' + selection
                + ' parties { role entity ' + selection + ' } } }'
                + (' fragment Named on Entity { name }' if "Named" in selection else ''))
    return data["liabilityChain"], read


def test_a_chain_selecting_only_entity_ids_reads_no_record(seed_store: SqliteStore,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    chain, read = _chain_reading(seed_store, monkeypatch, "{ id __typename ... on Company { id } }")
    # main: the 4 records (incident, kaola, lakala, heipachong) decoded for their ids
    assert read == []
    assert chain["incident"] == {"id": "kaola-leak-2019", "__typename": "Incident"}
    parties = {(p["entity"]["id"], p["role"], p["entity"]["__typename"]) for p in chain["parties"]}
    assert {("kaola", "RESPONSIBLE", "Company"), ("lakala", "OWNER", "Company"),
            ("heipachong", "DATA_RECIPIENT", "Company")} <= parties


@pytest.mark.parametrize("selection", ["{ id name }", "{ id ...Named }", "{ id ... on Company { country } }"])
def test_a_chain_selecting_more_than_ids_reads_the_records(seed_store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                                                          selection: str) -> None:
    chain, read = _chain_reading(seed_store, monkeypatch, selection)
    assert {"kaola-leak-2019", "kaola", "lakala", "heipachong"} <= set(read)
    record = seed_store.get_entities(["lakala"])["lakala"]
    lakala = next(p["entity"] for p in chain["parties"] if p["entity"]["id"] == "lakala")
    field = "country" if "country" in selection else "name"
    assert lakala[field] == getattr(record, field) and lakala[field]


def test_an_id_without_a_stored_type_still_fails_its_field(seed_store: SqliteStore) -> None:
    settings = ApiSettings()
    context = make_context(CorpGraph(seed_store), settings)
    context.read_entity_types(["kaola", "no-such-id"])
    assert context.typed == {"kaola": EntityType.COMPANY}
    assert isinstance(gt.entity_now(context, "kaola"), gt.Company)
    pending = gt.entity_now(context, "no-such-id")  # the DataLoader's read, which says NotFound as before
    with pytest.raises(Exception, match="no entity with id 'no-such-id'"):
        asyncio.run(pending)  # type: ignore[arg-type]


def test_a_damaged_record_fails_a_field_that_needs_it_not_an_id(seed_store: SqliteStore) -> None:
    with sqlite3.connect(seed_store.path) as db:
        db.execute("UPDATE entities SET doc = 'garbage' WHERE id = 'lakala'")
    settings, graph = ApiSettings(), CorpGraph(seed_store)
    answers = {selection: asyncio.run(make_schema(settings).execute(
        '{ liabilityChain(incidentId: "kaola-leak-2019", asOf: "2020-01-01") { parties { entity { %s } } } }'
        % selection, context_value=make_context(graph, settings))) for selection in ("id name", "id")}
    # name needs lakala's record: the error main gives; an id-only selection reads no record (main: the same error)
    assert answers["id name"].data is None and answers["id name"].errors is not None
    assert answers["id name"].errors[0].message.startswith("the stored entity 'lakala' (Company) cannot be read")
    assert answers["id"].errors is None and answers["id"].data is not None
    assert {p["entity"]["id"] for p in answers["id"].data["liabilityChain"]["parties"]} == {
        "kaola", "lakala", "heipachong"}
