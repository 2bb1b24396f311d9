"""The OFAC and EU fixed points against their definitions, computed naively (issue 21): on random small worlds,
blocked = listed, then every entity whose blocked holders' direct shares reach the threshold, repeated until
nothing changes; the whole-graph answer must be exactly that set."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from corpgraph.graph.analytics import sanctions
from corpgraph.graph.projection.build import build_projection
from corpgraph.graph.stores.base import EdgeRow, edge_row
from corpgraph.schema.declaration import parse_record, relation_id
from corpgraph.schema.kinds import RelationType

DAY = date(2025, 1, 1)


class Feed:
    """The projection's feed from records in memory (what a store would stream)."""

    def __init__(self, records: list[dict[str, object]]) -> None:
        parsed = [parse_record(r) for r in records]
        self.rows = [EdgeRow(**edge_row(relation_id(r), r)) for r in parsed]  # type: ignore[arg-type]

    def revision(self) -> int:
        """One revision."""
        return 1

    def iter_edges(self, types: Sequence[RelationType], page_size: int = 1000) -> Iterator[list[EdgeRow]]:
        """Every row of the types asked for."""
        yield [row for row in self.rows if row.type in types]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[dict[str, object]], set[str]]:
    """Up to 7 companies, stakes in quarters (so sums are exact), each company's owners at most 100%; loops allowed."""
    n = draw(st.integers(2, 7))
    names = [f"c{i}" for i in range(n)]
    records: list[dict[str, object]] = []
    for target in names:
        left = 4
        for owner in draw(st.lists(st.sampled_from(names), unique=True, max_size=3)):
            quarters = draw(st.integers(0, left))
            if owner != target and quarters:
                records.append({"type": "OWNS", "source": owner, "target": target, "share": quarters / 4})
                left -= quarters
    listed = set(draw(st.lists(st.sampled_from(names), unique=True, min_size=1, max_size=2)))
    records += [{"type": "Sanction", "entity": x, "regime": r} for x in listed for r in ("OFAC", "EU")]
    return records, listed


def naive(records: list[dict[str, object]], listed: set[str], reaches: object) -> set[str]:
    """The definition, iterated: add every company whose blocked holders' shares reach the threshold."""
    blocked = set(listed)
    while True:
        held: dict[str, float] = {}
        for r in records:
            if r["type"] == "OWNS" and r["source"] in blocked:
                held[str(r["target"])] = held.get(str(r["target"]), 0.0) + float(r["share"])  # type: ignore[arg-type]
        grown = blocked | {c for c, share in held.items() if reaches(share)}  # type: ignore[operator]
        if grown == blocked:
            return blocked
        blocked = grown


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_the_whole_graph_answer_is_the_definitions_fixed_point(world: tuple[list[dict[str, object]], set[str]]
                                                                 ) -> None:
    records, listed = world
    view = build_projection(Feed(records)).view(DAY)  # type: ignore[arg-type]
    ids = view.projection.ids
    for regime, reaches in (("OFAC", lambda s: s >= 0.5), ("EU", lambda s: s > 0.5)):
        found = sanctions.outcome(view, regime)
        computed = {ids[int(n)] for n in found.low.frozen.nonzero()[0]}
        assert computed == naive(records, listed, reaches), regime
