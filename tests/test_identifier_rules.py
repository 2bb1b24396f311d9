"""Identifier keys per scheme (issue 20, item 8): each rule of graph.identifiers.SCHEME_RULES on hand examples."""
from __future__ import annotations

import pytest

from corpgraph.graph.identity.identifiers import identifier_key
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company


@pytest.mark.parametrize("scheme, given, key", [
    ("lei", "5493 00o8 4UKL VQ0A LD67", "LEI:549300O84UKLVQ0ALD67"),
    ("GB-COH", "sc0123 456", "GB-COH:SC0123456"),
    ("gb-coh", "SC0123 456", "GB-COH:SC0123456"),
    ("GB-COH", "123456", "GB-COH:00123456"),  # numbers are 8 characters, zero-padded
    ("GB-COH", "sc12345", "GB-COH:SC012345"),  # zeros go after the letter prefix
    ("GB-COH", "04336774", "GB-COH:04336774"),
    ("DK-CVR", "DK 12 34 56 78", "DK-CVR:12345678"),
    ("DK-CVR", "12-34-56-78", "DK-CVR:12345678"),
    ("FI-PRO", "FI12345678", "FI-PRO:1234567-8"),
    ("FI-PRO", "1234567-8", "FI-PRO:1234567-8"),
    ("FI-PRO", "123456-7", "FI-PRO:0123456-7"),
    ("IE-CRO", "012 345", "IE-CRO:12345"),
    ("RU-INN", "7707 083893", "RU-INN:7707083893"),
    ("RU-OGRN", "1027700132195 ", "RU-OGRN:1027700132195"),
    # the default: trimmed, whitespace runs one space, case kept
    ("XX-REG", "  Ab   12 ", "XX-REG:Ab 12"),
    ("xx-reg", "ab 12", "XX-REG:ab 12"),
])
def test_each_scheme_rule(scheme: str, given: str, key: str) -> None:
    assert identifier_key(scheme, given) == key


def test_blank_ids_and_schemes_give_no_key() -> None:
    assert identifier_key("GB-COH", "   ") is None and identifier_key(" ", "123") is None
    assert identifier_key("DK-CVR", "n/a") is None  # no digits: nothing to compare


def test_two_spellings_of_one_companies_house_number_are_one_entity(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("a", identifiers=[{"scheme": "GB-COH", "id": "sc0123 456"}]),
                            company("b", identifiers=[{"scheme": "GB-COH", "id": "SC0123 456"}])))
    graph = CorpGraph(tmp_store)
    assert graph.resolve("b") == graph.resolve("a") == "a"
