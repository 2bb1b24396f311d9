"""BODS 0.2/0.3/0.4 import: entities, shares and ranges, CONTROLS, the record lifecycle, declared indirect
interests, unknown parties, provenance, placeholders, errors. Fixtures are small statements written here."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from corpgraph.api.app import create_app
from corpgraph.api.cli import app
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.detect import detect
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Controls, DeclaredInterest, Owns, Person
from tests.factory import of_type
from tests.http_server import serving

PUB = {"publicationDate": "2020-02-01T10:00:00Z", "bodsVersion": "0.3", "publisher": {"name": "Test Register"}}


def v3(sid: str, kind: str, **fields: Any) -> dict[str, Any]:
    """A BODS 0.2/0.3 statement (kind: entity, person, ownershipOrControl)."""
    return {"statementID": sid, "statementType": f"{kind}Statement", "statementDate": "2019-01-01",
            "publicationDetails": PUB, **fields}


def v3_owns(sid: str, subject: str, party: str, *interests: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A 0.2/0.3 ownershipOrControlStatement: party holds the interests in subject (a person statement id if it starts with p)."""
    side = "describedByPersonStatement" if party.startswith("p") else "describedByEntityStatement"
    return v3(sid, "ownershipOrControl", subject={"describedByEntityStatement": subject},
              interestedParty={side: party}, interests=list(interests), **fields)


def v4(sid: str, record: str, kind: str, details: dict[str, Any], date: str = "2019-01-01",
       status: str = "new") -> dict[str, Any]:
    """A BODS 0.4 statement of a record."""
    return {"statementId": sid, "recordId": record, "recordType": kind, "recordStatus": status,
            "statementDate": date, "recordDetails": details,
            "publicationDetails": {"publicationDate": "2020-02-01", "bodsVersion": "0.4", "publisher": {"name": "R4"}}}


def company4(record: str, name: str) -> dict[str, Any]:
    """A 0.4 registered-entity record (its statement id is the record id with an s prefix)."""
    return v4("s" + record, record, "entity", {"entityType": {"type": "registeredEntity"}, "name": name,
                                               "isComponent": False})


def write(path: Path, statements: list[Any], lines: bool = False) -> Path:
    """A JSON array document (or JSON Lines) of statements (or of anything JSON, as a broken file holds)."""
    text = "\n".join(json.dumps(s) for s in statements) if lines else json.dumps(statements, indent=1)
    path.write_text(text, encoding="utf-8")
    return path


def native(path: Path) -> list[dict[str, Any]]:
    """The native records an import of the file makes (what `corpgraph convert` prints)."""
    return [item[1] for item in detect(path).read(path) if isinstance(item, tuple)]


def owners(store: SqliteStore, company: str, as_of: str | None = None) -> dict[str, float | None]:
    """Owner id -> direct share of a company, as the API answers."""
    day = date.fromisoformat(as_of) if as_of else None
    return {h.owner: h.direct for h in CorpGraph(store).owners(company, day)}


def test_bods_is_detected_in_every_version_and_shape(tmp_path: Path) -> None:
    assert detect(write(tmp_path / "a.json", [v3("e1", "entity", name="A")])).name == "bods"
    assert detect(write(tmp_path / "b.jsonl", [v3("e1", "entity", name="A")], lines=True)).name == "bods"
    assert detect(write(tmp_path / "c.json", [company4("r1", "A")])).name == "bods"


def indirect_example(tmp_path: Path) -> Path:
    """BODS 0.4's indirect-ownership example, restated: A is held 60% directly by B (a component),
    Person 1 holds B (interest unknown, a component) and declares 30% of A indirectly (the summary)."""
    return write(tmp_path / "indirect.json", [
        company4("A", "Company A"), company4("B", "Company B"),
        v4("sP", "P1", "person", {"personType": "knownPerson", "names": [{"type": "legal", "fullName": "Person 1"}]}),
        v4("s1", "rel-BA", "relationship", {"isComponent": True, "subject": "A", "interestedParty": "B",
           "interests": [{"type": "shareholding", "directOrIndirect": "direct", "share": {"exact": 60},
                          "startDate": "2017-11-01"}]}),
        v4("s2", "rel-PB", "relationship", {"isComponent": True, "subject": "B", "interestedParty": "P1",
           "interests": [{"directOrIndirect": "unknown"}]}),
        v4("s3", "rel-PA", "relationship", {"isComponent": False, "subject": "A", "interestedParty": "P1",
           "interests": [{"type": "shareholding", "directOrIndirect": "indirect", "share": {"exact": 30},
                          "startDate": "2017-11-01"}], "componentRecords": ["B", "rel-BA", "rel-PB"]}),
    ])


