"""The coverage report of an import (loaders.coverage): per kind of source record, what it became and what was not
imported and why; printed by `corpgraph load` and `convert`, written by `--report FILE.json`.

The figures are counted by hand from the fixtures: tests/fixtures/ftm/world.ftm.jsonl (its 16 lines are listed in
tests/test_import_ftm.py) and small BODS, GLEIF, STIX and VERIS documents written here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.loaders import readahead
from corpgraph.loaders.coverage import PLACEHOLDERS, Coverage
from corpgraph.loaders.formats import get_format
from corpgraph.loaders.validate import iter_batches, load_file
from tests.test_bods import company4, v3, v4, write

WORLD = Path(__file__).parent / "fixtures" / "ftm" / "world.ftm.jsonl"


def covered(fmt: str, path: Path) -> Coverage:
    """The coverage of reading the file in that format (every item read)."""
    coverage = Coverage(str(path), fmt)
    for _ in get_format(fmt).read(path, coverage):
        pass
    return coverage


def figures(coverage: Coverage, kind: str) -> dict[str, Any]:
    """One kind's figures as the JSON report gives them."""
    kinds: dict[str, dict[str, Any]] = coverage.as_dict()["kinds"]
    return kinds[kind]


def test_every_ftm_entity_is_accounted_for_by_its_schema() -> None:
    coverage = covered("ftm", WORLD)
    # acme and widget; anna; the ministry (a PublicBody); own-1..own-5 (own-6 links acme to a Vessel); dir-1.
    assert figures(coverage, "Company")["became"] == {"Company": 2}
    assert figures(coverage, "PublicBody")["became"] == {"Organization": 1}
    ownership = figures(coverage, "Ownership")
    assert (ownership["read"], ownership["imported"], ownership["became"]) == (6, 5, {"OWNS": 5})
    assert ownership["not_imported"] == {"a link to a Vessel, a schema corpgraph does not keep": 1}
    assert figures(coverage, "Directorship")["became"] == {"OFFICER_OF": 1}
    # Sanctions: sanc-1 (anna) and sanc-2 (shadow-corp) became designations; sanc-3 names a Vessel (issue 21).
    sanction = figures(coverage, "Sanction")
    assert (sanction["read"], sanction["imported"], sanction["became"]) == (3, 2, {"Sanction": 2})
    assert sanction["not_imported"] == {"a designation of a Vessel, a schema corpgraph does not keep": 1}
    assert figures(coverage, "Address")["not_imported"] == {"an address no entity of the file names": 1}
    assert sum(figures(coverage, "Vessel")["not_imported"].values()) == 1
    # ghost-holding (owner in own-4) and shadow-corp (sanc-2) are referenced but never defined.
    assert figures(coverage, PLACEHOLDERS)["became"] == {"Company": 2}
    whole = coverage.as_dict()
    assert (whole["read"], whole["imported"], whole["not_imported"]) == (16, 12, 4)


def test_the_report_reads_kind_count_and_fate() -> None:
    lines = covered("ftm", WORLD).lines()
    assert lines[0] == f"coverage of {WORLD} (ftm):"
    assert "  Ownership 5 -> OWNS 5" in lines
    assert "  Ownership 1 -> not imported: a link to a Vessel, a schema corpgraph does not keep" in lines
    assert "  (references left open) -> placeholders: Company 2" in lines


def test_a_reading_child_counts_what_the_process_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "spare_core", lambda: True)
    counts = []
    for threshold in (10**12, 0):  # in-process, then through a child
        monkeypatch.setattr(readahead, "MIN_BYTES", threshold)
        coverage = Coverage()
        _, batches = iter_batches(WORLD, 4, coverage=coverage)
        for _ in batches:
            pass
        counts.append(coverage.as_dict())
    assert counts[0]["read"] == 16 and counts[0] == counts[1]


