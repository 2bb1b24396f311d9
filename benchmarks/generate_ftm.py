"""A FollowTheMoney entity stream of the real shape (an OpenSanctions/Aleph export), for the importer rows.

Per 20 entities about 6 Company, 1 Organization, 1 LegalEntity, 4 Person, 4 Ownership, 2 Directorship,
1 Sanction and 1 Address (not kept by corpgraph; links point at it as addressEntity). Companies carry
registration, INN/OGRN or LEI numbers and topics; ownerships carry a percentage (1 in 10 a range "25-50")
and partial dates ("2015", "2015-11"); 1 in 20 ownerships adds a second history row of the same pair;
1 in 100 names an owner published elsewhere (a placeholder).
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, TextIO

_SCHEMAS = ["Company"] * 6 + ["Organization", "LegalEntity"] + ["Person"] * 4 + ["Ownership"] * 4 + \
    ["Directorship"] * 2 + ["Sanction", "Address"]
_TOPICS = [[], [], [], ["sanction"], ["role.pep"], ["crime.fin"], ["sanction.linked"], ["debarment"]]
_COUNTRIES = ["ru", "by", "de", "gb", "cy", "ae", "us", "ch"]


def generate_ftm(path: Path, entities: int, seed: int) -> None:
    """Write `entities` FtM entities (one JSON object per line) to path."""
    rng = random.Random(seed)
    parties: list[str] = []
    companies: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        for n in range(entities):
            schema = rng.choice(_SCHEMAS)
            if schema in ("Ownership", "Directorship", "Sanction") and len(companies) < 2:
                schema = "Company"
            entity = _entity(rng, schema, n, parties, companies)
            _write(out, entity)
            if schema in ("Company", "LegalEntity"):
                companies.append(entity["id"])
            if schema in ("Company", "LegalEntity", "Organization", "Person"):
                parties.append(entity["id"])


def _write(out: TextIO, entity: dict[str, Any]) -> None:
    """One entity per line, as FtM streams are written."""
    out.write(json.dumps(entity, ensure_ascii=False, separators=(",", ":")) + "\n")


def _entity(rng: random.Random, schema: str, n: int, parties: list[str], companies: list[str]) -> dict[str, Any]:
    """One generated entity of the schema."""
    props: dict[str, list[str]]
    if schema == "Person":
        props = {"name": [f"Person {n}", f"Персона {n}"], "nationality": [rng.choice(_COUNTRIES)],
                 "birthDate": [f"19{50 + n % 40}-0{1 + n % 9}"], "topics": rng.choice(_TOPICS)}
    elif schema in ("Company", "Organization", "LegalEntity"):
        props = {"name": [f"Company {n} LLC", f"ООО Компания {n}"], "jurisdiction": [rng.choice(_COUNTRIES)],
                 "registrationNumber": [f"{n:09d}"], "topics": rng.choice(_TOPICS),
                 "incorporationDate": [f"20{n % 23:02d}"], "addressEntity": [f"addr-{n}"]}
        if rng.random() < 0.3:
            props["innCode"], props["ogrnCode"] = [f"77{n:08d}"], [f"10277{n:08d}"]
    elif schema == "Ownership":
        props = _ownership(rng, n, parties, companies)
    elif schema == "Directorship":
        props = {"director": [rng.choice(parties)], "organization": [rng.choice(companies)],
                 "role": [rng.choice(["Director", "General Director", "Chair of the board"])],
                 "startDate": [f"20{rng.randrange(23):02d}-0{1 + rng.randrange(9)}"]}
    elif schema == "Sanction":
        props = {"entity": [rng.choice(parties)], "authority": ["Generated Sanctions Authority"],
                 "program": [f"Programme {n % 7}"], "listingDate": [f"20{10 + rng.randrange(14)}-03-15"]}
    else:
        props = {"full": [f"{n} Generated Street, City"], "country": [rng.choice(_COUNTRIES)]}
    props = {k: v for k, v in props.items() if v}
    return {"id": f"{schema.lower()}-{n}", "schema": schema, "properties": props,
            "datasets": ["generated"], "last_change": "2024-06-01T10:00:00"}


def _ownership(rng: random.Random, n: int, parties: list[str], companies: list[str]) -> dict[str, list[str]]:
    """An Ownership: owner, asset, percentage (sometimes a range), partial start date."""
    owner = f"elsewhere-{n}" if rng.random() < 0.01 else rng.choice(parties)
    asset = rng.choice(companies)
    if owner == asset:
        owner = f"elsewhere-{n}"
    percentage = "25-50" if rng.random() < 0.1 else str(rng.choice([5, 10, 25, 33.3, 50, 51, 100]))
    start = f"20{rng.randrange(20):02d}" + (f"-{1 + rng.randrange(9):02d}" if rng.random() < 0.5 else "")
    props = {"owner": [owner], "asset": [asset], "percentage": [percentage], "startDate": [start]}
    if rng.random() < 0.05:
        props["endDate"] = ["2023-12-31"]
    return props
