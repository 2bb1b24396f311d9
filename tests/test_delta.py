"""Writes applied as deltas (graph.projection.delta, graph.projection.view_delta) answer as a fresh rebuild would, on random worlds.

Each world is drawn from a seeded generator; each step writes one kind of change (new entities and stakes,
changed shares, ended stakes, a majority stake, a controlling interest, a merge by a shared identifier, a
write by a second store connection standing for another process) through the facade or beside it. After
each step the live graph (patched) and a graph built afresh from the same store must give the same answers
for every company, holder and incident; the patched views must equal views built from scratch.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corpgraph.graph.projection import delta
from corpgraph.graph.projection.control import control, may_control
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection.build import AsOfView, Projection
from corpgraph.graph.service import Applied, BuildStatus, CorpGraph
from corpgraph.graph.stores.base import ChangeKind, GraphStore
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.batch import Batch
from corpgraph.schema.kinds import EntityType
from tests.factory import batch, canonical, company, entity, owns, rel

PAST, START, END = "2021-06-01", "2020-01-01", "2099-01-01"  # an ended stake ends at PAST, before today


class World:
    """A random ownership world and the writes that change it, keeping every company's shares under 90%."""

    def __init__(self, seed: int, companies: int = 14, persons: int = 4) -> None:
        self.rng = random.Random(seed)
        self.companies = [f"c{k}" for k in range(companies)]
        self.persons = [f"p{k}" for k in range(persons)]
        self.stakes: dict[tuple[str, str], dict[str, Any]] = {}  # (owner, company) -> the OWNS record written
        self.fresh = 0

    def first(self) -> Batch:
        """The world before any step: companies, people, stakes, a controlling interest, incidents."""
        records: list[dict[str, Any]] = [company(c) for c in self.companies]
        records += [entity("Person", p) for p in self.persons]
        for _ in range(len(self.companies) * 2):
            records += self._new_stake(self.rng.choice(self.companies + self.persons), self.rng.choice(self.companies))
        records.append(rel("CONTROLS", self.companies[0], self.companies[1], kind="appointmentOfBoard"))
        records += [entity("Incident", "i0", category="data_leak"), rel("RESPONSIBLE_FOR", self.companies[2], "i0")]
        return batch(*records)

    def new_entities(self) -> Batch:
        """Two new companies, each held by existing holders, and a new person holding an existing company."""
        news = [self._name("n") for _ in range(2)]
        person = self._name("q")
        records: list[dict[str, Any]] = [company(n) for n in news] + [entity("Person", person)]
        for n in news:
            for holder in self.rng.sample(self.companies + self.persons, 2):
                records += self._new_stake(holder, n)
        records += self._new_stake(person, self.rng.choice(self.companies))
        self.companies += news
        self.persons.append(person)
        return batch(*records)

    def changed_shares(self) -> Batch:
        """Three stakes written again with another share (same relation identity)."""
        records = []
        for pair in self.rng.sample(sorted(self.stakes), min(3, len(self.stakes))):
            room = 0.9 - self._taken(pair[1]) + (self.stakes[pair].get("share") or 0.0)
            records.append(self._stake(*pair, share=round(self.rng.uniform(0.0, room), 4), share_min=None,
                                       share_max=None))
        return batch(*records)

    def ended_stakes(self) -> Batch:
        """Two stakes ended in the past (valid_to set), and one restarted under a new validity (a history row)."""
        pairs = self.rng.sample(sorted(self.stakes), min(3, len(self.stakes)))
        records = [self._stake(*pair, valid_to=PAST) for pair in pairs[:2]]
        owner, target = pairs[2]
        again = {**self.stakes[(owner, target)], "valid_from": START, "valid_to": None, "share": 0.01,
                 "share_min": None, "share_max": None}
        records.append(again)  # a second statement of the pair: the latest valid_from wins (AsOfView)
        return batch(*records)

    def majority(self) -> Batch:
        """A new company held 60% by one holder: the control relation changes."""
        news = self._name("m")
        holder = self.rng.choice(self.companies)
        self.companies.append(news)
        return batch(company(news), self._stake(holder, news, share=0.6))

    def interest(self) -> Batch:
        """A controlling interest (board appointment) of one company in another."""
        a, b = self.rng.sample(self.companies, 2)
        return batch(rel("CONTROLS", a, b, kind="appointmentOfBoard"))

    def incident(self) -> Batch:
        """A new incident, a company responsible for it (a role: a relation id key kept as text) and data it gave."""
        name = self._name("i")
        a, b = self.rng.sample(self.companies, 2)
        return batch(entity("Incident", name, category="data_leak"),
                     rel("RESPONSIBLE_FOR", a, name, role="data_controller"),
                     rel("SUPPLIED_DATA_TO", a, b, incident=name, valid_from=START))

    def merge(self) -> Batch:
        """Two companies given the same LEI: identity merges them (the delta falls back to a full build)."""
        a, b = self.rng.sample(self.companies, 2)
        lei = f"5493000000000000{self.fresh:04d}"
        self.fresh += 1
        return batch(company(a, identifiers=[{"scheme": "LEI", "id": lei}]),
                     company(b, identifiers=[{"scheme": "LEI", "id": lei}]))

    def _new_stake(self, owner: str, target: str) -> list[dict[str, Any]]:
        """A stake of a random kind (exact, unknown, a range; some dated), if the pair is new and shares allow."""
        room = 0.9 - self._taken(target)
        if owner == target or (owner, target) in self.stakes or room < 0.05:
            return []
        draw = self.rng.random()
        fields: dict[str, Any] = {"share": round(self.rng.uniform(0.01, min(room, 0.45)), 4)}
        if draw < 0.1:
            fields = {"share": None}
        elif draw < 0.2:
            low = round(self.rng.uniform(0.0, min(room, 0.3)), 4)
            fields = {"share": None, "share_min": low, "share_max": round(min(room, low + 0.2), 4)}
        if self.rng.random() < 0.2:
            fields["valid_from"] = START
        return [self._stake(owner, target, **fields)]

    def _stake(self, owner: str, target: str, **fields: Any) -> dict[str, Any]:
        """An OWNS record (merged with the pair's earlier one: same identity), remembered."""
        record = {**self.stakes.get((owner, target), {"share": None}), **fields}
        record.pop("type", None), record.pop("source", None), record.pop("target", None)
        share = record.pop("share")
        self.stakes[(owner, target)] = made = owns(owner, target, share, **record)
        return made

    def _taken(self, target: str) -> float:
        """Shares of the company held so far (exact shares and range maximums)."""
        return sum(r.get("share") or r.get("share_max") or 0.0 for (_, t), r in self.stakes.items() if t == target)

    def _name(self, prefix: str) -> str:
        """A new id."""
        self.fresh += 1
        return f"{prefix}{self.fresh}"



