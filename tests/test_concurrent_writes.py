"""Invariants under concurrency, on both stores: conflicting loads at once never store a relation to an entity of
the wrong type (the reference and type checks run inside the write transaction, under the write lock).

Each round, two writers with their own connection start together (a barrier) and load, for a fresh id x:
- load A: x as a Company and an OWNS from the company `holder` to x;
- load B: x as an Incident and an AFFECTED from x to `victim`.
Both files are valid alone; together they are not (x cannot be both). Checked outside the transaction, both
checks see no x and both loads commit: the last one wins x's type, and OWNS holder->x then points at an
Incident (or AFFECTED x->victim leaves a Company). Checked under the lock, the second writer sees the first's x.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.base import GraphStore
from corpgraph.graph.stores.neo4j import open_neo4j_store
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.declaration import RELATIONS
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from tests.factory import batch, company, entity, owns, rel, type_name
from tests.neo4j_server import Neo4jServer

ROUNDS = 12


@pytest.fixture(params=["embedded", "neo4j"])
def two_writers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[GraphStore, GraphStore]]:
    """Two stores on the same data, each with its own connection (as two processes would have)."""
    if request.param == "embedded":
        pair: tuple[GraphStore, GraphStore] = (SqliteStore(tmp_path / "c.db"), SqliteStore(tmp_path / "c.db"))
    else:
        server: Neo4jServer = request.getfixturevalue("neo4j_server")
        pair = (open_neo4j_store(server.settings()), open_neo4j_store(server.settings()))
        pair[0].delete_all()
    yield pair
    for store in pair:
        store.close()


def test_conflicting_concurrent_loads_keep_every_relation_well_typed(two_writers: tuple[GraphStore, GraphStore]
                                                                      ) -> None:
    first, second = two_writers
    ingest(first, batch(company("holder"), company("victim")))
    outcomes: list[tuple[bool, bool]] = []
    for n in range(ROUNDS):
        x = f"x{n}"
        as_company = batch(company(x), owns("holder", x, 0.5), label=f"a{n}.jsonl")
        as_incident = batch(entity("Incident", x, category="outage"), rel("AFFECTED", x, "victim"), label=f"b{n}.jsonl")
        outcomes.append(_race(lambda: ingest(first, as_company), lambda: ingest(second, as_incident)))
    # Exactly one load of each round wins; the other is refused as a whole (its relation is not stored).
    assert all(a != b for a, b in outcomes), outcomes
    _assert_well_typed(first, [f"x{n}" for n in range(ROUNDS)])


def _race(load_a: Callable[[], object], load_b: Callable[[], object]) -> tuple[bool, bool]:
    """Run both loads at once; which of them committed (a refusal must say the type cannot change)."""
    barrier = threading.Barrier(2)

    def attempt(load: Callable[[], object]) -> bool:
        barrier.wait()
        try:
            load()
        except InvalidInput as exc:
            assert "cannot change type" in str(exc) or "must be" in str(exc), str(exc)
            return False
        return True

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(attempt, load_a), pool.submit(attempt, load_b)
        return a.result(), b.result()


def _assert_well_typed(store: GraphStore, ids: list[str]) -> None:
    """Every stored relation touching the ids joins entities of the kinds its type declares."""
    relations = store.relations_touching(ids, list(RelationType))
    assert len(relations) == len(ids)  # one winner per round, with its one relation
    types = store.entity_types({end for r in relations for end in (r.record.source, r.record.target)})
    for stored in relations:
        spec = RELATIONS[RelationType(type_name(stored.record))]
        assert types[stored.record.source] in spec.sources, stored.id
        assert types[stored.record.target] in spec.targets, stored.id
