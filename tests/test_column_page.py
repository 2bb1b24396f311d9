"""A page of the projection feed held as columns (stores.base.ColumnPage) reads as its EdgeRows and builds the
same projection as the rows would (graph.projection.build takes its columns as they are)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from corpgraph.graph.projection.build import Projection, build_projection
from corpgraph.graph.stores.base import ColumnPage, EdgeRow
from corpgraph.schema.declaration import EDGE_FIELDS
from corpgraph.schema.kinds import RelationType

OWNS, SUPPLIED = RelationType.OWNS, RelationType.SUPPLIED_DATA_TO
ROWS = [EdgeRow("OWNS|a|b|", OWNS, "a", "b", 0.6, "2020-01-01", None, None),
        EdgeRow("OWNS|b|c|", OWNS, "b", "c", None, None, None, None, 0.25, 0.5, None, True),
        EdgeRow("SUPPLIED_DATA_TO|c|a|i", SUPPLIED, "c", "a", None, None, "2024-05-01", "i")]


def _page(rows: list[EdgeRow]) -> ColumnPage:
    """The rows as columns, one list per EDGE_FIELDS name."""
    return ColumnPage({name: [getattr(row, name) for row in rows] for name in EDGE_FIELDS})


class _Feed:
    """Just enough of a store for build_projection: a revision and the given pages."""

    def __init__(self, pages: list[Sequence[EdgeRow]]) -> None:
        self.pages = pages

    def revision(self) -> int:
        """A fixed revision."""
        return 7

    def iter_edges(self, types: Sequence[RelationType], page_size: int = 50_000) -> Iterator[Sequence[EdgeRow]]:
        """The pages as given."""
        return iter(self.pages)


def _built(pages: list[Sequence[EdgeRow]]) -> Projection:
    """The projection build_projection makes of these pages."""
    store: Any = _Feed(pages)
    return build_projection(store)


def test_a_column_page_reads_as_its_rows() -> None:
    page = _page(ROWS)
    assert len(page) == 3 and list(page) == ROWS
    assert page[-1] == ROWS[2] and page[1:3] == ROWS[1:3]


def test_column_pages_build_the_projection_rows_build() -> None:
    """Two column pages against the same rows as one list: same nodes, columns, relation ids and ranges."""
    by_columns, by_rows = _built([_page(ROWS[:2]), _page(ROWS[2:])]), _built([ROWS])
    assert list(by_columns.ids) == list(by_rows.ids) == ["a", "b", "c", "i"]
    for name in ("type", "src", "dst", "valid_from", "valid_to", "bounded", "bound_min", "bound_max", "bound_open"):
        assert np.array_equal(getattr(by_columns, name), getattr(by_rows, name), equal_nan=name.startswith("bound_m")), name
    assert np.array_equal(by_columns.share, by_rows.share, equal_nan=True)
    assert list(by_columns.relation_ids) == list(by_rows.relation_ids) == [row.id for row in ROWS]
    assert by_columns.incident.dense().tolist() == [-1, -1, 3]  # the SUPPLIED_DATA_TO edge's incident is node i
    assert by_columns.bounded.tolist() == [1] and by_columns.bound_open.tolist() == [True]  # b's 25-50% in c


def test_nodes_are_numbered_by_id_whatever_the_pages_and_their_order() -> None:
    """Endpoints are numbered page by page as pages arrive; the projection's node indices are still by id
    (c's page first, then a's, then b's: the same nodes a, b, c, i as from one page, each edge between the same ids)."""
    rows = [ROWS[2], ROWS[0], ROWS[1]]
    paged, whole = _built([_page(rows[:1]), _page(rows[1:2]), [rows[2]]]), _built([rows])
    assert list(paged.ids) == list(whole.ids) == ["a", "b", "c", "i"]
    assert [(paged.ids[s], paged.ids[d]) for s, d in zip(paged.src, paged.dst)] == [("c", "a"), ("a", "b"), ("b", "c")]
    assert np.array_equal(paged.src, whole.src) and np.array_equal(paged.dst, whole.dst)
    assert paged.valid_from.tolist() == whole.valid_from.tolist()
    assert paged.valid_to[0] == whole.valid_to[0] == 19844  # 2024-05-01: 54 years of days + 13 leap days + 121


def test_ids_the_columns_do_not_give_are_kept_as_stored() -> None:
    """An OWNS id whose date is not the stake's valid_from keeps its key text (row 0's 2019-06-30 against
    2019-07-01, and ROWS[0]'s empty date against 2020-01-01); one naming other endpoints is kept whole; the ids
    that do read back from the columns keep nothing."""
    rows = [EdgeRow("OWNS|a|b|2019-06-30", OWNS, "a", "b", 0.6, "2019-07-01", None, None),
            EdgeRow("OWNS|x|b|", OWNS, "a", "b", 0.1, None, None, None), *ROWS]
    built = _built([_page(rows[:3]), _page(rows[3:])])
    assert list(built.relation_ids) == [row.id for row in rows]
    assert built.relation_ids.keyed.tolist() == [0, 2] and built.relation_ids.keys == ("2019-06-30", "")
    assert built.relation_ids.whole.tolist() == [1]


def test_a_damaged_row_leaves_no_node_behind() -> None:
    """A share of 1.5 in the second page drops that row; d, named only there, is no node of the projection."""
    damaged = EdgeRow("OWNS|d|a|", OWNS, "d", "a", 1.5, None, None, None)
    built = _built([_page(ROWS[:2]), _page([damaged, ROWS[2]])])
    assert list(built.ids) == ["a", "b", "c", "i"] and len(built.relation_ids) == 3
    assert [d.relation for d in built.damaged] == ["OWNS|d|a|"]
    assert [(built.ids[s], built.ids[d]) for s, d in zip(built.src, built.dst)] == [("a", "b"), ("b", "c"), ("c", "a")]
