"""One entity per identifier through the real importers: GLEIF XML and a BODS 0.4 file carrying the same LEI.

The GLEIF fixtures (tests/fixtures/gleif, see tests/test_import_gleif.py): Parent holds 80% of Child A
(from 2016-01-01), Child A holds 100% of Child B (from 2018-06-30). The BODS file, written here, states
Child A under its own record id `childa` with Child A's LEI (scheme XI-LEI, which the importer reads as
LEI) and that Jane Roe holds 20% of it from 2017-01-01.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.validate import load_file
from tests.test_bods import v4, write
from tests.test_import_gleif import CHILD_A, CHILD_B, LEI, PARENT, RR
from tests.factory import approx

DAY = date(2024, 6, 1)


def _bods(tmp_path: Path) -> Path:
    """The BODS 0.4 file about Child A."""
    company = v4("s-childa", "childa", "entity", {
        "entityType": {"type": "registeredEntity"}, "name": "Test Child A Ltd", "isComponent": False,
        "identifiers": [{"scheme": "XI-LEI", "id": "TESTCHILDA0000000024"}, {"scheme": "GB-COH", "id": "03209885"}]})
    person = v4("s-jane", "jane", "person", {"personType": "knownPerson", "isComponent": False,
                                              "names": [{"type": "legal", "fullName": "Jane Roe"}]})
    stake = v4("s-rel", "rel-jane", "relationship", {
        "isComponent": False, "subject": "childa", "interestedParty": "jane",
        "interests": [{"type": "shareholding", "directOrIndirect": "direct", "share": {"exact": 20},
                       "startDate": "2017-01-01"}]})
    return write(tmp_path / "childa.bods.json", [company, person, stake])


@pytest.mark.parametrize("bods_first", [False, True])
def test_gleif_and_bods_make_one_company_queried_by_either_id(tmp_path: Path, bods_first: bool) -> None:
    """Child A's owners by its GLEIF id, its BODS id or its LEI: Parent 80% (GLEIF) and Jane 20% (BODS)."""
    files = [RR, LEI]
    files.insert(0 if bods_first else 2, _bods(tmp_path))
    store = SqliteStore(tmp_path / "g.db")
    for path in files:
        ingest(store, load_file(path))
    graph = CorpGraph(store)
    # canonical: "bods:childa" sorts before "lei:TESTCHILDA..."
    assert graph.resolve(CHILD_A) == graph.resolve("LEI:TESTCHILDA0000000024") == "bods:childa"
    answers = [graph.owners(ref, DAY) for ref in (CHILD_A, "bods:childa", "LEI:TESTCHILDA0000000024")]
    assert answers[0] == answers[1] == answers[2]
    assert {h.owner: h.direct for h in answers[0]} == {PARENT: approx(0.8), "bods:jane": approx(0.2)}
    # Child B is held 100% by the merged Child A, so Jane's 20% reaches it: 0.2 x 1.0 = 0.2; Parent 0.8 x 1.0
    below = {h.owner: (h.direct, h.integrated) for h in graph.owners(CHILD_B, DAY)}
    assert below == {"bods:childa": (approx(1.0), approx(1.0)), PARENT: (0.0, approx(0.8)),
                     "bods:jane": (0.0, approx(0.2))}
    merged = graph.entities([CHILD_A])[CHILD_A]
    assert (merged.id, merged.name) == ("bods:childa", "Test Child A Ltd")
    assert {"Test Child A Limited", "Old Child A Limited", "ChildCo"} <= set(merged.aliases)  # GLEIF's names
    assert graph.referents("bods:childa") == [CHILD_A]