def test_indirect_summary_is_declared_not_an_edge(tmp_store: SqliteStore, tmp_path: Path) -> None:
    ingest(tmp_store, load_file(indirect_example(tmp_path)))
    # A's only OWNS edge is B's 60%; Person 1 holds B with an unknown interest (no share), so Person 1 has no
    # computed share of A: owners() lists it with none, beside its declared 30% (docs/analytics.md).
    assert owners(tmp_store, "bods:A") == {"bods:B": 0.6, "bods:P1": None}
    person = {h.owner: h for h in CorpGraph(tmp_store).owners("bods:A")}["bods:P1"]
    assert [(d.kind, d.share) for d in person.declared] == [("indirect_ownership", 0.3)]
    declared = [of_type(DeclaredInterest, r.record)
                for r in tmp_store.relations_touching(["bods:A"], [RelationType.DECLARED_INTEREST])]
    assert [(d.source, d.kind, d.share) for d in declared] == [("bods:P1", "indirect_ownership", 0.3)]
    (control,) = tmp_store.relations_touching(["bods:B"], [RelationType.CONTROLS])
    assert (control.record.source, of_type(Controls, control.record).kind) == ("bods:P1", "unknownInterest")
    assert tmp_store.counts()["OWNS"] == 1


def test_ranges_keep_their_bounds_and_exclusivity(tmp_path: Path) -> None:
    path = write(tmp_path / "ranges.json", [
        v3("e1", "entity", name="Target"), v3("p1", "person", names=[{"fullName": "Ann"}]),
        # 0.3: exclusiveMinimum defaults to false, exclusiveMaximum to true: 75 <= share < 100.
        v3_owns("o1", "e1", "p1", {"type": "shareholding", "share": {"minimum": 75, "maximum": 100}}),
        v3_owns("o2", "e1", "p1", {"type": "voting-rights", "share": {"minimum": 25, "maximum": 50,
                                                                       "exclusiveMinimum": True,
                                                                       "exclusiveMaximum": False}}),
    ])
    records = {r["type"]: r for r in native(path) if "source" in r}
    assert (records["OWNS"].get("share"), records["OWNS"]["share_min"], records["OWNS"]["share_max"]) == (None, 0.75, 1.0)
    assert records["OWNS"]["as_given"] == {"share": ">= 75% and < 100%"}
    assert (records["CONTROLS"]["kind"], records["CONTROLS"]["share_min"], records["CONTROLS"]["share_max"]) == \
        ("votingRights", 0.25, 0.5)
    assert records["CONTROLS"]["as_given"] == {"share": "> 25% and <= 50%"}


def test_0_4_bounds_are_inclusive_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "r4.json", [company4("A", "A"), company4("B", "B"),
        v4("s1", "rel", "relationship", {"subject": "A", "interestedParty": "B", "interests": [
            {"type": "shareholding", "share": {"minimum": 75, "maximum": 100}},
            {"type": "votingRights", "share": {"exclusiveMinimum": 50, "maximum": 75}}]})])
    owns, votes = [r for r in native(path) if "source" in r]
    assert (owns["share_min"], owns["share_max"], owns["as_given"]) == (0.75, 1.0, {"share": ">= 75% and <= 100%"})
    assert (votes["share_min"], votes["share_max"], votes["as_given"]) == (0.5, 0.75, {"share": "> 50% and <= 75%"})


def fermcat(tmp_path: Path) -> Path:
    """A Fermcat-style history in 0.3: Ann holds 50% from 2015; a statement of 2020-06-01 replaces it with 100%."""
    return write(tmp_path / "fermcat.json", [
        v3("e1", "entity", name="Fermcat", identifiers=[{"scheme": "GB-COH", "id": "0101"}]),
        v3("p1", "person", names=[{"type": "individual", "fullName": "Ann"}]),
        v3_owns("o1", "e1", "p1", {"type": "shareholding", "startDate": "2015-03-01", "share": {"exact": 50}}),
        v3_owns("o2", "e1", "p1", {"type": "shareholding", "startDate": "2015-03-01", "share": {"exact": 100}},
                replacesStatements=["o1"], statementDate="2020-06-01T09:30:00+02:00"),
    ])


