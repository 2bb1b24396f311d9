"""Addresses: FtM Address entities (named by `addressEntity`) and `address` texts become addresses of the entity;
shown over GraphQL, exported, and read by the resolver as supporting evidence (postal code and city, whole
text, the country of an entity that has none). Evidence strengths from graph/resolve/candidates.py: identical
name 0.85, same address 0.4, same country 0.3; score = 1 - prod(1 - p).
"""
from __future__ import annotations

from pathlib import Path

from corpgraph.api.app import create_app
from corpgraph.graph.exports import to_graphml
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.identity.resolve.candidates import find_candidates, party, score_pair
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.validate import load_file
from corpgraph.schema.declaration import parse_record
from corpgraph.schema.records import Entity
from tests.http_server import serving
from tests.test_api_http import gql
from tests.test_ftm_parts import entity, write_ftm

BERLIN = {"full": "Unter den Linden 1, 10117 Berlin", "street": "Unter den Linden 1", "postal_code": "10117",
          "city": "Berlin", "country": "DE"}


def donors(tmp_path: Path) -> Path:
    """A party-donations file: a company at an Address entity, a person with an address text, an orphan Address,
    and a company naming an Address the file does not hold."""
    return write_ftm(tmp_path / "donors.ftm.jsonl",
                     entity("acme", "Company", name=["Acme GmbH"], addressEntity=["addr-1"]),
                     entity("addr-1", "Address", full=[BERLIN["full"]], street=["Unter den Linden 1"],
                            postalCode=["10117"], city=["Berlin"], country=["de"]),
                     entity("anna", "Person", name=["Anna Muster"], address=["Hauptstr. 5, 80331 München"]),
                     entity("addr-2", "Address", full=["Nowhere 1"]),
                     entity("beta", "Company", name=["Beta AG"], addressEntity=["addr-9"]))


def test_address_entities_and_texts_become_addresses_of_the_entity(tmp_path: Path) -> None:
    batch = load_file(donors(tmp_path))
    got = {e.id: [a.model_dump(exclude_none=True) for a in e.addresses] for e, _ in batch.entities}
    assert got == {"ftm:acme": [BERLIN], "ftm:anna": [{"full": "Hauptstr. 5, 80331 München"}], "ftm:beta": []}


def test_the_coverage_says_where_each_address_went(tmp_path: Path) -> None:
    coverage = Coverage()
    load_file(donors(tmp_path), coverage=coverage)
    address = coverage.as_dict()["kinds"]["Address"]
    assert address["became"] == {"addresses of the entities that name it": 1}
    assert address["not_imported"] == {"an address no entity of the file names": 1}
    company = coverage.as_dict()["kinds"]["Company"]
    assert company["parts_left_out"] == {"an address (addressEntity) the file does not hold": 1}


def test_addresses_are_shown_and_exported(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    ingest(store, load_file(donors(tmp_path)))
    with serving(create_app(store=store)) as base:
        shown = gql(base, '{ entity(id: "ftm:acme") { addresses { street postalCode city country } } }')
    assert shown["entity"]["addresses"] == [{"street": "Unter den Linden 1", "postalCode": "10117", "city": "Berlin",
                                             "country": "DE"}]
    assert "Unter den Linden 1" in to_graphml(CorpGraph(store).neighborhood("ftm:acme"))
    store.close()


def _companies(*records: dict[str, object]) -> list[Entity]:
    return [parse_record({"type": "Company", **r}) for r in records]  # type: ignore[misc]


def test_a_shared_address_supports_a_match_and_lends_its_country() -> None:
    found = find_candidates(_companies(
        {"id": "a", "name": "Acme GmbH", "country": "DE", "addresses": [{"postal_code": "10117", "city": "Berlin"}]},
        {"id": "b", "name": "Acme GmbH", "addresses": [{"postal_code": "10 117", "city": "BERLIN", "country": "DE"}]},
    )).candidates
    [pair] = found
    # identical names 0.85, same address 0.4, same country 0.3 (b's from its address): 1 - 0.15 x 0.6 x 0.7
    assert pair.score == 0.937
    assert pair.reasons[1:] == ["same address: 10117 Berlin", "same country DE"]


def test_an_address_alone_makes_no_candidate() -> None:
    acme, zeta = _companies({"id": "a", "name": "Acme GmbH", "addresses": [{"full": "1 Agent Street, Dover"}]},
                            {"id": "z", "name": "Zeta Ltd", "addresses": [{"full": "1 agent street dover"}]})
    assert score_pair(party(acme), party(zeta)).score == 0.0  # a registered agent's address is shared by thousands


def test_an_over_long_address_is_cut_with_a_warning_not_refused(tmp_path: Path) -> None:
    path = write_ftm(tmp_path / "long.ftm.jsonl", entity("acme", "Company", name=["Acme"], address=["x" * 1500]))
    batch = load_file(path)
    [(acme, _)] = batch.entities
    assert [len(a.full or "") for a in acme.addresses] == [1000]  # MAX_LABEL, the cap of any other text
    assert [str(w) for w in batch.warnings] == [
        f"{path}:1: warning: addresses.0.full: cut at 1,000 characters (it had 1,500)"]
