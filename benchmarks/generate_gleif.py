"""GLEIF golden-copy XML of the real shape (LEI-CDF 2.1 and RR-CDF 2.1 records), for the importer rows.

`generate_gleif_lei`: an LEI file like the 2.5-million-record golden copy: each record with legal and
headquarters addresses, registration authority, jurisdiction, legal form, registration block; 1 in 5 with
other names, 1 in 10 with a transliterated name, 1 in 50 with a subdivision jurisdiction ("US-DE").
`generate_gleif_rr`: a relationship file (published apart from the LEI records, so every LEI it names is
a placeholder): 40% direct and 35% ultimate consolidation (1 in 10 with a PERCENTAGE quantifier),
15% fund management, 7% sub-funds, 3% feeders; relationship and accounting periods.

    python benchmarks/generate_gleif.py OUT_DIR --lei 2500000 --relationships 500000   # the golden copy's size
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import TextIO

_LEI_HEAD = """<?xml version="1.0" encoding="UTF-8"?><lei:LEIData xmlns:lei="http://www.gleif.org/data/schema/leidata/2016" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <lei:LEIHeader>
    <lei:ContentDate>2024-05-02T08:00:00Z</lei:ContentDate>
    <lei:FileContent>GLEIF_FULL_PUBLISHED</lei:FileContent>
    <lei:RecordCount>{count}</lei:RecordCount>
  </lei:LEIHeader>
<lei:LEIRecords>
"""
_RR_HEAD = """<?xml version="1.0" encoding="UTF-8"?><rr:RelationshipData xmlns:rr="http://www.gleif.org/data/schema/rr/2016" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <rr:Header>
    <rr:ContentDate>2024-05-02T09:00:00Z</rr:ContentDate>
    <rr:FileContent>GLEIF_FULL_PUBLISHED</rr:FileContent>
    <rr:RecordCount>{count}</rr:RecordCount>
  </rr:Header>
  <rr:RelationshipRecords>
"""
_RELATIONSHIPS = ["IS_DIRECTLY_CONSOLIDATED_BY"] * 40 + ["IS_ULTIMATELY_CONSOLIDATED_BY"] * 35 + \
    ["IS_FUND-MANAGED_BY"] * 15 + ["IS_SUBFUND_OF"] * 7 + ["IS_FEEDER_TO"] * 3
_JURISDICTIONS = ["DE", "GB", "FR", "LU", "NL", "IT", "ES", "SE", "US", "IN"]


def lei(n: int) -> str:
    """The n-th generated LEI: an 18-character base and ISO 17442 check digits (98 - base*100 mod 97)."""
    base = f"G{n:017d}"
    remainder = int("".join(str(int(c, 36)) for c in base + "00")) % 97
    return f"{base}{98 - remainder:02d}"


def generate_gleif_lei(path: Path, records: int, seed: int) -> None:
    """Write an LEI-CDF golden-copy file of `records` LEI records."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(_LEI_HEAD.format(count=records))
        for n in range(records):
            _lei_record(out, rng, n)
        out.write("</lei:LEIRecords>\n</lei:LEIData>\n")


def generate_gleif_rr(path: Path, records: int, seed: int) -> None:
    """Write an RR-CDF golden-copy file of `records` relationship records between generated LEIs."""
    rng = random.Random(seed)
    pool = max(2, records)
    with path.open("w", encoding="utf-8") as out:
        out.write(_RR_HEAD.format(count=records))
        for _ in range(records):
            child, parent = rng.sample(range(pool), 2)
            _rr_record(out, rng, lei(child), lei(parent))
        out.write("  </rr:RelationshipRecords>\n</rr:RelationshipData>\n")


def _lei_record(out: TextIO, rng: random.Random, n: int) -> None:
    """One LEI record in the golden copy's layout."""
    country = rng.choice(_JURISDICTIONS)
    jurisdiction = "US-DE" if rng.random() < 0.02 else country
    other = (f'      <lei:OtherEntityNames>\n         <lei:OtherEntityName xml:lang="en" type="PREVIOUS_LEGAL_NAME">'
             f"Former Name {n} Ltd</lei:OtherEntityName>\n      </lei:OtherEntityNames>\n") if rng.random() < 0.2 else ""
    trans = ('      <lei:TransliteratedOtherEntityNames>\n         <lei:TransliteratedOtherEntityName xml:lang="en" '
             f'type="AUTO_ASCII_TRANSLITERATED_LEGAL_NAME">ENTITY {n} GMBH</lei:TransliteratedOtherEntityName>\n'
             "      </lei:TransliteratedOtherEntityNames>\n") if rng.random() < 0.1 else ""
    address = (f"<lei:FirstAddressLine>{n} Generated Street</lei:FirstAddressLine>\n"
               f"         <lei:City>City {n % 997}</lei:City>\n         <lei:Country>{country}</lei:Country>\n"
               f"         <lei:PostalCode>{10000 + n % 89999}</lei:PostalCode>")
    out.write(f"""<lei:LEIRecord xmlns:lei="http://www.gleif.org/data/schema/leidata/2016">
   <lei:LEI>{lei(n)}</lei:LEI>
   <lei:Entity>
      <lei:LegalName xml:lang="en">Entity {n} GmbH</lei:LegalName>
{other}{trans}      <lei:LegalAddress xml:lang="en">
         {address}
      </lei:LegalAddress>
      <lei:HeadquartersAddress xml:lang="en">
         {address}
      </lei:HeadquartersAddress>
      <lei:RegistrationAuthority>
         <lei:RegistrationAuthorityID>RA000{100 + n % 700}</lei:RegistrationAuthorityID>
         <lei:RegistrationAuthorityEntityID>HRB {n}</lei:RegistrationAuthorityEntityID>
      </lei:RegistrationAuthority>
      <lei:LegalJurisdiction>{jurisdiction}</lei:LegalJurisdiction>
      <lei:EntityCategory>{"FUND" if n % 5 == 0 else "GENERAL"}</lei:EntityCategory>
      <lei:LegalForm>
         <lei:EntityLegalFormCode>2HBR</lei:EntityLegalFormCode>
      </lei:LegalForm>
      <lei:EntityStatus>ACTIVE</lei:EntityStatus>
      <lei:EntityCreationDate>20{n % 23:02d}-01-01T00:00:00Z</lei:EntityCreationDate>
   </lei:Entity>
   <lei:Registration>
      <lei:InitialRegistrationDate>2014-0{1 + n % 9}-10T00:00:00Z</lei:InitialRegistrationDate>
      <lei:LastUpdateDate>2024-0{1 + n % 4}-15T10:00:00.000+02:00</lei:LastUpdateDate>
      <lei:RegistrationStatus>{"LAPSED" if n % 7 == 0 else "ISSUED"}</lei:RegistrationStatus>
      <lei:NextRenewalDate>2025-01-15T00:00:00Z</lei:NextRenewalDate>
      <lei:ManagingLOU>5299000J2N45DDNE4Y28</lei:ManagingLOU>
      <lei:ValidationSources>FULLY_CORROBORATED</lei:ValidationSources>
   </lei:Registration>
</lei:LEIRecord>
""")