def _answers(graph: CorpGraph) -> dict[str, Any]:
    """Every ownership answer the graph gives: owners of each company, holdings of each holder, incidents' chains."""
    types = graph.store.entity_types(graph.projection().ids)
    out: dict[str, Any] = {}
    for id, kind in sorted(types.items()):
        if kind == EntityType.COMPANY:
            out[f"owners {id}"] = canonical(graph.owners(id))
            out[f"parent {id}"] = graph.controlling_parent(id)
        if kind in (EntityType.COMPANY, EntityType.PERSON):
            out[f"holdings {id}"] = canonical(graph.holdings(id))
        if kind == EntityType.INCIDENT:
            out[f"chain {id}"] = canonical(graph.liability_chain(id).parties)
    return out


def _edges(proj: Projection) -> list[tuple[Any, ...]]:
    """The projection as sorted edge tuples by id, so that node and edge numbering do not matter."""
    ids = proj.ids
    return sorted((proj.relation_ids[k], int(proj.type[k]), ids[proj.src[k]], ids[proj.dst[k]],
                   None if np.isnan(proj.share[k]) else float(proj.share[k]), int(proj.valid_from[k]),
                   int(proj.valid_to[k]), ids[proj.incident[k]] if proj.incident[k] >= 0 else None,
                   proj.kind_of(k), *(None if np.isnan(x[0]) else float(x[0]) for x in proj.ranges(np.array([k])))
                   ) for k in range(proj.type.size))


