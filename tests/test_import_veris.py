"""VERIS incidents: hand-made records (not VCDB's) with every expected value worked out below."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.detect import detect
from corpgraph.loaders.formats.incident_parts import name_id
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Actor, Company, Incident, Organization
from tests.factory import of_type

LEAK: dict[str, Any] = {
    "incident_id": "AAAA-1", "schema_version": "1.3.7", "source_id": "vcdb", "security_incident": "Confirmed",
    "summary": "Kaola Credit sold personal data.",
    "reference": "https://news.example.com/a; http://other.example.org/b",
    "timeline": {"incident": {"year": 2019, "month": 11}},
    "victim": {"victim_id": "考拉征信", "country": ["CN"], "industry": "522390",
               "secondary": {"amount": 1, "victim_id": ["Lakala Payment Co., Ltd.;522320", ";522110"]}},
    "action": {"hacking": {"variety": ["Use of stolen creds"], "vector": ["Web application"]},
               "misuse": {"variety": ["Data mishandling"]}},
    "actor": {"external": {"variety": ["Organized crime"], "name": ["Crew A"]}, "internal": {"variety": ["Unknown"]}},
    "attribute": {"confidentiality": {"data_disclosure": "Yes", "data_total": 100,
                                      "data": [{"variety": "Personal", "amount": 80}, {"variety": "Bank", "amount": 70},
                                               {"variety": "Unknown"}]}},
    "plus": {"modified": "2020-01-02T03:04:05Z"},
}
OUTAGE: dict[str, Any] = {
    "incident_id": "BBBB-2", "schema_version": "1.3.7", "security_incident": "Suspected",
    "timeline": {"incident": {"year": 2020, "month": 2, "day": 3}},
    "victim": {"victim_id": "Unknown", "country": ["NA"], "industry": "921190", "government": ["NA"]},
    "action": {"environmental": {"variety": ["Power failure"]}},
    "actor": {"external": {"variety": ["Force majeure"], "name": "Unknown"}},
    "attribute": {"availability": {"variety": ["Interruption"], "duration": {"unit": "Days", "value": 1.5}},
                  "confidentiality": {"data_total": "Unknown"}},
}
KAOLA = name_id("veris:victim", "考拉征信")


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def loaded(tmp_store: SqliteStore, tmp_path: Path) -> SqliteStore:
    """Both incidents, as a JSON array, in an empty store."""
    ingest(tmp_store, load_file(_write(tmp_path / "vcdb.json", [LEAK, OUTAGE])))
    return tmp_store


def _pairs(store: SqliteStore, type: str, incident: str) -> set[tuple[str, str]]:
    return {(r.record.source, r.record.target) for r in store.relations_touching([incident], [RelationType(type)])}


def test_detected_as_one_object_an_array_or_lines(tmp_path: Path) -> None:
    one = tmp_path / "one.txt"
    one.write_text(json.dumps(LEAK, indent=2))  # pretty-printed over many lines, as VCDB ships it
    lines = tmp_path / "lines.txt"
    lines.write_text(json.dumps(LEAK) + "\n" + json.dumps(OUTAGE) + "\n")
    for path in (one, lines, _write(tmp_path / "array.txt", [LEAK])):
        assert detect(path).name == "veris"
    assert len(load_file(lines).entities) == len(load_file(_write(tmp_path / "array.json", [LEAK, OUTAGE])).entities)


def test_leak_figures_category_and_timeline(loaded: SqliteStore) -> None:
    leak = of_type(Incident, loaded.get_entities(["veris:AAAA-1"])["veris:AAAA-1"])
    assert (leak.category, leak.determination) == ("data_leak", "confirmed")  # data disclosed wins over hacking
    assert leak.records_affected == 100  # data_total
    assert leak.records_affected_max == 150  # max(100, 80 + 70): the record contradicts itself
    assert (str(leak.occurred_on), leak.as_given["occurred_on"]) == ("2019-11-01", "2019-11")
    assert leak.incident_types == ["hacking: Use of stolen creds", "misuse: Data mishandling"]
    # one impact per data variety given ("Unknown" is none), disclosed: a confirmed loss
    assert [(i.information_type, i.loss_type, i.record_count) for i in leak.impacts] == [
        ("Personal", "confirmed-loss", 80), ("Bank", "confirmed-loss", 70)]
    assert leak.name == "考拉征信: data leak (2019-11)"
    assert [s.url for s in leak.sources] == [None, "https://news.example.com/a", "http://other.example.org/b"]
    assert (leak.sources[0].publisher, str(leak.sources[0].recorded_on)) == ("VERIS Community Database (VCDB)", "2020-01-02")


def test_outage_duration_and_sentinels(loaded: SqliteStore) -> None:
    outage = of_type(Incident, loaded.get_entities(["veris:BBBB-2"])["veris:BBBB-2"])
    assert (outage.category, outage.determination) == ("outage", "suspected")
    assert (outage.duration_hours, outage.as_given["duration_hours"]) == (36.0, "1.5 Days")  # 1.5 x 24
    assert outage.records_affected is None and outage.records_affected_max is None  # "Unknown" is no number
    assert "occurred_on" not in outage.as_given  # a full date needs no note
    victim = of_type(Organization, loaded.get_entities(["veris:BBBB-2:victim"])["veris:BBBB-2:victim"])
    # unnamed ("Unknown"), public administration (NAICS 92), "NA" is Namibia in VERIS's country list
    assert (victim.type, victim.kind, victim.country) == ("Organization", "government", "NA")
    assert victim.unknown_reason == "the VERIS record does not name its victim"


def test_victims_and_actors(loaded: SqliteStore) -> None:
    lakala = name_id("veris:victim", "Lakala Payment Co., Ltd.")
    assert lakala == "veris:victim:lakala-payment-co-ltd"
    assert _pairs(loaded, "AFFECTED", "veris:AAAA-1") == {("veris:AAAA-1", KAOLA), ("veris:AAAA-1", lakala)}
    assert _pairs(loaded, "RESPONSIBLE_FOR", "veris:AAAA-1") == {(KAOLA, "veris:AAAA-1")}  # the primary victim only
    assert _pairs(loaded, "PERPETRATED", "veris:AAAA-1") == {
        ("veris:actor:crew-a", "veris:AAAA-1"), ("veris:AAAA-1:actor", "veris:AAAA-1")}
    got = loaded.get_entities(["veris:actor:crew-a", "veris:AAAA-1:actor", "veris:BBBB-2:actor"])
    actors = {key: of_type(Actor, record) for key, record in got.items()}
    assert (actors["veris:actor:crew-a"].known, actors["veris:actor:crew-a"].kind) == (True, "external")
    assert (actors["veris:AAAA-1:actor"].known, actors["veris:AAAA-1:actor"].kind) == (False, "internal")
    assert actors["veris:BBBB-2:actor"].kind == "external"  # a name "Unknown" is no name
    assert of_type(Company, loaded.get_entities([KAOLA])[KAOLA]).country == "CN"


def test_second_load_changes_nothing(loaded: SqliteStore, tmp_path: Path) -> None:
    before = (loaded.counts(), loaded.get_entities(["veris:AAAA-1", KAOLA]))
    ingest(loaded, load_file(_write(tmp_path / "vcdb.json", [LEAK, OUTAGE])))
    assert (loaded.counts(), loaded.get_entities(["veris:AAAA-1", KAOLA])) == before


def test_problems_point_at_the_source_value(tmp_path: Path) -> None:
    bad = {**OUTAGE, "incident_id": "CCCC-3", "attribute": {"confidentiality": {"data_total": "lots"}}}
    path = _write(tmp_path / "bad.json", [LEAK, bad, {"summary": "no id"}])
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:#/1/attribute/confidentiality/data_total: data_total: expected a whole number of records, got 'lots'",
        f"{path}:#/2: incident_id: a VERIS incident needs a non-empty string incident_id"]
    lines = tmp_path / "bad.jsonl"
    lines.write_text(json.dumps(LEAK) + "\n{not json\n")
    with pytest.raises(InvalidInput) as info:
        load_file(lines, format="veris")
    assert str(info.value.problems[0]).startswith(f"{lines}:2: (line): not valid JSON")


def test_a_victim_named_in_two_files_is_one_record_whatever_the_order(tmp_store: SqliteStore, tmp_path: Path) -> None:
    other = {**OUTAGE, "incident_id": "DDDD-4", "source_id": "vcdb", "victim": {"victim_id": "考拉征信", "country": ["CN"]}}
    first, second = _write(tmp_path / "1.json", LEAK), _write(tmp_path / "2.json", other)
    ingest(tmp_store, load_file(first))
    alone = tmp_store.get_entities([KAOLA])[KAOLA]
    ingest(tmp_store, load_file(second))
    assert tmp_store.get_entities([KAOLA])[KAOLA] == alone  # its incidents' sources sit on the relations
    assert alone.sources[0].title == "VERIS victim named '考拉征信'"
    assert len(tmp_store.relations_touching([KAOLA], [RelationType.AFFECTED])) == 2


def test_a_truncated_or_latin1_pretty_printed_veris_file_is_one_problem_saying_so(tmp_path: Path) -> None:
    sample = Path("/work/shared/realdata/veris/vcdb-29DF0C8F-3828-4F1E-AC22-24AFAF7B3D14.json").read_bytes()
    assert sample.lstrip().startswith(b"{") and sample.count(b"\n") > 20  # pretty-printed, one incident
    cut = tmp_path / "cut.json"
    cut.write_bytes(sample[:1000])
    lines = sample[:1000].count(b"\n") + 1  # the document ends on this line
    with pytest.raises(InvalidInput) as info:
        load_file(cut, format="veris")
    # main: about 100 "(line): not valid JSON" problems, one per line of the document
    assert [str(p) for p in info.value.problems] == [
        f"{cut}:#: (document): truncated: the JSON document ends at line {lines} before "
        "its value is complete (1,000 bytes read); the file was cut short"]
    latin = tmp_path / "latin.json"
    at = sample.index(b'"summary"') + 12  # inside the summary's text
    latin.write_bytes(sample[:at] + "é".encode("latin-1") + sample[at:])
    with pytest.raises(InvalidInput) as info:
        load_file(latin, format="veris")
    assert [str(p) for p in info.value.problems] == [
        f"{latin}:#: (document): not UTF-8 at byte {at + 1:,} of the file; save the file as UTF-8"]