def test_a_changed_share_ends_the_old_stake_at_the_update(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = fermcat(tmp_path)
    ingest(tmp_store, load_file(path))
    assert owners(tmp_store, "bods:e1", "2019-12-31") == {"bods:p1": 0.5}
    assert owners(tmp_store, "bods:e1", "2020-06-01") == {"bods:p1": 1.0}
    held = [of_type(Owns, r.record) for r in tmp_store.relations_touching(["bods:e1"], [RelationType.OWNS])]
    stakes = sorted((str(r.valid_from), r.valid_to and r.valid_to.isoformat(), r.share) for r in held)
    assert stakes == [("2015-03-01", "2020-06-01", 0.5), ("2020-06-01", None, 1.0)]
    before = tmp_store.counts()
    ingest(tmp_store, load_file(path))
    assert tmp_store.counts() == before  # a second load changes nothing


def test_0_4_updates_and_closing_by_record_id(tmp_store: SqliteStore, tmp_path: Path) -> None:
    rel = {"subject": "A", "interestedParty": "B"}
    path = write(tmp_path / "life4.json", [company4("A", "A"), company4("B", "B"),
        v4("s1", "rel", "relationship", {**rel, "interests": [{"type": "shareholding", "share": {"exact": 50},
                                                                "startDate": "2016-01-01"}]}, date="2016-01-05"),
        v4("s2", "rel", "relationship", {**rel, "interests": [{"type": "shareholding", "share": {"exact": 100},
                                                                "startDate": "2016-01-01"}]},
           date="2018-04-01", status="updated"),
        v4("s3", "rel", "relationship", {**rel, "interests": [{"type": "shareholding", "share": {"exact": 100},
                                                                "startDate": "2016-01-01"}]},
           date="2021-09-30T23:59:00Z", status="closed"),
    ])
    ingest(tmp_store, load_file(path))
    assert owners(tmp_store, "bods:A", "2017-01-01") == {"bods:B": 0.5}
    assert owners(tmp_store, "bods:A", "2019-01-01") == {"bods:B": 1.0}
    assert owners(tmp_store, "bods:A", "2021-10-01") == {}  # closed at the closing statement's date
    (stake,) = [o for r in tmp_store.relations_touching(["bods:A"], [RelationType.OWNS])
                if (o := of_type(Owns, r.record)).share == 1.0]
    assert [s.record_id for s in stake.sources] == ["s2", "s3"]  # both statements that stated it


def test_unspecified_party_is_an_unknown_owner_with_its_reason(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "unknown.json", [
        v3("e1", "entity", name="Held"),
        v3("u1", "ownershipOrControl", subject={"describedByEntityStatement": "e1"},
           interestedParty={"unspecified": {"reason": "interestedPartyHasNotProvidedInformation"}},
           interests=[{"type": "shareholding", "share": {"exact": 50}}]),
    ])
    ingest(tmp_store, load_file(path))
    assert owners(tmp_store, "bods:e1") == {"bods:u1.unspecified": None}
    party = tmp_store.get_entities(["bods:u1.unspecified"])["bods:u1.unspecified"]
    assert party.unknown_reason == "interestedPartyHasNotProvidedInformation"
    (stake,) = tmp_store.relations_touching(["bods:e1"], [RelationType.OWNS])
    assert stake.record.as_given == {"share": "50%"}  # the figure is kept as given, never as a number


def test_0_2_spellings_timestamps_identifiers_and_provenance(tmp_path: Path) -> None:
    source = {"type": ["officialRegister", "verified"], "description": "DK CVR", "url": "http://cvr.example"}
    path = write(tmp_path / "dk.jsonl", [
        v3("e1", "entity", name="Dansk A/S", entityType="registeredEntity", source=source,
           identifiers=[{"id": "12345678", "schemeName": "DK Centrale Virksomhedsregister"},
                        {"id": "00TR8NKAEL48RGTZEW89", "scheme": "XI-LEI"}]),
        v3("g1", "entity", name="Kongeriget", entityType="state"),
        v3_owns("o1", "e1", "g1", {"type": "voting-rights", "startDate": "2005-03-23T08:00:00+01:00",
                                   "share": {"exact": 26.150000000000002}}, source=source),
    ], lines=True)
    company, state, votes = native(path)
    assert company["identifiers"] == [{"scheme": "DK-CVR", "id": "12345678"}, {"scheme": "LEI", "id": "00TR8NKAEL48RGTZEW89"}]
    assert company["sources"] == [{"publisher": "Test Register", "title": "DK CVR", "url": "http://cvr.example",
                                   "published_on": "2020-02-01", "record_id": "e1", "recorded_on": "2019-01-01",
                                   "source_type": "officialRegister,verified"}]
    assert (state["type"], state["kind"]) == ("Organization", "state")
    assert (votes["type"], votes["kind"], votes["share"]) == ("CONTROLS", "votingRights", 0.2615)
    assert (votes["valid_from"], votes["as_given"]) == ("2005-03-23", {"valid_from": "2005-03-23T08:00:00+01:00"})


def test_open_references_become_placeholders_completed_later(tmp_store: SqliteStore, tmp_path: Path) -> None:
    first = write(tmp_path / "excerpt.json", [
        v3("e1", "entity", name="Held"),
        v3_owns("o1", "e1", "p9", {"type": "shareholding", "share": {"exact": 20}}),
    ])
    assert ingest(tmp_store, load_file(first)).placeholders == 1
    ghost = of_type(Person, tmp_store.get_entities(["bods:p9"])["bods:p9"])
    assert (ghost.type, ghost.name, ghost.placeholder) == ("Person", "p9", True)
    assert ingest(tmp_store, load_file(first)).placeholders == 0
    ingest(tmp_store, load_file(write(tmp_path / "people.json", [v3("p9", "person", names=[{"fullName": "Nine"}])])))
    assert tmp_store.get_entities(["bods:p9"])["bods:p9"].name == "Nine"
    assert owners(tmp_store, "bods:e1") == {"bods:p9": 0.2}


def test_every_problem_points_into_the_document(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", [
        v3("e1", "entity", name="Held"),
        v3("p1", "person", names=[{"fullName": "Ann"}]),
        v3_owns("o1", "e1", "p1", {"type": "shareholding", "share": {"exact": 150}}),
        v3_owns("o2", "e1", "p1", {"type": "shareholding", "startDate": "2019-13-01"}),
        # a subject that is a person: the reference check runs on the records that did validate
        v3("o3", "ownershipOrControl", subject={"describedByEntityStatement": "p1"},
           interestedParty={"describedByEntityStatement": "e1"}, interests=[{"type": "shareholding"}]),
    ])
    with pytest.raises(InvalidInput) as info:
        ingest(tmp_store, load_file(path, strict=False))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:#/2/interests/0/share: share: a BODS share is a number of percent (0 to 100), got 150",
        f"{path}:#/3/interests/0/startDate: valid_from: not a calendar date: '2019-13-01'",
        f"{path}:#/4/interests/0: target: 'bods:p1' is a Person; OWNS target must be Company",
    ]
    assert tmp_store.counts() == {}