def _same_view(patched: AsOfView) -> None:
    """A patched view equals the view built from scratch over the same projection, and so do its derived parts."""
    built = AsOfView.build(patched.projection, patched.day)
    assert np.array_equal(patched.valid.dense(), built.valid.dense())
    for name in ("down", "up"):
        a, b = getattr(patched, name), getattr(built, name)
        assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.edge, b.edge)
        assert a.ends is b.ends  # the new projection's column, not the old one kept alive by the patched view
    assert np.allclose(patched.W.toarray(), built.W.toarray(), rtol=0, atol=1e-12)
    assert (patched.W.toarray() != 0).tolist() == (built.W.toarray() != 0).tolist()  # no residue left by the patch
    for name in ("unknown_src", "unknown_dst", "over_allocated", "ranged_src", "ranged_dst"):
        assert getattr(patched, name).tolist() == getattr(built, name).tolist(), name
    assert patched.midpoints == pytest.approx(built.midpoints) and patched.overlaps == built.overlaps
    for side in ("lower", "upper"):
        assert np.allclose(getattr(patched, side)().W.toarray(), getattr(built, side)().W.toarray(), atol=1e-12)
    carried = patched.__dict__.get("components")
    if carried is not None:  # the same partition into components, and a rank that is still topological
        fresh = built.components
        assert len(set(zip(carried.labels.tolist(), fresh.labels.tolist()))) == np.unique(fresh.labels).size
        rows, cols = patched.W.nonzero()
        across = carried.labels[rows] != carried.labels[cols]
        assert (carried.rank[rows[across]] < carried.rank[cols[across]]).all()
        assert carried.ranks_of(np.arange(carried.labels.size)).tolist() == carried.rank.tolist()
    for name, relation in (("control", control), ("may_control", may_control)):
        if getattr(patched, name) is not None:
            assert (getattr(patched, name).by_row != relation(built).by_row).nnz == 0, name


def _check(graph: CorpGraph, store: GraphStore) -> bool:
    """The live graph answers as a graph built afresh from the store, and its views as views built from scratch;
    whether every cached view came with its control relations (carried or updated by the delta, not left for
    the first query to build)."""
    live = graph.live.fresh()
    views = [live.projection.view(day) for day in live.projection.cached_days()]
    carried = all(v.control is not None and v.may_control is not None for v in views)
    fresh = CorpGraph(store)
    assert live.revision == store.revision()
    assert _edges(live.projection) == _edges(fresh.projection())
    assert _answers(graph) == _answers(fresh)
    for day in live.projection.cached_days():
        _same_view(live.projection.view(day))
    return carried


Step = Callable[[World], Batch]
STEPS: list[tuple[str, Step]] = [("new entities", World.new_entities), ("changed shares", World.changed_shares),
                                 ("ended stakes", World.ended_stakes), ("majority", World.majority),
                                 ("interest", World.interest), ("incident", World.incident)]


def built(graph: CorpGraph) -> BuildStatus:
    """How the graph's current state was built (it has one: the test answered from it)."""
    state = graph.live.current()
    assert state is not None, "nothing built yet"
    return state.how


@pytest.mark.parametrize("seed", range(6))
def test_writes_through_the_facade_answer_as_a_fresh_rebuild(tmp_store: SqliteStore, seed: int) -> None:
    world = World(seed)
    ingest(tmp_store, world.first())
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    _check(graph, tmp_store)  # also caches today's view, its components and control: the delta patches them
    order = random.Random(seed).sample(STEPS, len(STEPS)) * 2
    for name, step in order:
        graph.write(step(world))
        assert built(graph).applied is Applied.DELTA, name
        assert _check(graph, tmp_store), f"{name}: the control relation was left for the first query"


def test_a_write_by_another_connection_is_applied_from_the_change_log(tmp_store: SqliteStore) -> None:
    world = World(11)
    ingest(tmp_store, world.first())
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    _check(graph, tmp_store)
    other = SqliteStore(tmp_store.path)  # another process's connection to the same file
    try:
        ingest(other, world.new_entities())
        ingest(other, world.changed_shares())
    finally:
        other.close()
    _check(graph, tmp_store)
    assert built(graph).applied is Applied.DELTA


def test_a_merge_falls_back_to_a_full_rebuild_and_says_why(tmp_store: SqliteStore) -> None:
    world = World(5)
    ingest(tmp_store, world.first())
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    _check(graph, tmp_store)
    graph.write(world.merge())
    how = str(built(graph))
    assert how.startswith("full: ") and "LEI:" in how, how
    _check(graph, tmp_store)
    graph.write(world.new_entities())  # after the merge: the delta again, unless a merged entity is touched
    _check(graph, tmp_store)


