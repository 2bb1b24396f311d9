"""A record that can be stored can be read back, the same, from both stores (property test over random records).

Random records of every entity type and of the analytic relation types (any Unicode text, any float, counts up
to 64 bits, dates) are validated: those with a NaN or an infinity are refused; the others are loaded, and each
comes back equal from get_entities/get_relations, its edge row (the projection's feed) equals the record's, and
its search keys find it.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.identity.normalize import query_key
from corpgraph.graph.stores.base import EdgeRow, GraphStore, edge_row
from corpgraph.schema.declaration import ANALYTIC_RELATIONS, relation_id
from corpgraph.schema.kinds import IncidentCategory, RelationType
from corpgraph.schema.values import COUNTRIES, MAX_COUNT
from tests.factory import batch, empty_store

_IDS = itertools.count()
text = st.text(max_size=40)
words = st.text(min_size=1, max_size=40).filter(str.strip)
finite = st.floats(allow_nan=False, allow_infinity=False)
# NaN and +-Infinity in a quarter of the draws: they must be refused, never stored.
any_float = st.one_of(finite, finite, finite, st.sampled_from([math.nan, math.inf, -math.inf]))
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat)
share = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The strategy's values, or None."""
    return st.one_of(st.none(), strategy)


sources = st.lists(st.fixed_dictionaries({"publisher": words, "title": words},
                                         optional={"url": text, "published_on": days}), max_size=2)
common = {"aliases": st.lists(text, max_size=3), "description": optional(text), "sources": sources,
          "confidence": optional(st.floats(min_value=0.0, max_value=1.0))}
entity_fields = {
    "Company": {**common, "country": st.sampled_from(sorted(COUNTRIES)),
                "figures": st.lists(st.fixed_dictionaries({"label": words, "value": any_float},
                                                          optional={"unit": text, "as_of": days}), max_size=2),
                "identifiers": st.lists(st.fixed_dictionaries({"scheme": words, "id": words}), max_size=2)},
    "Person": {**common, "country": st.sampled_from(sorted(COUNTRIES))},
    "Organization": {**common, "kind": optional(text)},
    "Actor": {**common, "kind": optional(text), "known": st.booleans()},
    "Incident": {**common, "occurred_on": days, "duration_hours": st.one_of(finite.map(abs), st.just(math.inf)),
                 "records_affected": st.integers(0, MAX_COUNT),
                 "amounts": st.lists(st.fixed_dictionaries({"value": any_float, "currency": st.just("CNY")}), max_size=2)},
}


@st.composite
def world(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few entities of random types (fresh ids) and relations among them that their declared kinds allow."""
    n = next(_IDS)
    records: list[dict[str, Any]] = []
    for type_name, fields in entity_fields.items():
        record = {"type": type_name, "id": f"{type_name.lower()}-{n}", "name": draw(words)}
        record.update(draw(st.fixed_dictionaries({}, optional=fields)))
        for identifier in cast(list[dict[str, str]], record.get("identifiers", [])):  # fresh too: a shared
            identifier["id"] += f"-{n}"  # identifier merges two examples' companies into one (their owners add up)
        if type_name == "Incident":
            record["category"] = draw(st.sampled_from([c.value for c in IncidentCategory]))
        records.append(record)
    company, person, incident = f"company-{n}", f"person-{n}", f"incident-{n}"
    records.append({"type": "OWNS", "source": person, "target": company, "share": draw(share),
                    **draw(st.fixed_dictionaries({}, optional={"valid_from": days}))})
    records.append({"type": "RESPONSIBLE_FOR", "source": company, "target": incident, "role": draw(words)})
    records.append({"type": "AFFECTED", "source": incident, "target": person, "how": draw(optional(text))})
    records.append({"type": "SUPPLIED_DATA_TO", "source": company, "target": person, "incident": incident,
                    "records": draw(st.integers(0, MAX_COUNT)), "data": draw(st.lists(text, max_size=3))})
    return records


@pytest.fixture(scope="module", params=["embedded", "neo4j"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStore]:
    """One store of each backend for all the examples (every example uses fresh ids)."""
    yield from empty_store(request.param, request, tmp_path_factory.mktemp("readback") / "r.db")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=world())
def test_every_stored_record_reads_back_the_same(store: GraphStore, records: list[dict[str, Any]]) -> None:
    try:
        loaded = batch(*records)
    except ValidationError as exc:
        assert not _all_finite(records), exc  # refused only for a NaN or an infinity
        return
    ingest(store, loaded)
    entities = {rec.id: rec for rec, _ in loaded.entities}
    assert store.get_entities(list(entities)) == entities
    relations = {relation_id(rec): rec for rec, _ in loaded.relations}
    assert {i: s.record for i, s in store.get_relations(list(relations)).items()} == relations
    edges = {row.id: row for page in store.iter_edges(ANALYTIC_RELATIONS) for row in page if row.id in relations}
    for rel_id, record in relations.items():
        expected = edge_row(rel_id, record)
        assert edges[rel_id] == EdgeRow(**{**expected, "type": RelationType(expected["type"])})
    for entity in entities.values():
        if query_key(entity.name):
            assert entity.id in {e.id for e in store.search(entity.name, None, 1000)}


def _all_finite(value: Any) -> bool:
    """Whether every float inside a raw record (or list of them) is finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    return True
