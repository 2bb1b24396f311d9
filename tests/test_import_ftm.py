"""FollowTheMoney entity streams: mapping, partial dates, history rows, sanctions, placeholders, problems.

The fixture tests/fixtures/ftm/world.ftm.jsonl (written for these tests) says:
acme owns 60% of widget from "2015"; anna owns 40% of widget from "2015-11" to 2019-06-30 and 25% from
2019-06-30; the ministry (a PublicBody) owns 10% of acme from 2020-01-01; ghost-holding (not in the
file) owns 25-50% of acme; anna chairs acme's board from "2014-05"; anna is sanctioned (sanc-1), and so is
shadow-corp (not in the file); acme owns a Vessel, which is sanctioned (neither kept: the link is dropped, no placeholder).
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
from corpgraph.loaders.formats.ftm import FORMAT
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Owns
from tests.factory import of_type
from tests.test_loaders import write_jsonl

WORLD = Path(__file__).parent / "fixtures" / "ftm" / "world.ftm.jsonl"


def records(path: Path) -> dict[str, dict[str, Any]]:
    """The native records of an FtM file by id (relations by their FtM source record id)."""
    out = {}
    for item in FORMAT.read(path):
        assert isinstance(item, tuple), item
        data = item[1]
        key = data.get("id") or data["sources"][0]["record_id"]
        out[key] = data
    return out


def direct(graph: CorpGraph, company: str, day: date) -> dict[str, float | None]:
    """owner id -> direct share of the company at that day (owners through others only are left out)."""
    return {h.owner: h.direct for h in graph.owners(company, as_of=day) if h.direct}


def test_an_ftm_stream_is_detected_from_its_content(tmp_path: Path) -> None:
    renamed = tmp_path / "export.txt"  # no telling suffix: the content decides
    renamed.write_bytes(WORLD.read_bytes())
    assert detect(renamed).name == "ftm"


def test_entities_keep_names_identifiers_topics_and_the_sanction_that_marks_them() -> None:
    got = records(WORLD)
    acme = got["ftm:acme"]
    assert (acme["type"], acme["name"], acme["aliases"], acme["country"]) == ("Company", "Acme Holding AG", ["Acme"], "CH")
    # leiCode -> LEI; registrationNumber is national: qualified by the company's country.
    assert acme["identifiers"] == [{"scheme": "LEI", "id": "TESTACME000000000077"},
                                   {"scheme": "CH-REGISTRATION", "id": "CHE-101.202.303"}]
    assert got["ftm:ministry"]["type"] == "Organization"
    anna = got["ftm:anna"]
    assert anna["topics"] == ["role.pep", "sanction"]  # its own topic, then the one its Sanction gives
    sanction = anna["sources"][1]
    assert (sanction["publisher"], sanction["title"], sanction["recorded_on"]) == (
        "Council of the EU", "Sanction: EU Widget Regime", "2022-03-15")


def test_partial_dates_are_read_as_their_first_day_and_kept_as_given() -> None:
    got = records(WORLD)
    assert (got["own-1"]["valid_from"], got["own-1"]["as_given"]) == ("2015-01-01", {"valid_from": "2015"})
    assert (got["own-2"]["valid_from"], got["own-2"]["valid_to"]) == ("2015-11-01", "2019-06-30")
    assert got["own-2"]["as_given"] == {"valid_from": "2015-11"}
    assert "as_given" not in got["own-3"]  # a full date needs no interpretation
    assert got["dir-1"] | {"sources": None} == {
        "type": "OFFICER_OF", "source": "ftm:anna", "target": "ftm:acme", "role": "Chair of the board",
        "valid_from": "2014-05-01", "as_given": {"valid_from": "2014-05"}, "sources": None}
    # "25-50" is a range: inclusive bounds, no point share.
    assert (got["own-4"]["share_min"], got["own-4"]["share_max"], "share" in got["own-4"]) == (0.25, 0.5, False)


def test_open_references_become_placeholders_and_links_to_things_not_kept_are_dropped() -> None:
    got = records(WORLD)
    assert got["ftm:ghost-holding"] == {"type": "Company", "id": "ftm:ghost-holding", "name": "ghost-holding",
                                        "placeholder": True}
    assert got["ftm:shadow-corp"]["topics"] == ["sanction"]  # sanctioned, published elsewhere
    assert "ftm:boat-1" not in got and "own-6" not in got  # a Vessel is no company
    assert "addr-1" not in got and "ftm:addr-1" not in got


def test_loaded_ftm_answers_owners_as_of_each_history_row(tmp_store: SqliteStore) -> None:
    summary = ingest(tmp_store, load_file(WORLD))
    assert summary.placeholders == 2  # ghost-holding, shadow-corp
    graph = CorpGraph(tmp_store)
    # 2015-06-01: acme's row started 2015-01-01 ("2015"); anna's first row only on 2015-11-01 ("2015-11").
    assert direct(graph, "ftm:widget", date(2015, 6, 1)) == {"ftm:acme": 0.6}
    assert direct(graph, "ftm:widget", date(2016, 1, 1)) == {"ftm:acme": 0.6, "ftm:anna": 0.4}
    # From 2019-06-30 anna's 40% row has ended and her 25% row runs: two OWNS, one per valid_from.
    assert direct(graph, "ftm:widget", date(2020, 6, 1)) == {"ftm:acme": 0.6, "ftm:anna": 0.25}
    anna_rows = tmp_store.relations_touching(["ftm:anna"], [RelationType.OWNS])
    assert sorted(str(of_type(Owns, r.record).valid_from) for r in anna_rows) == ["2015-11-01", "2019-06-30"]
    # The ministry holds 10% of acme, which holds 60% of widget: integrated 0.1 x 0.6 = 0.06.
    held = {h.company: h for h in graph.holdings("ftm:ministry", as_of=date(2021, 1, 1))}
    assert held["ftm:acme"].direct == pytest.approx(0.1)
    assert held["ftm:widget"].integrated == pytest.approx(0.06)


def test_a_second_load_changes_nothing(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, load_file(WORLD))
    counts = tmp_store.counts()
    ids = ["ftm:acme", "ftm:widget", "ftm:anna", "ftm:ministry", "ftm:ghost-holding", "ftm:shadow-corp"]
    before = {k: v.model_dump() for k, v in tmp_store.get_entities(ids).items()}
    again = ingest(tmp_store, load_file(WORLD))
    assert again.placeholders == 0
    assert tmp_store.counts() == counts
    # 6 entities: acme, widget, anna, ministry + the placeholders ghost-holding and shadow-corp;
    # 8 relations: own-1..own-5, dir-1 and the designations of sanc-1 (anna) and sanc-2 (shadow-corp); sanc-3
    # names a Vessel, which is not kept.
    assert counts == {"Company": 4, "Person": 1, "Organization": 1, "OWNS": 5, "OFFICER_OF": 1, "Sanction": 2}
    assert {k: v.model_dump() for k, v in tmp_store.get_entities(ids).items()} == before


def test_every_problem_of_an_ftm_file_comes_in_one_pass(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bad.ftm.jsonl",
        {"id": "x", "schema": "Company", "properties": {"name": ["X"]}},
        {"id": "o", "schema": "Ownership", "properties": {"owner": ["x"], "percentage": ["120"],
                                                          "startDate": ["sometime"]}},
        "{not json",
        {"id": "y", "schema": "Person", "properties": {"name": "Y"}},
        {"id": "x", "schema": "Company", "properties": {"name": ["X again"]}},
        {"id": "p", "schema": "Person", "properties": {"name": ["P"]}},
        {"id": "o2", "schema": "Ownership", "properties": {"owner": ["x"], "asset": ["p"], "percentage": ["50"],
                                                           "startDate": ["2012"], "endDate": ["2010"]}},
        {"id": "o3", "schema": "Ownership", "properties": {"owner": ["x"], "asset": ["p"], "percentage": ["50"]}},
    )
    with pytest.raises(InvalidInput) as info:
        ingest(tmp_store, load_file(path, strict=False))
    got = [str(p).removeprefix(f"{path}:") for p in info.value.problems]
    assert got == [
        "2: properties.asset: required: an FtM Ownership names its asset",
        "2: properties.startDate: expected a date (YYYY, YYYY-MM, YYYY-MM-DD or a timestamp), got 'sometime'",
        "2: properties.percentage: a percentage cannot exceed 100, got '120'",
        "3: (line): not valid JSON: Expecting property name enclosed in double quotes at column 2",
        "4: properties.name: expected a list of strings (FtM property values)",
        "5: id: 'x' is defined again (first at line 1); aggregate FtM fragments first (`ftm aggregate`)",
        "7: (record): valid_to must be after valid_from",
        "8: target: 'ftm:p' is a Person; OWNS target must be Company",
    ]
    assert tmp_store.counts() == {}


def test_convert_writes_what_the_import_loads(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from corpgraph.api.cli import app

    result = CliRunner().invoke(app, ["convert", "--format", "ftm", str(WORLD)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # 4 entities + 5 OWNS + 1 OFFICER_OF + 2 Sanction + 2 placeholders (the Vessel link and the Address are not
    # kept).
    assert len(lines) == 14


def test_cli_loads_ftm_and_searches_by_topic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from corpgraph.api.cli import app

    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "corpgraph.db"))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    runner = CliRunner()
    loaded = runner.invoke(app, ["load", str(WORLD)])
    assert loaded.exit_code == 0 and "ftm (detected from its content)" in loaded.stderr
    found = runner.invoke(app, ["search", "Anna", "--topic", "sanction"])
    assert found.stdout.split()[:2] == ["Person", "ftm:anna"]
    none = runner.invoke(app, ["search", "Anna", "--topic", "crime"])
    assert none.exit_code == 1 and "among those with topic crime" in none.stderr