def test_native_records_are_counted_as_their_own_kind(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    lines = [{"type": "Company", "id": "a", "name": "A"}, {"type": "Company", "id": "b", "name": "B"},
             {"type": "OWNS", "source": "a", "target": "b", "share": 0.5}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    coverage = Coverage()
    load_file(path, coverage=coverage)
    assert {k: (c["read"], c["became"]) for k, c in coverage.as_dict()["kinds"].items()} == {
        "Company": (2, {"Company": 2}), "OWNS": (1, {"OWNS": 1})}
    assert (coverage.format, coverage.file) == ("native", str(path))


def test_an_older_bods_statement_is_not_imported_and_says_why(tmp_path: Path) -> None:
    rel = {"subject": "A", "interestedParty": "B"}
    share = [{"type": "shareholding", "share": {"exact": 50}}]
    path = write(tmp_path / "late.json", [company4("A", "A"), company4("B", "B"),
        v4("s2", "rel", "relationship", {**rel, "interests": share}, date="2020-01-01"),
        v4("s1", "rel", "relationship", {**rel, "interests": share}, date="2019-01-01")])
    relationship = figures(covered("bods", path), "relationship statement")
    assert (relationship["read"], relationship["imported"], relationship["became"]) == (2, 1, {"OWNS": 1})
    assert relationship["not_imported"] == {"an older statement of a record already read": 1}


def test_stix_objects_around_an_incident_are_reported(tmp_path: Path) -> None:
    objects = [
        {"type": "incident", "id": "incident--1", "name": "Breach"},
        {"type": "intrusion-set", "id": "intrusion-set--1", "name": "APT X"},
        {"type": "malware", "id": "malware--1", "name": "Dropper"},
        {"type": "indicator", "id": "indicator--1", "pattern": "[file:name = 'x']"},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "attributed-to",
         "source_ref": "incident--1", "target_ref": "intrusion-set--1"},
        {"type": "relationship", "id": "relationship--2", "relationship_type": "uses",
         "source_ref": "intrusion-set--1", "target_ref": "malware--1"},
    ]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}))
    coverage = covered("stix", path)
    assert figures(coverage, "incident")["became"] == {"Incident": 1}
    assert figures(coverage, "intrusion-set")["became"] == {"Actor": 1}
    assert figures(coverage, "malware")["not_imported"] == {
        "corpgraph keeps no malware objects (threat intelligence, not parties or incidents)": 1}
    assert figures(coverage, "indicator")["imported"] == 0
    relationship = figures(coverage, "relationship")  # attributed-to made PERPETRATED; uses is not followed
    assert (relationship["read"], relationship["became"]) == (2, {"PERPETRATED": 1})
    assert [reason.startswith("`uses`") for reason in relationship["not_imported"]] == [True]


def test_veris_sections_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "incident.json"
    path.write_text(json.dumps({
        "incident_id": "X1", "schema_version": "1.3.4", "summary": "Tapes lost",
        "timeline": {"incident": {"year": 2013}}, "action": {"error": {"variety": ["Loss"]}},
        "actor": {"internal": {"variety": ["Unknown"]}}, "victim": {"victim_id": "Acme Corp", "country": ["US"]},
        "asset": {"assets": [{"variety": "M - Tapes"}]}, "discovery_method": {"external": {"variety": ["Unknown"]}}}))
    coverage = covered("veris", path)
    assert figures(coverage, "incident")["became"] == {"Incident": 1}
    assert figures(coverage, "victim")["became"] == {"Company": 1, "AFFECTED": 1, "RESPONSIBLE_FOR": 1}
    assert figures(coverage, "asset")["not_imported"] == {"corpgraph keeps no inventory of the assets hit": 1}
    assert figures(coverage, "timeline")["became"] == {"the incident's dates": 1}
    assert "schema_version" not in coverage.kinds


