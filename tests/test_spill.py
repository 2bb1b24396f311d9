"""A reader's on-disk state (loaders.formats.spill) behaves as the dict and set it replaces."""
from __future__ import annotations

from corpgraph.loaders.formats.spill import Spill
from corpgraph.schema.batch import Origin


def test_a_table_keeps_values_and_first_insertion_order() -> None:
    table = Spill().table()
    table["b"] = 1
    table["a"] = [Origin("f.json", 3, "/3/interests/0", {"share": "/share"})]
    table["c"] = None
    table["b"] = 2  # an update keeps b's place, as in a dict
    assert list(table.items()) == [("b", 2), ("a", [Origin("f.json", 3, "/3/interests/0")]), ("c", None)]
    assert table["a"][0].fields == {"share": "/share"}
    assert (table.get("z", "none"), "c" in table, "z" in table) == ("none", True, False)


def test_pop_removes_and_a_set_is_a_table_of_keys() -> None:
    state = Spill()
    table, members = state.table(), state.table()
    table["k"] = (1, "x")
    assert (table.pop("k"), table.pop("k", []), "k" in table) == ((1, "x"), [], False)
    members.add("m")
    members.add("m")  # twice: held once
    assert ("m" in members, list(members.items())) == (True, [("m", None)])
    assert list(table.items()) == []  # tables of one state are apart


def test_items_read_past_a_page() -> None:
    table = Spill().table()
    for n in range(2500):  # 1,000 rows a page: three pages, in order
        table[f"k{n}"] = n
    assert [v for _, v in table.items()] == list(range(2500))
