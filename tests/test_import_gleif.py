"""GLEIF golden-copy XML and API JSON: LEI records, relationships, reporting exceptions, placeholders.

The fixtures in tests/fixtures/gleif/ are written for these tests in the shape of GLEIF's files (LEIs
made up, with valid ISO 17442 check digits). Their world:
- Parent (US-DE) directly consolidates Child A (80.00 PERCENTAGE, relationship from 2016-01-01);
- Child A directly consolidates Child B (100.00 PERCENTAGE, from 2018-06-30); Parent is Child B's
  declared ultimate parent;
- the Fund is managed by the Manager (from 2019-03-01);
- Outside (no LEI record in the files) consolidated the Manager from 2010-01-01, quantifier "1.00",
  INACTIVE since the record's last update on 2020-03-01;
- Parent reports exceptions for its direct and ultimate parents: NATURAL_PERSONS.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.detect import detect
from corpgraph.loaders.formats.gleif import FORMAT, is_lei
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import DeclaredInterest, FundLink, ShareRange
from tests.factory import of_type, type_name

FIXTURES = Path(__file__).parent / "fixtures" / "gleif"
LEI, RR, REPEX = FIXTURES / "lei.xml", FIXTURES / "rr.xml", FIXTURES / "repex.xml"
PARENT, CHILD_A, CHILD_B = "lei:TESTPARENT0000000020", "lei:TESTCHILDA0000000024", "lei:TESTCHILDB0000000072"
FUND, MANAGER, OUTSIDE = "lei:TESTFUND000000000065", "lei:TESTMANAGER000000035", "lei:TESTOUTSIDE000000039"


def native(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line or item number, native record) of a GLEIF file, failing on any problem."""
    out = []
    for item in FORMAT.read(path):
        assert isinstance(item, tuple), str(item)
        out.append((item[0].line, item[1]))
    return out


def load_all(store: SqliteStore) -> list[int]:
    """Load the relationship file first (its LEIs are placeholders), then the LEI records, then the
    exceptions; the placeholders each load made."""
    return [ingest(store, load_file(path)).placeholders for path in (RR, LEI, REPEX)]


def test_gleif_xml_and_api_json_are_detected_from_content(tmp_path: Path) -> None:
    for source in (LEI, RR, REPEX, FIXTURES / "api-relationship-records.json"):
        renamed = tmp_path / (source.stem + ".dat")  # no telling suffix: the content decides
        renamed.write_bytes(source.read_bytes())
        assert detect(renamed).name == "gleif"


def test_lei_records_become_companies_with_lei_and_registration_authority_number() -> None:
    by_id = {record["id"]: (line, record) for line, record in native(LEI)}
    line, parent = by_id[PARENT]
    assert line == 8  # the line of its <lei:LEIRecord> tag
    assert parent["identifiers"] == [{"scheme": "LEI", "id": "TESTPARENT0000000020"},
                                     {"scheme": "RA000602", "id": "1234567"}]
    # "US-DE" is a subdivision: the country is US, the jurisdiction kept as given.
    assert (parent["country"], parent["as_given"], parent["status"]) == ("US", {"country": "US-DE"}, "ACTIVE")
    child_a = by_id[CHILD_A][1]
    assert child_a["aliases"] == ["Old Child A Limited", "ChildCo"]
    assert {"scheme": "RA000585", "id": "03209885"} in child_a["identifiers"]
    # RA999999 means "no registration authority": only the LEI is an identifier.
    assert by_id[CHILD_B][1]["identifiers"] == [{"scheme": "LEI", "id": "TESTCHILDB0000000072"}]
    assert by_id[CHILD_B][1]["aliases"] == ["TEST KIND B GMBH"]


def test_relationships_run_parent_to_child_and_fund_to_manager() -> None:
    rows = [(line, {k: v for k, v in r.items() if k != "sources"}) for line, r in native(RR) if "source" in r]
    assert rows == [
        (8, {"type": "CONTROLS", "kind": "accounting_consolidation", "source": PARENT, "target": CHILD_A,
             "valid_from": "2016-01-01"}),
        (8, {"type": "OWNS", "source": PARENT, "target": CHILD_A, "valid_from": "2016-01-01", "share": 0.8}),
        (38, {"type": "CONTROLS", "kind": "accounting_consolidation", "source": CHILD_A, "target": CHILD_B,
              "valid_from": "2018-06-30"}),
        (38, {"type": "OWNS", "source": CHILD_A, "target": CHILD_B, "valid_from": "2018-06-30", "share": 1.0}),
        (63, {"type": "DECLARED_INTEREST", "kind": "ultimate_parent", "source": PARENT, "target": CHILD_B,
              "valid_from": "2018-06-30"}),
        (81, {"type": "FUND_LINK", "kind": "fund_managed_by", "source": FUND, "target": MANAGER,
              "valid_from": "2019-03-01"}),
        # INACTIVE without an end date: ends at the record's last update; "1.00" may be 1% or 100%.
        (99, {"type": "CONTROLS", "kind": "accounting_consolidation", "source": OUTSIDE, "target": MANAGER,
              "valid_from": "2010-01-01", "valid_to": "2020-03-01",
              "as_given": {"valid_to": "RelationshipStatus INACTIVE, no end date: the record's LastUpdateDate"}}),
        (99, {"type": "OWNS", "source": OUTSIDE, "target": MANAGER, "valid_from": "2010-01-01",
              "valid_to": "2020-03-01", "share_min": 0.01, "share_max": 1.0,
              "as_given": {"valid_to": "RelationshipStatus INACTIVE, no end date: the record's LastUpdateDate",
                           "share": "1.00 PERCENTAGE"}}),
    ]
    placeholders = [r["id"] for _, r in native(RR) if r.get("placeholder")]
    assert placeholders == [CHILD_A, PARENT, CHILD_B, FUND, MANAGER, OUTSIDE]


