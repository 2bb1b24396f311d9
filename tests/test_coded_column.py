"""The coded per-edge column (graph.projection.coded_column): the dense column's values bit for bit, in fewer bytes."""
from __future__ import annotations

import numpy as np

from corpgraph.graph.projection.coded_column import CodedColumn


def test_every_value_reads_back_bit_for_bit_with_a_byte_code_under_257_values() -> None:
    dense = np.array([0.1 + 0.2, 0.3, np.nan, -0.0, 0.0, 0.3, 0.1 + 0.2])  # 0.1 + 0.2 is not 0.3
    column = CodedColumn.of(dense)
    assert column.codes.dtype == np.uint8 and column.table.size == 5  # 0.1+0.2, 0.3, NaN, -0.0, 0.0
    assert column[:].view(np.uint64).tolist() == dense.view(np.uint64).tolist()
    assert column.item(0) == 0.30000000000000004 and column.item(4) == 0.0
    assert np.signbit(column[3]) and not np.signbit(column[4])
    assert column[np.array([5, 2])].tolist()[0] == 0.3 and np.isnan(column[2])
    assert column.nbytes == 7 + 5 * 8  # a byte an edge and the table, against 7 * 8 dense


def test_codes_widen_with_the_table() -> None:
    days = np.arange(300, dtype=np.int32) * 7 - 1000
    column = CodedColumn.of(np.concatenate((days, days[:10])))
    assert column.codes.dtype == np.uint16 and column.table.dtype == np.int32 and column[305] == -965


def test_where_tests_the_table_and_reads_the_mask_per_edge() -> None:
    column = CodedColumn.of(np.array([5, 1, 9, 5, 3], dtype=np.int32))
    assert column.where(lambda day: day <= 5).tolist() == [True, True, False, True, True]


def test_an_update_adds_new_values_to_the_table_and_leaves_the_old_column_as_it_was() -> None:
    old = CodedColumn.of(np.array([0.5, 0.25, 0.5]))
    new = old.updated(np.array([1]), np.array([0.125]), np.array([0.5, np.nan]))
    assert new[:].tolist()[:4] == [0.5, 0.125, 0.5, 0.5] and np.isnan(new[4])
    assert old[:].tolist() == [0.5, 0.25, 0.5] and old.table.size == 2
    assert new.table.size == 4  # 0.5, 0.25, then 0.125 and NaN as they came
    appended = new.updated(np.zeros(0, dtype=np.int64), np.zeros(0), np.array([0.25, 0.75, 0.75]))
    assert appended[5:].tolist() == [0.25, 0.75, 0.75] and new.size == 5 and appended.table.size == 5
