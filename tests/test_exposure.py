"""Exposure with hand-worked weights and totals, per channel, as of a date."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from corpgraph.graph.analytics.exposure import _FEW, Impacts, _totals, _totals_few
from corpgraph.graph.analytics.paths import PathFinder
from corpgraph.graph.analytics.results import Channel, Exposure
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import InvalidCursor, NotFound
from tests.factory import batch, company, entity, owns, rel


def _items(answer: Exposure) -> dict[tuple[str, Channel, str | None], float]:
    """Items keyed by (incident, channel, via), valued by weight."""
    return {(i.incident, i.channel, i.via): i.weight for i in answer.items}


@pytest.fixture
def world(tmp_store: SqliteStore) -> CorpGraph:
    """E holds 60% of A (responsible for outage O), controls K (80%), holds 40% of N; dependencies and a data flow.

    O: 10 hours, 1,000 records, 500 USD. E and K depend on providers hit by incidents; N depends too, but E
    does not control N. E supplied data to L, responsible for leak D (2,000 records, 100 CNY).
    """
    ingest(tmp_store, batch(
        *(company(c) for c in ("e", "a", "k", "n", "v", "w", "l")),
        entity("Incident", "o", category="outage", duration_hours=10, records_affected=1000,
               amounts=[{"value": 500, "currency": "USD"}]),
        entity("Incident", "hit", category="outage", duration_hours=4),
        entity("Incident", "cut", category="outage", duration_hours=2),
        entity("Incident", "d", category="data_leak", records_affected=2000,
               amounts=[{"value": 60, "currency": "CNY"}, {"value": 40, "currency": "CNY"}]),
        owns("e", "a", 0.6), owns("e", "k", 0.8), owns("e", "n", 0.4),
        rel("RESPONSIBLE_FOR", "a", "o"),
        rel("DEPENDS_ON", "e", "v", service="hosting"), rel("RESPONSIBLE_FOR", "v", "hit"),
        rel("DEPENDS_ON", "k", "w", service="payments", valid_to="2024-01-01"), rel("AFFECTED", "cut", "w"),
        rel("DEPENDS_ON", "n", "v", service="payments"),
        rel("SUPPLIED_DATA_TO", "e", "l"), rel("RESPONSIBLE_FOR", "l", "d"),
    ))
    return CorpGraph(tmp_store)


def test_each_channel_with_its_weight(world: CorpGraph) -> None:
    got = _items(world.exposure("e", as_of=date(2023, 6, 1)))
    assert got == {
        ("o", Channel.OWNERSHIP, "a"): pytest.approx(0.6),  # integrated share in the responsible company
        ("hit", Channel.DEPENDENCY, "v"): 1.0,  # E depends on V itself (N's dependency adds nothing: no control)
        ("cut", Channel.DEPENDENCY, "w"): pytest.approx(0.8),  # K (controlled, 0.8) depends on W, hit by "cut"
        ("d", Channel.DATA_FLOW, "l"): 1.0,
    }


def test_impact_and_weighted_totals(world: CorpGraph) -> None:
    answer = world.exposure("e", as_of=date(2023, 6, 1))
    by_incident = {i.incident: i for i in answer.items}
    assert by_incident["d"].impact == {"records_affected": 2000.0, "amount_CNY": 100.0}
    # o: 0.6 x (10 h, 1000 records, 500 USD); hit: 1 x 4 h; cut: 0.8 x 2 h; d: 1 x (2000 records, 100 CNY)
    assert answer.totals == pytest.approx({"duration_hours": 6.0 + 4.0 + 1.6, "records_affected": 600.0 + 2000.0,
                                           "amount_USD": 300.0, "amount_CNY": 100.0})


def test_as_of_drops_expired_dependencies(world: CorpGraph) -> None:
    assert ("cut", Channel.DEPENDENCY, "w") not in _items(world.exposure("e", as_of=date(2024, 1, 1)))


def test_channels_filter_and_paths(world: CorpGraph) -> None:
    answer = world.exposure("e", as_of=date(2023, 6, 1), channels=[Channel.DEPENDENCY])
    assert {i.channel for i in answer.items} == {Channel.DEPENDENCY}
    cut = next(i for i in answer.items if i.incident == "cut")
    hops = [(h.source, h.target, h.type.value) for h in cut.paths[0].hops]
    assert hops == [("e", "k", "OWNS"), ("k", "w", "DEPENDS_ON"), ("cut", "w", "AFFECTED")]
    assert cut.paths[0].weight == pytest.approx(0.8)
    assert {"e", "k", "w", "cut"} <= {n.id for n in answer.graph.nodes}


def test_an_incident_counts_once_in_totals_at_its_largest_weight(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("e"), company("v"), entity("Incident", "x", category="outage", duration_hours=10),
                            owns("e", "v", 0.3), rel("DEPENDS_ON", "e", "v"), rel("RESPONSIBLE_FOR", "v", "x")))
    answer = CorpGraph(tmp_store).exposure("e")
    assert _items(answer) == {("x", Channel.OWNERSHIP, "v"): pytest.approx(0.3), ("x", Channel.DEPENDENCY, "v"): 1.0}
    assert answer.totals == {"duration_hours": 10.0}  # max(0.3, 1.0) x 10, not (0.3 + 1.0) x 10


def test_seed_exposures(seed_store: SqliteStore) -> None:
    graph = CorpGraph(seed_store)
    lakala = graph.exposure("lakala", as_of=date(2020, 1, 1))
    # Lakala holds 32.4% of Kaola (responsible) and was hit itself: its users' ID photos were in the data.
    assert _items(lakala) == {("kaola-leak-2019", Channel.OWNERSHIP, "kaola"): pytest.approx(0.324),
                              ("kaola-leak-2019", Channel.AFFECTED, "lakala"): 1.0}
    # The leak counted once at its largest weight, 1: 100M records (up to 400M), 38M CNY
    assert lakala.totals == pytest.approx({"records_affected": 100_000_000, "records_affected_max": 400_000_000,
                                           "amount_CNY": 38_000_000})
    assert _items(graph.exposure("lakala", channels=[Channel.OWNERSHIP])) == {
        ("kaola-leak-2019", Channel.OWNERSHIP, "kaola"): pytest.approx(0.324)}
    assert _items(graph.exposure("kaola")) == {("kaola-leak-2019", Channel.OWNERSHIP, "kaola"): 1.0}
    assert graph.exposure("heipachong").items == []  # a recipient of the data is liable, not exposed
    alibaba = graph.exposure("alibaba").items[0]
    assert (alibaba.incident, alibaba.weight, alibaba.unknown) == ("alipay-outage-2015", 0.0, True)


def test_unknown_or_wrong_kind_of_entity(seed_store: SqliteStore) -> None:
    graph = CorpGraph(seed_store)
    with pytest.raises(NotFound, match="'nobody'"):
        graph.exposure("nobody")
    with pytest.raises(NotFound, match="it is a Incident"):
        graph.exposure("kaola-leak-2019")
    assert graph.exposure("cctv").items == []  # exists, in no analytic relation


def test_affected_channel_reaches_the_owners_of_the_entity_hit(tmp_store: SqliteStore) -> None:
    """P holds 50% of H from 2020-01-01 and 60% of Q; Q holds 50% of H; incident X (8 hours) hit H."""
    ingest(tmp_store, batch(
        company("p"), company("q"), company("h"), entity("Incident", "x", category="outage", duration_hours=8),
        owns("p", "h", 0.5, valid_from="2020-01-01"), owns("p", "q", 0.6), owns("q", "h", 0.5),
        rel("AFFECTED", "x", "h"),
    ))
    graph = CorpGraph(tmp_store)
    assert _items(graph.exposure("h")) == {("x", Channel.AFFECTED, "h"): 1.0}  # the entity hit: weight 1
    later = graph.exposure("p", as_of=date(2021, 1, 1))
    # integrated(P, H) = 0.5 direct + 0.6 x 0.5 through Q = 0.8
    assert _items(later) == {("x", Channel.AFFECTED, "h"): pytest.approx(0.8)}
    assert later.totals == pytest.approx({"duration_hours": 6.4})  # 0.8 x 8 hours
    paths = sorted([h.type.value for h in p.hops] for p in later.items[0].paths)
    assert paths == [["OWNS", "AFFECTED"], ["OWNS", "OWNS", "AFFECTED"]]
    # Before P's direct stake: only the walk through Q, 0.6 x 0.5 = 0.3
    assert _items(graph.exposure("p", as_of=date(2019, 1, 1))) == {("x", Channel.AFFECTED, "h"): pytest.approx(0.3)}


def test_the_total_maximum_of_records_is_never_below_the_total_count(tmp_store: SqliteStore) -> None:
    # P is responsible for two leaks: L1 reports 100 records (up to 400), L2 reports only 300 records.
    # Count: 100 + 300 = 400. Maximum: 400 + 300 (L2's count is its own maximum) = 700, not 400.
    ingest(tmp_store, batch(company("p"),
                            entity("Incident", "l1", category="data_leak", records_affected=100, records_affected_max=400),
                            entity("Incident", "l2", category="data_leak", records_affected=300),
                            rel("RESPONSIBLE_FOR", "p", "l1"), rel("RESPONSIBLE_FOR", "p", "l2")))
    totals = CorpGraph(tmp_store).exposure("p").totals
    assert totals == {"records_affected": 400.0, "records_affected_max": 700.0}


# Paged exposure. P is responsible for B (100 records); holds 60% of A (responsible for O, 10 hours) and 50% of
# C (responsible for L, 1,000 records, up to 4,000); L hit P itself; P depends on V, hit by O2 (2 hours).
# Rank = weight x (records_affected_max, else records_affected, else 1):
#   (l, AFFECTED, p) 1 x 4000; (l, OWNERSHIP, c) 0.5 x 4000 = 2000; (b, OWNERSHIP, p) 1 x 100;
#   (o2, DEPENDENCY, v) 1 x 1; (o, OWNERSHIP, a) 0.6 x 1.
RANKED = [("l", Channel.AFFECTED, "p"), ("l", Channel.OWNERSHIP, "c"), ("b", Channel.OWNERSHIP, "p"),
          ("o2", Channel.DEPENDENCY, "v"), ("o", Channel.OWNERSHIP, "a")]
# L once at its largest weight 1; B's count is its own maximum: records 1000 + 100, maximum 4000 + 100;
# hours 0.6 x 10 + 1 x 2.
TOTALS = {"records_affected": 1100.0, "records_affected_max": 4100.0, "duration_hours": 8.0}


@pytest.fixture
def holder(tmp_store: SqliteStore) -> CorpGraph:
    ingest(tmp_store, batch(
        *(company(c) for c in ("p", "a", "c", "v")),
        entity("Incident", "b", category="data_leak", records_affected=100),
        entity("Incident", "o", category="outage", duration_hours=10),
        entity("Incident", "l", category="data_leak", records_affected=1000, records_affected_max=4000),
        entity("Incident", "o2", category="outage", duration_hours=2),
        owns("p", "a", 0.6), owns("p", "c", 0.5),
        rel("RESPONSIBLE_FOR", "p", "b"), rel("RESPONSIBLE_FOR", "a", "o"), rel("RESPONSIBLE_FOR", "c", "l"),
        rel("AFFECTED", "l", "p"), rel("DEPENDS_ON", "p", "v"), rel("AFFECTED", "o2", "v"),
    ))
    return CorpGraph(tmp_store)


def _keys(answer: Exposure) -> list[tuple[str, Channel, str | None]]:
    return [(i.incident, i.channel, i.via) for i in answer.items]


def test_items_rank_by_weight_times_impact_and_totals_cover_them_all(holder: CorpGraph) -> None:
    whole = holder.exposure("p")
    assert _keys(whole) == RANKED
    assert [i.weight for i in whole.items] == pytest.approx([1.0, 0.5, 1.0, 1.0, 0.6])
    assert whole.count == 5 and whole.totals == pytest.approx(TOTALS)


def test_pages_of_two_continue_from_the_cursor_with_the_same_count_and_totals(holder: CorpGraph) -> None:
    pages, after = [], None
    while True:
        page = holder.exposure("p", first=2, after=after)
        assert page.count == 5 and page.totals == pytest.approx(TOTALS)  # every page: all items counted
        if not page.items:
            break
        pages.append(_keys(page))
        after = page.items[-1].cursor
    assert pages == [RANKED[0:2], RANKED[2:4], RANKED[4:5]]


def test_pages_of_one_walk_the_whole_ranking(holder: CorpGraph) -> None:
    seen, after = [], None
    for _ in range(5):
        page = holder.exposure("p", first=1, after=after, paths=False)
        assert len(page.items) == 1 and page.count == 5
        seen += _keys(page)
        after = page.items[0].cursor
    assert seen == RANKED
    assert holder.exposure("p", first=1, after=after).items == []


def test_paths_only_for_the_page_and_only_when_asked(holder: CorpGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[int] = []
    original = PathFinder.paths

    def spy(self: PathFinder, other: int, k: int = 3) -> list[list[int]]:
        searched.append(other)
        return original(self, other, k)

    monkeypatch.setattr(PathFinder, "paths", spy)
    bare = holder.exposure("p", paths=False)
    assert searched == [] and all(i.paths == [] for i in bare.items) and bare.graph.nodes == []
    assert bare.totals == pytest.approx(TOTALS)
    second = holder.exposure("p", first=1, after=holder.exposure("p", first=1, paths=False).items[0].cursor)
    (item,) = second.items  # (l, OWNERSHIP, c): one search, for C alone
    assert len(searched) == 1
    assert [[(h.source, h.target, h.type.value) for h in p.hops] for p in item.paths] == [
        [("p", "c", "OWNS"), ("c", "l", "RESPONSIBLE_FOR")]]
    assert item.paths[0].weight == pytest.approx(0.5)
    assert {n.id for n in second.graph.nodes} == {"p", "c", "l"}  # the page's subgraph: not A, V, B, O, O2


def test_a_cursor_that_is_not_ours_is_refused(holder: CorpGraph) -> None:
    with pytest.raises(InvalidCursor, match="pass the cursor of the last ExposureItem received"):
        holder.exposure("p", first=2, after="bm90IGEgY3Vyc29y")  # base64 of "not a cursor"


def test_figures_read_for_one_state_are_not_used_after_a_write(holder: CorpGraph) -> None:
    assert holder.exposure("p", first=1).totals == pytest.approx(TOTALS)  # reads (and keeps) every figure
    holder.write(batch(entity("Incident", "o", category="outage", duration_hours=20)))  # O: 10 -> 20 hours
    assert holder.exposure("p", first=1).totals == pytest.approx({**TOTALS, "duration_hours": 0.6 * 20 + 2.0})


def test_the_first_exposure_after_a_build_reads_no_incident_figures(tmp_store: SqliteStore,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The build reads every reachable incident's figures before the state is served (Impacts.every): the first
    call reads none. R (20 hours) hits P's 40% holding Q through RESPONSIBLE_FOR, A (3 hours) hits P itself."""
    ingest(tmp_store, batch(
        company("p"), company("q"), entity("Incident", "r", category="outage", duration_hours=20),
        entity("Incident", "a", category="outage", duration_hours=3), owns("p", "q", 0.4),
        rel("RESPONSIBLE_FOR", "q", "r", role="operator"), rel("AFFECTED", "a", "p"),
    ))
    graph = CorpGraph(tmp_store)
    graph.live.fresh()  # the build
    monkeypatch.setattr(Impacts, "_add", lambda *args: pytest.fail("an incident's figures read on first use"))
    answer = graph.exposure("p")
    assert _items(answer) == {("r", Channel.OWNERSHIP, "q"): pytest.approx(0.4), ("a", Channel.AFFECTED, "p"): 1.0}
    assert answer.totals == pytest.approx({"duration_hours": 0.4 * 20 + 3})