def test_loaded_gleif_answers_owners_and_keeps_the_declared_ultimate_parent(tmp_store: SqliteStore) -> None:
    # rr.xml names 6 LEIs, all open; lei.xml then completes 5 of them; repex.xml names only Parent (stored).
    assert load_all(tmp_store) == [6, 0, 0]
    graph = CorpGraph(tmp_store)
    entities = tmp_store.get_entities([PARENT, OUTSIDE])
    assert entities[PARENT].name == "Test Parent Holdings Inc." and not entities[PARENT].placeholder
    assert entities[OUTSIDE].placeholder and entities[OUTSIDE].name == "TESTOUTSIDE000000039"
    day = date(2024, 6, 1)
    owners_b = {h.owner: h for h in graph.owners(CHILD_B, as_of=day)}
    # Child A holds 100% of B; Parent holds 80% of A, so 0.8 x 1.0 = 0.8 of B.
    assert owners_b[CHILD_A].direct == pytest.approx(1.0)
    assert owners_b[PARENT].integrated == pytest.approx(0.8)
    # Parent controls B (80% > 50% of A, which holds all of B), as declared. Parent's reporting exception
    # says natural persons consolidate it (CONTROLS accounting_consolidation from the unknown party), and
    # control passes on, so the top of the control chain is that unknown party; the declaration agrees
    # (the declared parent controls B), so B is not among the disagreements.
    assert graph.controlling_parent(CHILD_B, as_of=day) == f"{PARENT}:direct-parent"
    assert PARENT in {h.owner for h in graph.owners(CHILD_B, as_of=day) if h.controls}
    assert CHILD_B not in {d.company for d in graph.declared_disagreements(as_of=day)[0]}
    declared = tmp_store.relations_touching([CHILD_B], [RelationType.DECLARED_INTEREST])
    assert [(d.record.source, of_type(DeclaredInterest, d.record).kind) for d in declared] == [(PARENT, "ultimate_parent")]
    # Outside's stake in the Manager is a range (1% or 100%) and ended on 2020-03-01.
    assert [h.owner for h in graph.owners(MANAGER, as_of=date(2015, 1, 1))] == [OUTSIDE]
    assert graph.owners(MANAGER, as_of=day) == []
    links = tmp_store.relations_touching([FUND], [RelationType.FUND_LINK])
    assert [(x.record.source, x.record.target, of_type(FundLink, x.record).kind) for x in links] == [
        (FUND, MANAGER, "fund_managed_by")]


def test_reporting_exceptions_are_unknown_parents_with_their_reason(tmp_store: SqliteStore) -> None:
    load_all(tmp_store)
    unknown = tmp_store.get_entities([f"{PARENT}:direct-parent", f"{PARENT}:ultimate-parent"])
    direct_parent = unknown[f"{PARENT}:direct-parent"]
    assert (direct_parent.unknown_reason, direct_parent.description) == ("NATURAL_PERSONS", "Owned by its founders")
    assert unknown[f"{PARENT}:ultimate-parent"].unknown_reason == "NATURAL_PERSONS"
    held = tmp_store.relations_touching([PARENT], [RelationType.CONTROLS, RelationType.DECLARED_INTEREST])
    into_parent = sorted((type_name(r.record), r.record.source, of_type(ShareRange, r.record).share)
                         for r in held if r.record.target == PARENT)
    assert into_parent == [("CONTROLS", f"{PARENT}:direct-parent", None),
                           ("DECLARED_INTEREST", f"{PARENT}:ultimate-parent", None)]


