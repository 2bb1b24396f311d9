"""Addresses from BODS statements and GLEIF LEI records, and the nationalities a BODS person states: the parts
each spec defines, mapped by hand below (BODS 0.2-0.4 `addresses[] {type, address, postCode, country}`, 0.4's
country an object; LEI-CDF 2.1 LegalAddress, HeadquartersAddress, OtherAddresses, and the API's address objects).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from corpgraph.loaders.validate import load_file
from tests.test_bods import v3, v4, write
from tests.test_import_gleif import FIXTURES, LEI, PARENT

HQ_XML = """<lei:HeadquartersAddress xml:lang="en">
         <lei:MailRouting>C/O Citco</lei:MailRouting>
         <lei:FirstAddressLine>Kaya Flamboyan</lei:FirstAddressLine>
         <lei:AddressNumber>9</lei:AddressNumber>
         <lei:City>Willemstad</lei:City>
         <lei:Country>XK</lei:Country>
      </lei:HeadquartersAddress>
      <lei:RegistrationAuthority>"""


def addresses(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Entity id -> its addresses as loaded (fields that are set)."""
    return {e.id: [a.model_dump(exclude_none=True) for a in e.addresses] for e, _ in load_file(path).entities}


def test_bods_addresses_of_every_version_and_every_nationality(tmp_path: Path) -> None:
    v3_company = v3("e1", "entity", name="Fermcat", addresses=[
        {"type": "registered", "address": "89 Nexus Way, Camana Bay", "country": "KY", "postCode": "KY1-9009"},
        {"type": "business", "address": "Willemstad"}])
    v3_person = v3("p1", "person", names=[{"type": "individual", "fullName": "Ann"}],
                   nationalities=[{"code": "DK"}, {"code": "SE"}],
                   addresses=[{"type": "residence", "address": "Hareskovvej 31, Brønshøj", "country": "DK"}])
    got = addresses(write(tmp_path / "v3.json", [v3_company, v3_person]))
    assert got["bods:e1"] == [{"kind": "registered", "full": "89 Nexus Way, Camana Bay", "postal_code": "KY1-9009",
                               "country": "KY"}, {"kind": "business", "full": "Willemstad"}]
    assert got["bods:p1"] == [{"kind": "residence", "full": "Hareskovvej 31, Brønshøj", "country": "DK"}]
    [(person, _)] = [(e, o) for e, o in load_file(tmp_path / "v3.json").entities if e.id == "bods:p1"]
    assert (person.country, person.as_given) == ("DK", {"nationalities": "DK; SE"})  # type: ignore[attr-defined]
    v4_company = v4("s1", "A", "entity", {"entityType": {"type": "registeredEntity"}, "name": "A", "addresses": [
        {"type": "service", "address": "Aston House, London", "postCode": "N3 1LF",
         "country": {"name": "United Kingdom", "code": "GB"}}]})
    assert addresses(write(tmp_path / "v4.json", [v4_company]))["bods:A"] == [
        {"kind": "service", "full": "Aston House, London", "postal_code": "N3 1LF", "country": "GB"}]


def test_gleif_legal_and_headquarters_addresses(tmp_path: Path) -> None:
    assert addresses(LEI)[PARENT] == [{"kind": "legal", "street": "1 Main Street", "city": "Wilmington", "country": "US"}]
    # A headquarters with mail routing and a number, in a country code that is no ISO code: kept in the text.
    path = tmp_path / "lei.xml"
    path.write_text(LEI.read_text().replace("<lei:RegistrationAuthority>", HQ_XML, 1))
    assert addresses(path)[PARENT][1] == {"kind": "headquarters", "full": "XK", "street": "C/O Citco, Kaya Flamboyan, 9",
                                          "city": "Willemstad"}


def test_gleif_api_addresses(tmp_path: Path) -> None:
    document = json.loads((FIXTURES / "api-lei-records.json").read_text())
    entity = document["data"][0]["attributes"]["entity"]
    entity["otherAddresses"] = [{"type": "HEADQUARTERS_ADDRESS", "language": "de", "addressLines": ["Hauptstr. 1", "2. OG"],
                                 "city": "Wien", "country": "AT", "postalCode": "1010"}]
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document))
    assert addresses(path)[f"lei:{document['data'][0]['attributes']['lei']}"] == [
        {"kind": "legal", "street": "1 Main Street", "city": "Wilmington", "region": "US-DE", "postal_code": "19801",
         "country": "US"},
        {"kind": "other HEADQUARTERS_ADDRESS", "street": "Hauptstr. 1, 2. OG", "city": "Wien", "postal_code": "1010",
         "country": "AT"}]


def test_a_politically_exposed_bods_person_gets_the_pep_topic(tmp_path: Path) -> None:
    names = [{"type": "individual", "fullName": "Ann"}]
    path = write(tmp_path / "pep.json", [
        v3("p1", "person", names=names, politicalExposure={"status": "isPep", "details": [{"reason": "minister"}]}),
        v3("p2", "person", names=names, politicalExposure={"status": "isNotPep"}),
        v3("p3", "person", names=names, hasPepStatus=True)])  # BODS 0.2's spelling
    topics = {e.id: e.topics for e, _ in load_file(path).entities}
    assert topics == {"bods:p1": ["role.pep"], "bods:p2": [], "bods:p3": ["role.pep"]}
