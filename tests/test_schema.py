"""Schema validation: good and bad records of every type, shares, dates, codes."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from corpgraph.schema.declaration import ENTITIES, RELATIONS, parse_record, relation_id
from corpgraph.schema.kinds import EntityType, RelationType
from corpgraph.schema.records import Company, Entity, Incident, Owns, Person, Sanction
from tests.factory import entity, owns, parsed, rel

SRC = [{"publisher": "Example Daily", "title": "A headline", "published_on": "2019-11-21"}]

GOOD = [
    entity("Company", "lakala", "Lakala", aliases=["拉卡拉", "라카라"], country="cn",
           identifiers={"uscc": "91110000"}, sources=SRC, confidence=0.9),
    entity("Person", "p1", "Sun Taoran", country="CN"),
    entity("Organization", "police", "Police", kind="police"),
    entity("Actor", "hackers", "Unknown hackers", known=False),
    entity("Incident", "leak", "Leak", category="data_leak", occurred_on="2019-01-01", ended_on="2019-02-01",
           duration_hours=2.5, records_affected=100, records_affected_max=400,
           amounts=[{"value": 38000000, "currency": "cny"}]),
    owns("a", "b", "32.4%", share_min="30%", share_max=0.4, valid_from="2019-06-30", valid_to="2020-01-01"),
    rel("RESPONSIBLE_FOR", "a", "i", role="data_controller"),
    rel("PERPETRATED", "x", "i"),
    rel("AFFECTED", "i", "a", how="down"),
    rel("SUPPLIED_DATA_TO", "a", "b", records=5, lookups=98000000,
        revenue={"value": 38000000, "currency": "CNY"}, incident="i", data=["name"]),
    rel("DEPENDS_ON", "a", "b", service="payments"),
    rel("REPORTED", "o", "i", activity="investigation", reported_on="2019-11-21"),
    rel("CONTROLS", "p", "b", kind="votingRights", share_min="50%", share_max="75%", valid_from="2020-01-01"),
    rel("OFFICER_OF", "p", "b", role="director", valid_from="2020-01-01"),
    rel("FUND_LINK", "f", "m", kind="fund_managed_by"),
    rel("DECLARED_INTEREST", "p", "b", kind="indirect_ownership", share=0.3),
    rel("RELATED_TO", "p", "q", kind="family", role="Family member of", valid_from="2001-01-01"),
    rel("PAID", "a", "o", amount={"value": 100000, "currency": "EUR"}, valid_from="2011-12-29", reference="pay-1"),
    rel("ATTRIBUTED_TO", "x", "state", confidence=0.8, sources=SRC),
    {"type": "Sanction", "entity": "p", "authority": "Office of Foreign Assets Control", "program": "SDGT",
     "valid_from": "2020-01-01", "valid_to": "2021-01-01", "sources": SRC},
]

BAD = [
    (entity("Company", "c", "C", country="XX"), "country"),
    (entity("Company", "c", "   "), "name"),
    (entity("Company", "has space", "C"), "id"),
    (entity("Company", "c", "C", colour="red"), "colour"),
    (entity("Person", "p", "P", confidence=1.5), "confidence"),
    (entity("Organization", "o", "O", sources=[{"publisher": "X"}]), "sources.0.title"),
    (entity("Actor", "a", "A", known="perhaps"), "known"),
    (entity("Incident", "i", "I", category="meteor"), "category"),
    (entity("Incident", "i", "I", category="outage", records_affected=5, records_affected_max=4), "(record)"),
    (entity("Incident", "i", "I", category="outage", occurred_on="27/05/2015"), "occurred_on"),
    (entity("Incident", "i", "I", category="outage", occurred_on=1432684800), "occurred_on"),
    (owns("a", "b", 32.4), "share"),
    (owns("a", "b", "132%"), "share"),
    (owns("a", "b", -0.1), "share"),
    (owns("a", "b", 0.5, share_min=0.6), "(record)"),
    (owns("a", "a", 0.5), "(record)"),
    (owns("a", "b", 0.5, valid_from="2020-01-01", valid_to="2019-01-01"), "(record)"),
    (rel("RESPONSIBLE_FOR", "a", "i", role=""), "role"),
    (rel("PERPETRATED", "x", "i", weapon="cable"), "weapon"),
    (rel("AFFECTED", "i", ""), "target"),
    (rel("SUPPLIED_DATA_TO", "a", "b", lookups=-1), "lookups"),
    (rel("SUPPLIED_DATA_TO", "a", "b", revenue={"value": 1, "currency": "yuan"}), "revenue.currency"),
    (rel("DEPENDS_ON", "a", "b", service=""), "service"),
    (rel("REPORTED", "o", "i", reported_on="2019-13-01"), "reported_on"),
    (rel("CONTROLS", "p", "b", kind="votingRights", share_min=0.8, share_max=0.6), "(record)"),
    (rel("OFFICER_OF", "p", "b", role=""), "role"),
    (rel("FUND_LINK", "f", "m"), "kind"),
    (rel("DECLARED_INTEREST", "p", "b", kind="indirect_ownership", share="130%"), "share"),
    (rel("RELATED_TO", "p", "q", role="son"), "kind"),
    (rel("PAID", "a", "o", amount={"value": 5, "currency": "euro"}), "amount.currency"),
    (rel("ATTRIBUTED_TO", "x", "x"), "(record)"),  # an actor attributed to itself says nothing
    (rel("ATTRIBUTED_TO", "x", "state", liability=1), "liability"),  # attribution carries no weight of any kind
    ({"type": "Sanction", "entity": "p", "authority": "Ministry of Nowhere"}, "(record)"),
]


def test_a_designation_names_one_entity_and_its_regime_from_the_authority() -> None:
    # By hand from schema/regimes.py: "Office of Foreign Assets Control" is OFAC, "HM Treasury" UK; a given
    # regime is kept (upper case); the entity is both ends, and the regime is part of the relation's identity.
    given = (GOOD[-1], {"type": "Sanction", "entity": "p", "authority": "H.M. treasury"},
             {"type": "Sanction", "entity": "p", "regime": "un"})
    ofac, uk, un = (parse_record(raw) for raw in given)
    assert isinstance(ofac, Sanction) and isinstance(uk, Sanction) and isinstance(un, Sanction)
    assert (ofac.source, ofac.target, ofac.regime) == ("p", "p", "OFAC")
    assert relation_id(ofac) == "Sanction|p|p|OFAC|SDGT|2020-01-01"
    assert (uk.regime, un.regime) == ("UK", "UN")
    with pytest.raises(ValidationError, match="one entity"):
        parse_record({"type": "Sanction", "entity": "p", "source": "q", "regime": "EU"})


@pytest.mark.parametrize("raw", GOOD, ids=lambda r: r["type"])
def test_good_records_of_every_type_validate(raw: dict[str, Any]) -> None:
    record = parse_record(raw)
    assert record.model_dump()["type"] == raw["type"]


def test_every_declared_type_has_a_good_example() -> None:
    assert {r["type"] for r in GOOD} == {t.value for t in ENTITIES} | {t.value for t in RELATIONS}


@pytest.mark.parametrize(("raw", "field"), BAD, ids=lambda x: x["type"] if isinstance(x, dict) else x)
def test_bad_records_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_record(raw)
    fields = {".".join(str(p) for p in e["loc"]) or "(record)" for e in info.value.errors()}
    assert field in fields


def test_every_declared_type_has_a_bad_example() -> None:
    assert {r["type"] for r, _ in BAD} == {t.value for t in ENTITIES} | {t.value for t in RELATIONS}


def test_share_accepts_fraction_and_percent_string() -> None:
    assert parsed(Owns, owns("a", "b", "32.4%")).share == pytest.approx(0.324)
    assert parsed(Owns, owns("a", "b", 0.324)).share == pytest.approx(0.324)
    assert parsed(Owns, owns("a", "b", 1)).share == 1.0
    assert parsed(Owns, owns("a", "b", None)).share is None


def test_codes_are_normalised() -> None:
    company = parsed(Company, entity("Company", "c", "C", country="cn"))
    assert company.country == "CN"
    incident = parsed(Incident, GOOD[4])
    assert incident.amounts[0].currency == "CNY"
    assert incident.occurred_on == date(2019, 1, 1)


def test_relation_identity_uses_declared_key() -> None:
    first = parsed(Owns, owns("a", "b", 0.1, valid_from="2019-01-01"))
    later = parsed(Owns, owns("a", "b", 0.2, valid_from="2020-01-01"))
    same = parsed(Owns, owns("a", "b", 0.3, valid_from="2019-01-01"))
    assert relation_id(first) != relation_id(later)
    assert relation_id(first) == relation_id(same) == "OWNS|a|b|2019-01-01"


def test_declaration_covers_every_enum_member() -> None:
    assert set(ENTITIES) == set(EntityType)
    assert set(RELATIONS) == set(RelationType)
    assert all(spec.model.model_fields["type"].default == t.value for t, spec in RELATIONS.items())


def test_identifiers_accept_the_older_mapping_and_keep_scheme_and_id() -> None:
    record = parsed(Entity, entity("Company", "c", "C", identifiers={"LEI": "549300O897ZC5H7CY412"}))
    assert [(i.scheme, i.id) for i in record.identifiers] == [("LEI", "549300O897ZC5H7CY412")]
    listed = parsed(Person, entity("Person", "p", "P", identifiers=[{"scheme": "GB-COH", "id": "03209885"}]))
    assert listed.identifiers[0].scheme == "GB-COH"
