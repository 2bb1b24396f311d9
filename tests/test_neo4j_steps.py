"""neo4j_steps.params: a statement's list parameters travel as Rows, which the driver packs exactly as the lists
they hold but whose debug text is one short line (the driver formats every RUN's parameters for its debug log
whether or not it logs: a 10,000-row chunk was a few MB of text, thrown away)."""
from __future__ import annotations

import io

from neo4j._codec.packstream.v1 import Packer

from corpgraph.graph.stores.neo4j_steps import Rows, params


def _packed(value: object) -> bytes:
    """The PackStream bytes the driver sends for a value."""
    out = io.BytesIO()
    Packer(out).pack(value)  # type: ignore[no-untyped-call]  # the driver's own packer, untyped
    return out.getvalue()


def test_lists_become_rows_and_other_values_stay() -> None:
    rows = [{"id": "a", "doc": "{}"}, {"id": "b", "doc": "{}"}]
    sent = params(rows=rows, load=7, key="revision", none=None)
    assert type(sent["rows"]) is Rows and sent["rows"] == rows
    assert (sent["load"], sent["key"], sent["none"]) == (7, "revision", None)


def test_rows_pack_as_their_list_and_print_as_their_count() -> None:
    rows = [{"id": f"c{i}", "name": f"Company {i}", "share": i / 10, "tags": ["x", None]} for i in range(3)]
    assert _packed({"rows": Rows(rows), "load": 1}) == _packed({"rows": rows, "load": 1})
    assert repr(params(rows=rows)) == "{'rows': <3 rows>}"