def test_a_file_that_is_not_bods_statements(tmp_path: Path) -> None:
    path = write(tmp_path / "odd.json", [v3("e1", "entity", name="A"), {"statementID": "x", "statementType": "memo"}, 3])
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:#/1: statementType: not a BODS statement type: 'memo'",
        f"{path}:#/2: (statement): expected a BODS statement (a JSON object)",
    ]


def test_owners_over_graphql_http(tmp_store: SqliteStore, tmp_path: Path) -> None:
    ingest(tmp_store, load_file(indirect_example(tmp_path)))
    ingest(tmp_store, load_file(fermcat(tmp_path)))
    query = """query($id: ID!, $day: Date) { owners(companyId: $id, asOf: $day) { owner { id name } direct integrated } }"""
    client = httpx.Client(trust_env=False, timeout=30)  # a proxy in the environment must not take 127.0.0.1
    with serving(create_app(store=tmp_store)) as url:
        def ask(company: str, day: str | None = None) -> Any:
            answer = client.post(f"{url}/graphql", json={"query": query, "variables": {"id": company, "day": day}})
            assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
            return answer.json()["data"]["owners"]
        # Company A: 60% directly by B; Person 1's 30% is declared, not an edge: listed with no computed share.
        assert ask("bods:A") == [{"owner": {"id": "bods:B", "name": "Company B"}, "direct": 0.6, "integrated": 0.6},
                                 {"owner": {"id": "bods:P1", "name": "Person 1"}, "direct": None, "integrated": None}]
        # Fermcat: 50% before the update of 2020-06-01, 100% from it.
        assert [o["direct"] for o in ask("bods:e1", "2020-05-31")] == [0.5]
        assert [o["direct"] for o in ask("bods:e1", "2020-06-01")] == [1.0]


def test_a_replacing_entity_statement_keeps_the_first_id(tmp_store: SqliteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "renamed.json", [
        v3("e1", "entity", name="Old Name Ltd"),
        v3("e2", "entity", name="New Name Ltd", replacesStatements=["e1"]),
        v3("p1", "person", names=[{"fullName": "Ann"}]),
        v3_owns("o1", "e2", "p1", {"type": "shareholding", "share": {"exact": 40}}),
    ])
    ingest(tmp_store, load_file(path))
    assert tmp_store.get_entities(["bods:e1"])["bods:e1"].name == "New Name Ltd"
    assert "bods:e2" not in tmp_store.get_entities(["bods:e2"])
    assert owners(tmp_store, "bods:e1") == {"bods:p1": 0.4}


def test_cli_detects_bods_reports_placeholders_and_converts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "cli.db"))
    path = write(tmp_path / "excerpt.jsonl", [
        v3("e1", "entity", name="Held"),
        v3_owns("o1", "e1", "p9", {"type": "shareholding", "share": {"exact": 20}}),
    ], lines=True)
    loaded = CliRunner().invoke(app, ["load", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert f"{path}: bods (detected from its content)" in loaded.stderr
    assert "1 placeholder(s) made" in loaded.stdout
    converted = CliRunner().invoke(app, ["convert", str(path)])
    records = [json.loads(line) for line in converted.stdout.splitlines()]
    assert [r.get("id", r["type"]) for r in records] == ["bods:e1", "OWNS", "bods:p9"]