def test_load_prints_the_coverage_and_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "c.db"))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["load", str(WORLD), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "  Ownership 5 -> OWNS 5" in result.stdout
    [file] = json.loads(report.read_text())["files"]
    assert (file["format"], file["loaded"], file["read"], file["not_imported"]) == ("ftm", True, 16, 4)
    assert file["kinds"]["Sanction"]["read"] == 3


def test_convert_prints_the_coverage_on_stderr(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["convert", str(WORLD)])
    assert result.exit_code == 0, result.output
    assert "  Ownership 5 -> OWNS 5" in result.stderr and "coverage of" not in result.stdout
    assert len(result.stdout.splitlines()) == 10 + 2 + 2  # the 10 records and 2 designations imported, 2 placeholders


def test_properties_an_ftm_reader_does_not_keep_are_listed(tmp_path: Path) -> None:
    lines = [{"id": "p", "schema": "Person", "properties": {"name": ["P"], "birthDate": ["1970"], "gender": ["male"]}},
             {"id": "q", "schema": "Person", "properties": {"name": ["Q"], "birthDate": ["1980"]}},
             {"id": "v", "schema": "Vessel", "properties": {"name": ["V"]}},
             {"id": "o", "schema": "Ownership", "properties": {"owner": ["p"], "asset": ["v"], "sharesCount": ["5"]}}]
    path = tmp_path / "p.ftm.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    coverage = covered("ftm", path)
    assert figures(coverage, "Person")["parts_left_out"] == {"property not kept: birthDate": 2,
                                                             "property not kept: gender": 1}
    assert "  Person: properties not kept: birthDate 2, gender 1" in coverage.lines()
    # A link left out whole says why (its Vessel), not which of its properties would have been left out.
    assert figures(coverage, "Ownership")["not_imported"] == {"a link to a Vessel, a schema corpgraph does not keep": 1}


def test_bods_fields_no_mapping_reads_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path / "fields.json", [
        v3("e1", "entity", name="Fermcat", foundingDate="2001-02-03", annotations=[{"motivation": "commenting"}]),
        v3("p1", "person", names=[{"type": "individual", "fullName": "Ann"}], birthDate="1970-01")])
    coverage = covered("bods", path)
    assert figures(coverage, "entity statement")["parts_left_out"] == {"property not kept: annotations": 1,
                                                                       "property not kept: foundingDate": 1}
    assert figures(coverage, "person statement")["parts_left_out"] == {"property not kept: birthDate": 1}


def test_gleif_record_parts_no_mapping_reads_are_listed(tmp_path: Path) -> None:
    lei = Path(__file__).parent / "fixtures" / "gleif" / "lei.xml"
    text = lei.read_text().replace("<lei:LegalJurisdiction>", "<lei:EntityCreationDate>2001-02-03T00:00:00Z"
                                   "</lei:EntityCreationDate>\n<lei:LegalJurisdiction>", 1)
    path = tmp_path / "lei.xml"
    path.write_text(text)
    # The first record now gives its creation date; one record of the fixture gives its initial registration date.
    assert figures(covered("gleif", path), "LEIRecord")["parts_left_out"] == {
        "property not kept: Entity/EntityCreationDate": 1, "property not kept: Registration/InitialRegistrationDate": 1}


def test_placeholders_the_store_already_holds_are_reported_as_not_written(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # tests/fixtures/gleif: rr.xml names six LEIs (Parent, Child A, Child B, Fund, Manager, Outside), lei.xml defines
    # all but Outside. Loaded after lei.xml, rr.xml's six placeholders are counted, five of them already stored.
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "c.db"))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    gleif = Path(__file__).parent / "fixtures" / "gleif"
    report = tmp_path / "report.json"
    assert CliRunner().invoke(app, ["load", str(gleif / "lei.xml")]).exit_code == 0
    result = CliRunner().invoke(app, ["load", str(gleif / "rr.xml"), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "  (references left open) -> placeholders: Company 6 (5 already stored: not written)" in result.stdout
    assert "1 placeholder(s) made" in result.stdout
    [file] = json.loads(report.read_text())["files"]
    assert (file["kinds"][PLACEHOLDERS]["became"], file["placeholders_already_stored"]) == ({"Company": 6}, 5)
    again = CliRunner().invoke(app, ["load", str(gleif / "rr.xml")])  # Outside's placeholder is stored now too
    assert "  (references left open) -> placeholders: Company 6 (6 already stored: not written)" in again.stdout