def test_a_second_load_changes_nothing(tmp_store: SqliteStore) -> None:
    load_all(tmp_store)
    counts = tmp_store.counts()
    ids = [PARENT, CHILD_A, CHILD_B, FUND, MANAGER, OUTSIDE]
    before = {k: v.model_dump() for k, v in tmp_store.get_entities(ids).items()}
    assert load_all(tmp_store) == [0, 0, 0]
    assert tmp_store.counts() == counts
    assert {k: v.model_dump() for k, v in tmp_store.get_entities(ids).items()} == before
    # 5 LEI records + Outside's placeholder + 2 unknown parents; OWNS: A, B and Outside's range;
    # CONTROLS: A, B, the Manager and the unknown direct parent; DECLARED_INTEREST: B's and the unknown one.
    assert counts == {"Company": 8, "OWNS": 3, "CONTROLS": 4, "DECLARED_INTEREST": 2, "FUND_LINK": 1}


def test_the_api_json_documents_give_the_same_records_as_the_xml() -> None:
    api = [r for _, r in native(FIXTURES / "api-relationship-records.json") if "source" in r]
    xml = [r for _, r in native(RR) if "source" in r][:2]  # the same relationship: Parent -> Child A
    drop = ("sources",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in api] == [
        {k: v for k, v in r.items() if k not in drop} for r in xml]
    companies = {r["id"]: r for _, r in native(FIXTURES / "api-lei-records.json")}
    xml_companies = {r["id"]: r for _, r in native(LEI)}
    for key in ("name", "identifiers", "country", "as_given", "status"):
        assert companies[PARENT].get(key) == xml_companies[PARENT].get(key)
    exception = [r for _, r in native(FIXTURES / "api-reporting-exceptions.json") if r.get("unknown_reason")]
    assert [(r["id"], r["unknown_reason"]) for r in exception] == [(f"{PARENT}:direct-parent", "NATURAL_PERSONS")]


def test_xml_problems_name_the_line_and_the_element(tmp_store: SqliteStore, tmp_path: Path) -> None:
    text = RR.read_text().replace("TESTCHILDB0000000072", "TESTCHILDB0000000073", 1)  # in the record at line 38: check digits
    text = text.replace("IS_FUND-MANAGED_BY", "IS_BEST_FRIEND_OF")  # the record at line 81
    text = text.replace("2019-03-01T00:00:00Z", "March 2019")
    text = text.replace("</rr:RelationshipData>", "</rr:RelationshipDat>")  # the last line, 125 (wc -l)
    path = tmp_path / "rr.xml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as info:
        ingest(tmp_store, load_file(path, strict=False))
    got = [str(p).removeprefix(f"{path}:") for p in info.value.problems]
    assert got == [
        "38: Relationship/StartNode/NodeID: 'TESTCHILDB0000000073' is not an LEI (20 characters, ISO 17442 check digits)",
        "81: Relationship/RelationshipType: expected one of IS_DIRECTLY_CONSOLIDATED_BY, IS_ULTIMATELY_CONSOLIDATED_BY, "
        "IS_FUND-MANAGED_BY, IS_SUBFUND_OF, IS_FEEDER_TO",
        "81: Relationship/RelationshipPeriods/RelationshipPeriod/StartDate: expected a date (YYYY, YYYY-MM, "
        "YYYY-MM-DD or a timestamp), got 'March 2019'",
        "125: (xml): not well-formed XML: mismatched tag",
    ]
    assert tmp_store.counts() == {}


def test_api_json_problems_point_into_the_document(tmp_path: Path) -> None:
    document = json.loads((FIXTURES / "api-relationship-records.json").read_text())
    relationship = document["data"][0]["attributes"]["relationship"]
    relationship["endNode"]["id"] = "NOT-AN-LEI"
    relationship["periods"][1]["startDate"] = "soon"
    path = tmp_path / "rr.json"
    path.write_text(json.dumps(document))
    problems = [str(item) for item in FORMAT.read(path) if not isinstance(item, tuple)]
    assert problems == [
        f"{path}:#/data/0/attributes/relationship/endNode/id: parent: 'NOT-AN-LEI' is not an LEI "
        "(20 characters, ISO 17442 check digits)",
        f"{path}:#/data/0/attributes/relationship/periods/1/startDate: valid_from: expected a date (YYYY, "
        "YYYY-MM, YYYY-MM-DD or a timestamp), got 'soon'",
    ]


def test_lei_check_digits() -> None:
    # ISO 17442: the 20 characters read as a number (A=10 ... Z=35) are 1 modulo 97.
    assert is_lei("TESTPARENT0000000020")
    assert not is_lei("TESTPARENT0000000021")
    assert not is_lei("testparent0000000020")


def test_a_record_nested_absurdly_deep_is_refused_not_recursed_into(tmp_path: Path) -> None:
    deep = "<x>" * 40 + "</x>" * 40  # GLEIF records nest 6 levels; 40 is a broken or hostile file
    text = LEI.read_text().replace("<lei:EntityStatus>ACTIVE</lei:EntityStatus>", deep, 1)
    path = tmp_path / "deep.xml"
    path.write_text(text)
    problems = [str(item) for item in FORMAT.read(path) if not isinstance(item, tuple)]
    assert problems == [f"{path}:8: (xml): a record is nested deeper than 32 levels"]  # the record at line 8