def test_a_reader_behind_the_pruned_log_rebuilds(tmp_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(3)
    ingest(tmp_store, world.first())
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    graph.projection()
    monkeypatch.setattr("corpgraph.graph.stores.sqlite.CHANGE_LOG_KEEP", 1)  # keep only the newest entry
    ingest(tmp_store, world.new_entities())
    ingest(tmp_store, world.changed_shares())
    assert [c.revision for c in tmp_store.changes_since(0)] == [tmp_store.revision()]
    _check(graph, tmp_store)
    assert "does not reach back" in built(graph).why


def test_the_change_log_lists_what_each_write_changed(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("a"), company("b"), owns("a", "b", 0.5)))
    start = tmp_store.revision()
    ingest(tmp_store, batch(owns("a", "b", 0.4, valid_to=PAST)))  # an ended stake is a changed relation
    graph = CorpGraph(tmp_store)
    graph.decide("a", "b", "different", "alice")
    log = tmp_store.changes_since(start)
    assert [(c.revision - start, c.kind, c.relations, c.entities) for c in log] == [
        (1, ChangeKind.WRITE, ("OWNS|a|b|",), ()), (2, ChangeKind.DECISION, (), ())]


def _path(store: SqliteStore) -> Path:
    """The store's file."""
    return store.path


def test_a_stake_that_gives_control_through_a_subsidiary_updates_the_control_relation(tmp_store: SqliteStore) -> None:
    """x holds 30% of t and 60% of s (x controls s); s holds 20% of t: x counts 30% + 20% = 50% of t, not more
    than half. s's stake raised to 30%: 60% > 50%, so x controls t too; s (30%) controls nothing. The relation
    comes with the delta's view (graph.projection.control.updated), equal to one built from scratch."""
    ingest(tmp_store, batch(company("x"), company("s"), company("t"), owns("x", "t", 0.3), owns("x", "s", 0.6),
                            owns("s", "t", 0.2)))
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    proj = graph.projection()
    x, s, t = (proj.index[i] for i in ("x", "s", "t"))
    before = proj.view(date.today())
    assert control(before).controlled_by(x, before).tolist() == [s]
    graph.write(batch(owns("s", "t", 0.3)))  # the same relation (its id comes from its ends and date)
    assert built(graph).applied is Applied.DELTA
    view = graph.projection().view(date.today())
    assert view.control is not None  # updated by the delta, before any query asked
    assert view.control.controlled_by(x, view).tolist() == sorted([s, t])  # type: ignore[attr-defined]
    assert view.control.controlled_by(s, view).tolist() == []  # type: ignore[attr-defined]
    _same_view(view)


def test_a_changed_share_patches_w_in_place_of_its_entry(tmp_store: SqliteStore) -> None:
    """a holds 40% and c 20% of b; a's stake becomes 30%: W's sparsity is the same, so the new view shares its
    indices and indptr with the old one and only the data differs (0.4 -> 0.3 at (a, b)); the old view still
    reads 0.4, as queries answering from the older state must."""
    ingest(tmp_store, batch(company("a"), company("b"), company("c"), owns("a", "b", 0.4), owns("c", "b", 0.2)))
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    old = graph.projection().view(date.today())
    a, b, c = (graph.projection().index[i] for i in ("a", "b", "c"))
    graph.write(batch(owns("a", "b", 0.3)))
    assert built(graph).applied is Applied.DELTA
    new = graph.projection().view(date.today())
    assert np.shares_memory(new.W.indices, old.W.indices) and np.shares_memory(new.W.indptr, old.W.indptr)
    assert not np.shares_memory(new.W.data, old.W.data)
    assert (old.W[a, b], new.W[a, b], new.W[c, b]) == (0.4, 0.3, 0.2)
    _same_view(new)


def test_two_deltas_from_the_same_state_do_not_overwrite_each_other(tmp_store: SqliteStore) -> None:
    """Deltas from one state, once after a write of new company n1 and once after n2 too, both grow the per-node
    arrays of the same old view (graph.projection.spare); the views of both must equal views built from scratch."""
    world = World(3)
    ingest(tmp_store, world.first())
    graph = CorpGraph(tmp_store, fresh_wait=0.0)
    _check(graph, tmp_store)  # today's view with components and control, which the deltas grow
    state = graph.live.fresh()
    graph.write(batch(company("n1"), owns("c1", "n1", 0.5)))
    first = delta.advance(tmp_store, state.identity, state.projection)
    graph.write(batch(company("n2"), owns("c2", "n2", 0.5)))
    second = delta.advance(tmp_store, state.identity, state.projection)
    assert isinstance(first, delta.Advanced) and isinstance(second, delta.Advanced)
    assert second.projection.size == first.projection.size + 1  # n2 is one node more
    for advanced in (first, second):
        for day in advanced.projection.cached_days():
            _same_view(advanced.projection.view(day))
