"""Compact id tables: NodeIds (ids <-> node indices), relation ids derived from the columns, sparse columns."""
from __future__ import annotations

import random

import numpy as np
import pytest

from corpgraph.graph.identity.clusters import build_identity
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection.distinct import distinct
from corpgraph.graph.projection.nodeids import NodeIds
from corpgraph.graph.projection.build import build_projection
from corpgraph.graph.projection.sparse_column import SparseColumn
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company, entity, owns, rel

LEI = "5493001KJTIIGC8Y1R12"


def test_ids_round_trip_whatever_their_lengths_and_order() -> None:
    ids = [f"c{i}" for i in range(300)] + ["lei:" + LEI, "p1", "x", "ütf-8"]
    random.Random(3).shuffle(ids)
    table, at = NodeIds.build(ids)
    assert len(table) == len(ids) and sorted(at.tolist()) == list(range(len(ids)))
    assert [table[i] for i in at.tolist()] == ids
    assert all(table.index(i) == k for i, k in zip(ids, at.tolist()))
    assert table.indices(ids).tolist() == at.tolist() and table.ids(at) == ids
    assert list(table) == [table[k] for k in range(len(table))]
    # node order: by length, then bytewise; so the 1-character "x" is node 0 and c0..c9 come before c10
    assert table[0] == "x" and table.index("c0") < table.index("c9") < table.index("c10")


def test_ids_of_one_length_come_back_in_the_order_asked_in_any_script() -> None:
    ascii_only = [f"c{i}" for i in range(100, 200)]  # one group: every id 4 bytes
    table, _ = NodeIds.build(ascii_only)
    asked = [table.index(i) for i in ("c150", "c100", "c199", "c150")]
    assert table.ids(asked) == ["c150", "c100", "c199", "c150"]
    mixed, _ = NodeIds.build(["abcd", "äbc", "c101"])  # "äbc" is 4 bytes in UTF-8, as the others
    assert mixed.ids([mixed.index("äbc"), mixed.index("c101"), mixed.index("abcd")]) == ["äbc", "c101", "abcd"]


def test_distinct_is_np_unique_by_a_sort() -> None:
    assert distinct(np.array([3, 1, 3, 0, 1], dtype=np.int32)).tolist() == [0, 1, 3]
    assert distinct(np.array([3, 1, 3], dtype=np.int32)).dtype == np.int32  # the dtype it was given
    assert distinct(np.zeros(0, dtype=np.int64)).size == 0 and distinct(np.array([7])).tolist() == [7]


def test_absent_ids() -> None:
    table, _ = NodeIds.build(["a", "bb"])
    assert table.get("zz") is None and "zz" not in table and "a" in table
    assert table.indices(["bb", "zz", "abc", "a"]).tolist() == [1, -1, -1, 0]
    with pytest.raises(KeyError):
        table.index("zz")
    with pytest.raises(IndexError):
        table[2]
    with pytest.raises(ValueError):
        NodeIds.build(["a", "a"])


def test_extend_appends_after_the_base_and_shares_it() -> None:
    table, _ = NodeIds.build(["b", "a", "cc"])
    grown = table.extend(["a", "zz", "d", "zz"])
    assert len(table) == 3 and len(grown) == 5  # "a" was there; "zz" once
    assert grown.groups is table.groups  # the sorted base is shared, not copied
    assert (grown.index("zz"), grown.index("d"), grown.index("a")) == (3, 4, table.index("a"))
    assert grown.ids([4, 0, 3]) == ["d", "a", "zz"] and grown.indices(["d", "cc", "q"]).tolist() == [4, 2, -1]
    assert list(grown) == ["a", "b", "cc", "zz", "d"] and table.extend(["a"]) is table


