"""One declaration drives the code: the analytic relation fields, the endpoint kinds of the questions and the entity
descriptions are read from schema/declaration.py (and the record docstrings it points at), never restated."""
from __future__ import annotations

import sqlite3

from corpgraph.api.graphql_schema import make_schema
from corpgraph.api.settings import ApiSettings
from corpgraph.graph import service
from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.base import EdgeRow
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema import records
from corpgraph.schema.declaration import ANALYTIC_FIELDS, EDGE_FIELDS, ENTITIES
from corpgraph.schema.kinds import EntityType, RelationType

E = EntityType


def test_the_projection_feed_and_both_stores_carry_the_declared_analytic_fields(tmp_store: SqliteStore) -> None:
    assert ANALYTIC_FIELDS == ("share", "valid_from", "valid_to", "incident", "share_min", "share_max", "kind",
                               "share_min_exclusive")
    assert EdgeRow._fields == EDGE_FIELDS == ("id", "type", "source", "target", *ANALYTIC_FIELDS)
    db = sqlite3.connect(tmp_store.path)
    columns = [row[1] for row in db.execute("PRAGMA table_info(relations)")]
    db.close()
    assert columns == [*EDGE_FIELDS, "doc"]
    for kind in RelationType:
        written, read = cypher.merge_relations(kind, E.COMPANY, E.COMPANY), cypher.edge_columns(kind)
        assert all(f"r.{name} = row.{name}" in written for name in ANALYTIC_FIELDS)
        # The feed reads the fields the type's record declares, each into a column of its name.
        assert all(f"coalesce(r.{name}, " in read and f" AS {name}" in read for name in cypher.feed_fields(kind))
    # By hand from schema/records.py: a stake has a share, its range and dates; an attack has none of them.
    assert cypher.feed_fields(RelationType.OWNS) == ("share", "valid_from", "valid_to", "share_min", "share_max",
                                                     "share_min_exclusive")
    assert cypher.feed_fields(RelationType.SUPPLIED_DATA_TO) == ("valid_from", "valid_to", "incident")
    assert cypher.feed_fields(RelationType.PERPETRATED) == ()


def test_the_questions_accept_the_kinds_the_declaration_gives_their_relations() -> None:
    # By hand from schema/declaration.py: OWNS goes from a Company, Person or Organization to a Company;
    # exposure reaches holders, dependants, data recipients and whatever an incident AFFECTED: every party.
    assert service._OWNED == (E.COMPANY,)
    assert service._OWNERS == (E.COMPANY, E.PERSON, E.ORGANIZATION)
    assert service._EXPOSED == (E.COMPANY, E.PERSON, E.ORGANIZATION, E.ACTOR)


def test_entity_descriptions_have_one_source_the_record_docstring() -> None:
    schema = make_schema(ApiSettings())
    for kind, spec in ENTITIES.items():
        model = getattr(records, kind.value)
        assert spec.description == model.__doc__.strip().splitlines()[0]
        graphql_type = schema.get_type_by_name(kind.value)
        assert graphql_type is not None and graphql_type.description == spec.description
