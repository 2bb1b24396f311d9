"""STIX 2.1 bundles: a hand-made bundle whose every expected record is worked out below."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.detect import detect
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.records import Company, Incident, Organization
from tests.factory import of_type

EXT = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
T = "2019-04-01T10:00:00.000Z"


def obj(type: str, key: str, **fields: Any) -> dict[str, Any]:
    """A STIX object with a readable id (`type--key`) and the common properties."""
    return {"type": type, "spec_version": "2.1", "id": f"{type}--{key}", "created": T, "modified": T, **fields}


def rel(key: str, kind: str, source: str, target: str) -> dict[str, Any]:
    """A STIX relationship."""
    return obj("relationship", key, relationship_type=kind, source_ref=source, target_ref=target)


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    """A STIX bundle of the objects."""
    return {"type": "bundle", "id": "bundle--test", "objects": list(objects)}


# Two incidents in the two published incident-core spellings, an attribution chain three deep that
# ends outside the bundle, victims by `targets`, `impacts` and an impact object, and an `owns`.
BUNDLE = bundle(
    obj("identity", "cert", name="CERT Example", identity_class="organization"),
    obj("incident", "leak", name="Payment data leak", description="Card data taken.", created_by_ref="identity--cert",
        external_references=[{"source_name": "news", "url": "https://news.example.com/leak", "description": "Article"}],
        extensions={EXT: {"extension_type": "property-extension", "determination": "confirmed",
                          "investigation_status": "closed", "incident_types": ["data-breach"],
                          "attacker_activities": [{"start_time": "2019-03-04T08:00:00Z", "end_time": "2019-03-09T10:00:00Z"},
                                                  {"start_time": "2019-03-01T23:59:00Z"}],
                          "confidentiality_impacts": [
                              {"information_type": "pii", "loss_type": "confirmed-loss", "record_count": 1000},
                              {"information_type": "credentials", "loss_type": "suspected-loss", "record_count": 500}]}}),
    obj("incident", "ransom", name="Ransomware", extensions={EXT: {
        "extension_type": "property-extension", "determination": "suspected", "investigation_status": "open",
        "incident_types": ["ransomware"], "impact_refs": ["impact--down", "impact--paid", "impact--demand"]}}),
    obj("impact", "down", impact_category="availability", impacted_refs=["identity--absent"],
        extensions={"availability": {"availability_impact": 80}}),
    obj("impact", "demand", impact_category="monetary", superseded_by_ref="impact--paid",
        extensions={"monetary": {"currency": "usd", "max_amount": 14000, "variety": "ransom-demand"}}),
    obj("impact", "paid", impact_category="monetary",
        extensions={"monetary": {"currency": "usd", "max_amount": 10000, "variety": "ransom-payment"}}),
    obj("intrusion-set", "x", name="Group X", aliases=["GX", "Group Ex"]),
    obj("threat-actor", "y", name="Actor Y", threat_actor_types=["crime-syndicate"]),
    obj("identity", "lakala", name="Lakala Payment Co., Ltd.", identity_class="organization",
        sectors=["financial-services"]),
    obj("location", "cn", country="cn"),
    obj("identity", "ministry", name="Ministry of Data", identity_class="organization", sectors=["government-national"]),
    obj("identity", "anna", name="Anna", identity_class="individual"),
    obj("infrastructure", "srv", name="Server"),
    obj("report", "r", name="Report R", published="2019-05-01T00:00:00Z", object_refs=["intrusion-set--x"]),
    rel("1", "attributed-to", "incident--leak", "intrusion-set--x"),
    rel("2", "attributed-to", "intrusion-set--x", "threat-actor--y"),
    rel("3", "attributed-to", "threat-actor--y", "threat-actor--z"),
    rel("4", "attributed-to", "incident--ransom", "threat-actor--y"),
    rel("5", "targets", "incident--leak", "identity--lakala"),
    rel("6", "impacts", "incident--leak", "identity--ministry"),
    rel("7", "owns", "identity--lakala", "infrastructure--srv"),
    rel("8", "located-at", "identity--lakala", "location--cn"),
)


def _write(tmp_path: Path, data: Any, name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def loaded(tmp_store: SqliteStore, tmp_path: Path) -> SqliteStore:
    """The bundle loaded into an empty store."""
    ingest(tmp_store, load_file(_write(tmp_path, BUNDLE)))
    return tmp_store


def _relations(store: SqliteStore, type: str) -> set[tuple[str, ...]]:
    ids = [f"stix:{x}" for x in ("incident--leak", "incident--ransom")]
    from corpgraph.schema.kinds import RelationType
    return {(r.record.source, r.record.target) for r in store.relations_touching(ids, [RelationType(type)])}


def test_detected_from_content(tmp_path: Path) -> None:
    assert detect(_write(tmp_path, BUNDLE, "no-telling-name.txt")).name == "stix"


def test_incident_core_fields_in_both_spellings(loaded: SqliteStore) -> None:
    leak = of_type(Incident, loaded.get_entities(["stix:incident--leak"])["stix:incident--leak"])
    assert (leak.category, leak.determination, leak.investigation_status) == ("data_leak", "confirmed", "closed")
    assert leak.records_affected == 1500  # 1000 pii + 500 credentials
    assert [(i.information_type, i.loss_type, i.record_count) for i in leak.impacts] == [
        ("pii", "confirmed-loss", 1000), ("credentials", "suspected-loss", 500)]
    # earliest attacker start, latest end; the timestamps themselves kept as given
    assert (str(leak.occurred_on), str(leak.ended_on)) == ("2019-03-01", "2019-03-09")
    assert leak.as_given["occurred_on"] == "2019-03-01T23:59:00Z"
    ransom = of_type(Incident, loaded.get_entities(["stix:incident--ransom"])["stix:incident--ransom"])
    assert (ransom.category, ransom.incident_types) == ("intrusion", ["ransomware"])
    # the superseded demand is an earlier estimate of the payment: only the payment counts
    assert [(a.value, a.currency, a.label) for a in ransom.amounts] == [(10000, "USD", "ransom-payment")]
    assert [i.category for i in ransom.impacts] == ["availability", "monetary"]


def test_identities_by_class_and_sector(loaded: SqliteStore) -> None:
    got = loaded.get_entities(["stix:identity--lakala", "stix:identity--ministry", "stix:identity--anna"])
    assert [type(got[k]).__name__ for k in ("stix:identity--lakala", "stix:identity--ministry", "stix:identity--anna")] == [
        "Company", "Organization", "Person"]
    assert of_type(Company, got["stix:identity--lakala"]).country == "CN"  # from its located-at location
    assert of_type(Organization, got["stix:identity--ministry"]).kind == "government-national"


def test_perpetrators_along_the_attribution_chain(loaded: SqliteStore) -> None:
    # leak -> X -> Y -> Z (Z not in the bundle: a placeholder); ransom -> Y -> Z
    assert _relations(loaded, "PERPETRATED") == {
        ("stix:intrusion-set--x", "stix:incident--leak"), ("stix:threat-actor--y", "stix:incident--leak"),
        ("stix:threat-actor--z", "stix:incident--leak"), ("stix:threat-actor--y", "stix:incident--ransom"),
        ("stix:threat-actor--z", "stix:incident--ransom")}
    actors = loaded.get_entities(["stix:intrusion-set--x", "stix:threat-actor--z"])
    assert actors["stix:intrusion-set--x"].aliases == ["GX", "Group Ex"]
    assert actors["stix:threat-actor--z"].placeholder is True
    assert actors["stix:intrusion-set--x"].sources[0].title == "Report R"  # the report that contains it


def test_victims_are_affected_and_owns_is_not_ownership(loaded: SqliteStore) -> None:
    assert _relations(loaded, "AFFECTED") == {
        ("stix:incident--leak", "stix:identity--lakala"), ("stix:incident--leak", "stix:identity--ministry"),
        ("stix:incident--ransom", "stix:identity--absent")}  # by the impact object's impacted_refs
    assert loaded.counts().get("OWNS", 0) == 0  # STIX `owns` is asset ownership


def test_provenance(loaded: SqliteStore) -> None:
    leak = of_type(Incident, loaded.get_entities(["stix:incident--leak"])["stix:incident--leak"])
    own, article = leak.sources
    assert (own.publisher, own.record_id, str(own.recorded_on)) == ("CERT Example", "incident--leak", "2019-04-01")
    assert (article.publisher, article.url) == ("news.example.com", "https://news.example.com/leak")


def test_second_load_changes_nothing(loaded: SqliteStore, tmp_path: Path) -> None:
    before = (loaded.counts(), loaded.get_entities(["stix:incident--leak"]))
    ingest(loaded, load_file(_write(tmp_path, BUNDLE)))
    assert (loaded.counts(), loaded.get_entities(["stix:incident--leak"])) == before


def test_problems_are_located_by_json_pointer(tmp_path: Path) -> None:
    bad = bundle(obj("incident", "a", name="A", extensions={EXT: {"attacker_activities": [{"start_time": "soon"}]}}),
                 {"type": "relationship", "id": "relationship--b", "relationship_type": "targets"},
                 obj("incident", "c", name="C", extensions={EXT: {"confidentiality_impacts": [{"record_count": -1}]}}))
    with pytest.raises(InvalidInput) as info:
        load_file(_write(tmp_path, bad))
    path = tmp_path / "bundle.json"
    assert [str(p) for p in info.value.problems] == [
        f"{path}:#/objects/0: occurred_on: not a STIX timestamp among ['soon']",
        f"{path}:#/objects/1: source_ref: a relationship needs `source_ref` and `target_ref`",
        # the bad count is reported with both fields read from it
        f"{path}:#/objects/2: records_affected: Input should be greater than or equal to 0",
        f"{path}:#/objects/2: impacts.0.record_count: Input should be greater than or equal to 0"]


def test_broken_json_is_one_problem_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"type": "bundle", "objects": [', encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        load_file(path, format="stix")
    assert [str(p) for p in info.value.problems] == [
        f"{path}:#: (document): truncated: the JSON document ends at line 1 before its value is complete "
        "(31 bytes read); the file was cut short"]  # the 31 bytes above, cut inside the objects array