def test_keys_sort_as_the_ids_do_across_lengths_scripts_and_the_overflow() -> None:
    # Node order is by length first (c9 before c10); keys order as str does: "c10" < "c9", "b" < "bb" < "bc",
    # and the 2-byte "ü" after every ASCII letter; "a0" and "zz" come from the overflow of extend.
    table, _ = NodeIds.build(["c9", "c10", "bb", "b", "bc", "ü", "lei:" + LEI, "x"])
    grown = table.extend(["zz", "a0"])
    nodes = np.arange(len(grown))
    ids = grown.ids(nodes)
    assert [ids[k] for k in np.argsort(grown.keys(nodes), kind="stable")] == sorted(ids)
    assert sorted(ids)[:4] == ["a0", "b", "bb", "bc"] and sorted(ids)[-1] == "ü"
    picked = np.array([grown.index("c9"), grown.index("c10"), grown.index("a0")])
    assert grown.keys(picked).tolist() == [b"c9", b"c10", b"a0"]  # in the order asked, the padding not shown
    with pytest.raises(IndexError):
        grown.keys(np.array([len(grown)]))


def test_sparse_column_reads_like_the_dense_one() -> None:
    dense = np.array([-1, 4, -1, -1, 7, -1], dtype=np.int32)
    column = SparseColumn.of(dense)
    assert column.at.tolist() == [1, 4] and len(column) == 6
    assert [int(column[k]) for k in range(6)] == dense.tolist() and int(column[-2]) == 7
    assert column[np.array([4, 0, 1])].tolist() == [7, -1, 4] and column[dense > 0].tolist() == [4, 7]
    assert column[1:5].tolist() == [4, -1, -1, 7] and column.dense().tolist() == dense.tolist()


def _world(store: SqliteStore) -> None:
    """Every analytic type, keys with and without a column behind them (role, service), and absent keys."""
    ingest(store, batch(
        company("a"), company("b"), company("c"), entity("Incident", "i", category="outage"),
        entity("Actor", "x", known=False),
        owns("a", "b", 0.2, valid_from="2018-01-01", valid_to="2020-01-01"), owns("a", "b", 0.6, valid_from="2020-01-01"),
        owns("a", "c", None), rel("RESPONSIBLE_FOR", "b", "i", role="operator"), rel("RESPONSIBLE_FOR", "c", "i"),
        rel("DEPENDS_ON", "a", "c", service="cloud hosting"), rel("PERPETRATED", "x", "i"), rel("AFFECTED", "i", "a"),
        rel("SUPPLIED_DATA_TO", "b", "c", incident="i"), rel("CONTROLS", "a", "c", kind="board-appointment"),
    ))


def test_relation_ids_read_back_exactly_as_stored(tmp_store: SqliteStore) -> None:
    _world(tmp_store)
    proj = build_projection(tmp_store)
    stored = {r for r in _analytic_ids(tmp_store)}
    assert sorted(proj.relation_ids) == sorted(stored) and len(proj.relation_ids) == len(stored) == 10  # 3 OWNS, 2 RESPONSIBLE_FOR, 5 more
    for k, rid in enumerate(proj.relation_ids):  # each id belongs to its own edge
        assert rid.split("|")[1:3] == [proj.ids[proj.src[k]], proj.ids[proj.dst[k]]]
    # only the keys no column holds are kept as text: the operator role and the service (not the absent role)
    assert sorted(proj.relation_ids.keys) == ["cloud hosting", "operator"] and proj.relation_ids.whole.size == 0


def test_relation_ids_of_merged_statements_are_kept_whole(tmp_store: SqliteStore) -> None:
    """A stake stated under a referent keeps its own id, whose source is not the edge's canonical source."""
    ingest(tmp_store, batch(company("bods:acme", identifiers={"LEI": LEI}), company(f"lei:{LEI}", identifiers={"LEI": LEI}),
                            company("t"), owns(f"lei:{LEI}", "t", 0.3, valid_from="2019-06-30")))
    proj = build_projection(tmp_store, build_identity(tmp_store))
    assert list(proj.relation_ids) == [f"OWNS|lei:{LEI}|t|2019-06-30"]
    assert proj.ids[proj.src[0]] == "bods:acme" and proj.relation_ids.whole.tolist() == [0]


def _analytic_ids(store: SqliteStore) -> list[str]:
    """Relation ids of every analytic relation in the store."""
    from corpgraph.schema.declaration import ANALYTIC_RELATIONS
    return [row.id for page in store.iter_edges(ANALYTIC_RELATIONS) for row in page]