@pytest.mark.parametrize("incidents", [3, 9])  # fewer than _FEW items are ranked in Python floats, 9 by numpy
def test_a_holder_of_a_few_or_many_incidents_ranks_and_totals_them_alike(tmp_store: SqliteStore, incidents: int) -> None:
    # P holds 50% of A; A is responsible for incidents i1..iN, incident ik of 10 x k records
    ingest(tmp_store, batch(
        company("p"), company("a"), owns("p", "a", 0.5),
        *(entity("Incident", f"i{k}", category="data_leak", records_affected=10 * k) for k in range(1, incidents + 1)),
        *(rel("RESPONSIBLE_FOR", "a", f"i{k}") for k in range(1, incidents + 1)),
    ))
    answer = CorpGraph(tmp_store).exposure("p", paths=False)
    assert [i.incident for i in answer.items] == [f"i{k}" for k in range(incidents, 0, -1)]  # 0.5 x 10k, largest first
    assert answer.count == incidents and [i.weight for i in answer.items] == [0.5] * incidents
    assert answer.totals == {"records_affected": 0.5 * 10 * incidents * (incidents + 1) / 2}  # 30 or 225


def test_totals_of_fewer_than_few_incidents_are_the_floats_numpy_sums() -> None:
    # numpy sums fewer than 8 numbers one after the other from 0.0; _totals_few must give its floats bit for bit
    rng = np.random.default_rng(5)
    keys = ("records_affected", "records_affected_max", "duration_hours", "amount_EUR")
    for n in range(_FEW):
        for _ in range(300):
            weight = rng.random(n) * rng.choice([1.0, 1e-3, 0.37], n)
            columns = {key: np.where(rng.random(n) < 0.3, np.nan, rng.random(n) * 10.0 ** rng.integers(0, 9, n))
                       for key in keys}
            few = _totals_few(weight.tolist(), {key: column.tolist() for key, column in columns.items()})
            assert repr(few) == repr(_totals(weight, columns))
