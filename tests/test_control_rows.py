"""The control relation kept by columns only (what X controls found by a walk down from X), W read by companies
through a search of W's rows, and the packed flags both rest on."""
from __future__ import annotations

from datetime import date

import numpy as np
import scipy.sparse as sp

from corpgraph.graph.projection.bits import Bits
from corpgraph.graph.projection.build import build_projection, pair_slots
from corpgraph.graph.projection.control import control, controlled_by, controllers_of
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from tests.factory import batch, company, owns, rel


def test_bits_read_like_the_flags_they_pack() -> None:
    flags = np.zeros(21, dtype=bool)
    flags[[0, 7, 8, 20]] = True
    bits = Bits.of(flags)
    assert bits.packed.tolist() == [0b10000001, 0b00000001, 0b00010000]  # flag i: bit i % 8 of byte i // 8
    assert bits[np.array([0, 1, 7, 8, 20])].tolist() == [True, False, True, True, True]
    assert [bits.at(i) for i in (6, 7, 8, 9)] == [False, True, True, False]
    assert bits.dense().tolist() == flags.tolist()
    grown = bits.grown(30)
    assert len(grown) == 30 and grown.dense().tolist() == flags.tolist() + [False] * 9


def test_pair_slots_find_entries_in_sorted_and_unsorted_rows() -> None:
    # row 0: columns 1, 3, 4 at slots 0, 1, 2; row 1: empty; row 2: column 0 at slot 3
    W = sp.csr_matrix((np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 3, 4, 0]), np.array([0, 3, 3, 4])), shape=(3, 5))
    rows, cols = np.array([0, 0, 0, 0, 1, 2, 2]), np.array([1, 3, 4, 2, 0, 0, 4])
    assert pair_slots(W, rows, cols).tolist() == [0, 1, 2, -1, -1, 3, -1]
    # the same entries with row 0 stored 4, 1, 3: the slots are where each sits
    unsorted = sp.csr_matrix((np.array([0.3, 0.1, 0.2, 0.4]), np.array([4, 1, 3, 0]), np.array([0, 3, 3, 4])),
                             shape=(3, 5))
    unsorted.has_sorted_indices = False
    assert pair_slots(unsorted, rows, cols).tolist() == [1, 2, 0, -1, -1, 3, -1]
    assert pair_slots(W, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).tolist() == []
    # more than 16 pairs: searched all at once. Row r holds columns r and r + 2, at slots 2r and 2r + 1.
    n = 12
    wide = sp.csr_matrix((np.ones(2 * n), np.ravel([[r, r + 2] for r in range(n)]), np.arange(0, 2 * n + 1, 2)),
                         shape=(n, n + 2))
    rows = np.repeat(np.arange(n), 3)
    cols = np.ravel([[r, r + 1, r + 2] for r in range(n)])
    assert pair_slots(wide, rows, cols).tolist() == [x for r in range(n) for x in (2 * r, -1, 2 * r + 1)]


def test_what_an_owner_controls_is_walked_down_through_what_it_controls(tmp_store: SqliteStore) -> None:
    """x holds 60% of s0..s69 (70 companies: past the walk's Python limit of 64 met); s0 holds 60% of t and 30% of
    u, x 25% of u: x controls s0..s69, t (through s0) and u (30% + 25% = 55%); s0 controls t only; k holds a board
    appointment in s1's subsidiary b (s1 holds 10% of b): k controls b, x does not (10%)."""
    subs = [f"s{i:02d}" for i in range(70)]
    ingest(tmp_store, batch(company("x"), company("t"), company("u"), company("k"), company("b"),
                            *[company(s) for s in subs], *[owns("x", s, 0.6) for s in subs],
                            owns("s00", "t", 0.6), owns("s00", "u", 0.3), owns("x", "u", 0.25), owns("s01", "b", 0.1),
                            rel("CONTROLS", "k", "b", kind="appointmentOfBoard")))
    proj = build_projection(tmp_store)
    view = proj.view(date.today())
    ix = proj.index
    expected = sorted(ix[name] for name in [*subs, "t", "u"])
    assert controlled_by(view, ix["x"]).tolist() == expected  # the vectorised walk (more than 64 met)
    assert controlled_by(view, ix["s00"]).tolist() == [ix["t"]]  # the walk in Python ints
    assert controlled_by(view, ix["k"]).tolist() == [ix["b"]]  # down a CONTROLS interest
    assert controlled_by(view, ix["t"]).tolist() == []  # controls nothing: its flag says so
    assert controllers_of(view, ix["t"]).tolist() == sorted([ix["x"], ix["s00"]])
    assert controllers_of(view, ix["b"]).tolist() == [ix["k"]]
    rel_ = control(view)
    by_row = rel_.by_row  # the rows, built from the columns when a write's update asks for them
    assert sorted(by_row.indices[by_row.indptr[ix["s00"]]:by_row.indptr[ix["s00"] + 1]].tolist()) == [ix["t"]]
    assert [rel_.controls.at(ix[name]) for name in ("x", "s00", "s01", "k", "t")] == [True, True, False, True, False]
