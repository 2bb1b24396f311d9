"""The FtM parts that carry meaning beyond companies and stakes: family and associates (RELATED_TO, never
analytic), identity documents (identifiers of their holder, so they merge), and the coverage report's account
of them. The files are written here, after the shape of an OpenSanctions cluster: a sanctioned person with
four family members named by OFAC ("Family member of"), one associate, a company he owns 60% of.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.exports import to_graphml
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.base import GraphStore
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.validate import load_file
from corpgraph.schema.declaration import ANALYTIC_RELATIONS, RELATIONS
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Paid
from tests.factory import empty_store

RELATIVES = ("wife", "son", "daughter", "brother")


def entity(id: str, schema: str, **props: list[str]) -> dict[str, Any]:
    """One FtM entity line."""
    return {"id": id, "schema": schema, "properties": props}


def write_ftm(path: Path, *entities: dict[str, Any]) -> Path:
    """An FtM JSON Lines file of the entities."""
    path.write_text("".join(json.dumps(e) + "\n" for e in entities), encoding="utf-8")
    return path


def cluster(tmp_path: Path) -> Path:
    """Zakharov, his four relatives (one Family each), an associate, his passport and his 60% of a company."""
    lines = [entity("zakharov", "Person", name=["Ivan Zakharov"], nationality=["ru"]),
             entity("zala", "Company", name=["Zala Aero"], jurisdiction=["ru"]),
             entity("own-1", "Ownership", owner=["zakharov"], asset=["zala"], percentage=["60"]),
             entity("partner", "Person", name=["Petr Partner"]),
             entity("assoc-1", "Associate", person=["zakharov"], associate=["partner"], relationship=["business partner"]),
             entity("pass-1", "Passport", holder=["zakharov"], number=["7512 345678"], country=["ru"])]
    for n, who in enumerate(RELATIVES):
        lines.append(entity(who, "Person", name=[f"{who.title()} Zakharova"]))
        lines.append(entity(f"fam-{n}", "Family", person=["zakharov"], relative=[who],
                            relationship=["Family member of"], startDate=["2001"]))
    return write_ftm(tmp_path / "cluster.ftm.jsonl", *lines)


def test_related_to_is_declared_once_and_never_analytic() -> None:
    spec = RELATIONS[RelationType.RELATED_TO]
    assert spec.analytic is False and RelationType.RELATED_TO not in ANALYTIC_RELATIONS


def test_the_neighbourhood_shows_the_four_family_members(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "z.db")
    ingest(store, load_file(cluster(tmp_path)))
    graph = CorpGraph(store)
    around = graph.neighborhood("ftm:zakharov")
    related = [e for e in around.edges if e.type == "RELATED_TO"]
    family = {e.target: e.properties for e in related if e.properties.get("kind") == "family"}
    assert set(family) == {f"ftm:{who}" for who in RELATIVES}
    assert {p.get("role") for p in family.values()} == {"Family member of"}
    assert {p.get("valid_from") for p in family.values()} == {"2001-01-01"}  # "2001" read as its first day
    assert [(e.target, e.properties.get("role")) for e in related if e.properties.get("kind") == "associate"] == [
        ("ftm:partner", "business partner")]
    # Not analytic: Zala's only owner is Zakharov with his 60%; his family holds nothing through him.
    assert {h.owner: h.direct for h in graph.owners("ftm:zala", date(2024, 1, 1))} == {"ftm:zakharov": 0.6}
    assert "RELATED_TO" in to_graphml(around)  # exported with the rest of the neighbourhood
    store.close()


def test_a_passport_number_merges_two_persons_who_carry_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "p.db")
    ingest(store, load_file(cluster(tmp_path)))
    # Another source names the same man under its own id, with the number as a property of the person.
    other = write_ftm(tmp_path / "other.ftm.jsonl",
                      entity("iz-2", "Person", name=["Zakharov, Ivan"], nationality=["ru"], passportNumber=["7512 345678"]))
    ingest(store, load_file(other))
    graph = CorpGraph(store)
    assert graph.resolve("ftm:iz-2") == graph.resolve("ftm:zakharov")
    assert graph.resolve("RU-PASSPORT:7512 345678") == graph.resolve("ftm:zakharov")
    store.close()


def test_a_document_of_a_holder_the_file_leaves_open_goes_to_its_placeholder(tmp_path: Path) -> None:
    path = write_ftm(tmp_path / "doc.ftm.jsonl",
                     entity("id-1", "Identification", holder=["ghost"], number=["X-1"]))  # no country given
    batch = load_file(path)
    [(ghost, _)] = batch.entities
    assert (ghost.id, ghost.placeholder) == ("ftm:ghost", True)
    assert [(i.scheme, i.id) for i in ghost.identifiers] == [("ID", "X-1")]


def test_the_coverage_accounts_for_family_associates_and_documents(tmp_path: Path) -> None:
    coverage = Coverage()
    load_file(cluster(tmp_path), coverage=coverage)
    kinds = coverage.as_dict()["kinds"]
    assert (kinds["Family"]["read"], kinds["Family"]["became"]) == (4, {"RELATED_TO": 4})
    assert kinds["Associate"]["became"] == {"RELATED_TO": 1}
    assert kinds["Passport"]["became"] == {"identifiers of its holder": 1}
    assert kinds["Person"]["read"] == 1 + 1 + 4  # Zakharov, his partner, the four relatives


def donations(tmp_path: Path) -> Path:
    """A donor paying a party twice on one day (in euros, converted only) and once in a stated currency."""
    return write_ftm(tmp_path / "donations.ftm.jsonl",
                     entity("donor", "Company", name=["Donor AG"]),
                     entity("party", "Organization", name=["Party"]),
                     entity("pay-1", "Payment", payer=["donor"], beneficiary=["party"], amountEur=["100000"],
                            date=["2011-12-29"]),
                     entity("pay-2", "Payment", payer=["donor"], beneficiary=["party"], amountEur=["113969.15"],
                            date=["2011-12-29"]),
                     entity("pay-3", "Payment", payer=["donor"], beneficiary=["party"], amount=["5000"],
                            currency=["chf"], amountEur=["4500"], purpose=["Spende"], date=["2012-03"]))


def test_payments_become_paid_relations_one_per_payment(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "d.db")
    ingest(store, load_file(donations(tmp_path)))
    paid = {r.record.reference: r.record for r in store.relations_touching(["ftm:donor"], [RelationType.PAID])
            if isinstance(r.record, Paid)}
    assert set(paid) == {"pay-1", "pay-2", "pay-3"}  # two payments of one day between the same parties stay two
    one, three = paid["pay-1"].amount, paid["pay-3"].amount
    assert one is not None and three is not None
    assert (one.value, one.currency) == (100000.0, "EUR")
    assert (three.value, three.currency, paid["pay-3"].purpose) == (5000.0, "CHF", "Spende")
    assert paid["pay-3"].valid_from == date(2012, 3, 1) and paid["pay-3"].as_given == {"valid_from": "2012-03"}
    # Not analytic: a payment makes nobody an owner; shown in the neighbourhood and its exports.
    graph = CorpGraph(store)
    assert graph.holdings("ftm:donor", date(2013, 1, 1)) == []
    around = graph.neighborhood("ftm:party")
    assert sorted(e.properties["reference"] for e in around.edges if e.type == "PAID") == ["pay-1", "pay-2", "pay-3"]
    assert "113969.15" in to_graphml(around)
    store.close()


def test_a_relative_the_file_leaves_open_is_a_person_placeholder(tmp_path: Path) -> None:
    path = write_ftm(tmp_path / "open.ftm.jsonl", entity("ivan", "Person", name=["Ivan"]),
                     entity("fam-1", "Family", person=["ivan"], relative=["olga"], relationship=["wife"]),
                     entity("own-1", "Ownership", owner=["olga"], asset=["shell"]))  # Olga also owns a company
    placeholders = {e.id: e.type for e, _ in load_file(path).entities if e.placeholder}  # type: ignore[attr-defined]
    # FtM's Family ends are Persons; an Ownership's asset could be anything: a Company, as for every open id.
    assert placeholders == {"ftm:olga": "Person", "ftm:shell": "Company"}


def test_references_to_an_old_id_land_on_the_entity_that_carries_it(tmp_path: Path) -> None:
    # OpenSanctions writes the ids an entity was merged from as `referents`; its files may still name them.
    path = write_ftm(tmp_path / "merged.ftm.jsonl",
                     entity("own-1", "Ownership", owner=["ofac-123"], asset=["zala"], percentage=["60"]),
                     {**entity("NK-ivan", "Person", name=["Ivan"], addressEntity=["addr-old"]),
                      "referents": ["ofac-123", "eu-456"]},
                     entity("zala", "Company", name=["Zala"]),
                     entity("sanc-1", "Sanction", entity=["eu-456"], authority=["EU"]),
                     {**entity("NK-addr", "Address", city=["Moscow"], country=["ru"]), "referents": ["addr-old"]})
    coverage = Coverage()
    batch = load_file(path, coverage=coverage)
    entities = {e.id: e for e, _ in batch.entities}
    assert set(entities) == {"ftm:NK-ivan", "ftm:zala"}  # no placeholder for ofac-123
    # The Ownership and sanc-1's designation (issue 21) both land on Ivan, who carries ofac-123 and eu-456.
    assert [(r.type, r.source, r.target) for r, _ in batch.relations] == [  # type: ignore[attr-defined]
        ("OWNS", "ftm:NK-ivan", "ftm:zala"), ("Sanction", "ftm:NK-ivan", "ftm:NK-ivan")]
    ivan = entities["ftm:NK-ivan"]
    assert ivan.topics == ["sanction"] and [(a.city, a.country) for a in ivan.addresses] == [("Moscow", "RU")]
    assert coverage.as_dict()["kinds"]["Address"]["became"] == {"addresses of the entities that name it": 1}


@pytest.fixture(params=["embedded", "neo4j"])
def either_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """An empty store of each backend (the session's Neo4j emptied first)."""
    yield from empty_store(request.param, request, tmp_path / "e.db")


def test_both_stores_keep_family_payments_documents_and_addresses(either_store: GraphStore, tmp_path: Path) -> None:
    for path in (cluster(tmp_path), donations(tmp_path)):
        ingest(either_store, load_file(path))
    graph = CorpGraph(either_store)
    around = graph.neighborhood("ftm:zakharov")
    assert sorted(e.target for e in around.edges if e.type == "RELATED_TO" and e.properties["kind"] == "family") == [
        f"ftm:{who}" for who in sorted(RELATIVES)]
    paid = {e.properties["reference"]: e.properties["amount"] for e in graph.neighborhood("ftm:party").edges}
    assert paid["pay-3"] == {"value": 5000.0, "currency": "CHF"}
    assert graph.resolve("RU-PASSPORT:7512 345678") == "ftm:zakharov"