def _rr_record(out: TextIO, rng: random.Random, child: str, parent: str) -> None:
    """One relationship record in the golden copy's layout (StartNode the child, EndNode the parent)."""
    kind = rng.choice(_RELATIONSHIPS)
    start = f"20{10 + rng.randrange(14)}-0{1 + rng.randrange(9)}-01T00:00:00Z"
    quantifier = ""
    if "CONSOLIDATED" in kind and rng.random() < 0.1:
        quantifier = (f"      <rr:RelationshipQuantifiers>\n         <rr:RelationshipQuantifier>\n"
                      f"            <rr:MeasurementMethod>ACCOUNTING_CONSOLIDATION</rr:MeasurementMethod>\n"
                      f"            <rr:QuantifierAmount>{rng.choice(['100.00', '75.00', '51.00', '1.00'])}</rr:QuantifierAmount>\n"
                      f"            <rr:QuantifierUnits>PERCENTAGE</rr:QuantifierUnits>\n"
                      f"         </rr:RelationshipQuantifier>\n      </rr:RelationshipQuantifiers>\n")
    out.write(f"""<rr:RelationshipRecord xmlns:rr="http://www.gleif.org/data/schema/rr/2016">
   <rr:Relationship>
      <rr:StartNode>
         <rr:NodeID>{child}</rr:NodeID>
         <rr:NodeIDType>LEI</rr:NodeIDType>
      </rr:StartNode>
      <rr:EndNode>
         <rr:NodeID>{parent}</rr:NodeID>
         <rr:NodeIDType>LEI</rr:NodeIDType>
      </rr:EndNode>
      <rr:RelationshipType>{kind}</rr:RelationshipType>
      <rr:RelationshipPeriods>
         <rr:RelationshipPeriod>
            <rr:StartDate>2023-01-01T00:00:00Z</rr:StartDate>
            <rr:EndDate>2023-12-31T00:00:00Z</rr:EndDate>
            <rr:PeriodType>ACCOUNTING_PERIOD</rr:PeriodType>
         </rr:RelationshipPeriod>
         <rr:RelationshipPeriod>
            <rr:StartDate>{start}</rr:StartDate>
            <rr:PeriodType>RELATIONSHIP_PERIOD</rr:PeriodType>
         </rr:RelationshipPeriod>
      </rr:RelationshipPeriods>
      <rr:RelationshipStatus>ACTIVE</rr:RelationshipStatus>
{quantifier}   </rr:Relationship>
   <rr:Registration>
      <rr:InitialRegistrationDate>2020-07-16T00:00:00Z</rr:InitialRegistrationDate>
      <rr:LastUpdateDate>2024-02-01T00:00:00Z</rr:LastUpdateDate>
      <rr:RegistrationStatus>PUBLISHED</rr:RegistrationStatus>
      <rr:NextRenewalDate>2025-02-01T00:00:00Z</rr:NextRenewalDate>
      <rr:ManagingLOU>5299000J2N45DDNE4Y28</rr:ManagingLOU>
      <rr:ValidationSources>FULLY_CORROBORATED</rr:ValidationSources>
   </rr:Registration>
</rr:RelationshipRecord>
""")


def main() -> None:
    """Command line: write OUT_DIR/lei.xml and OUT_DIR/rr.xml (the relationships between the file's first LEIs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lei", type=int, default=2_500_000)
    parser.add_argument("--relationships", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1, help="the LEI file's; the relationship file's is seed + 1")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    generate_gleif_lei(args.out / "lei.xml", args.lei, args.seed)
    generate_gleif_rr(args.out / "rr.xml", args.relationships, args.seed + 1)
    print(f"{args.lei:,} LEI records -> {args.out / 'lei.xml'}; {args.relationships:,} relationships -> {args.out / 'rr.xml'}")


if __name__ == "__main__":
    main()
