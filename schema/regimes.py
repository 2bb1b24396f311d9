"""Sanctions regimes: the short codes designations carry, and the table deriving one from an authority's name.

A designation (schema.records.Sanction) names its regime (`OFAC`, `EU`, `UK`, `UN`, or another code as its
source gives it). When a source names only the authority, the regime is read from AUTHORITIES below: the
authority's name compared without case, accents or punctuation or repeated spaces. docs/sanctions.md lists
the table; an authority it does not know leaves the regime to be given.
"""
from __future__ import annotations

import re
import unicodedata

# The regimes whose ownership-and-control rule corpgraph computes (graph/analytics/sanctions.py).
RULED = ("OFAC", "EU", "UK")

# Authority (as published by the regulators and by OpenSanctions) -> regime code.
AUTHORITIES: dict[str, str] = {
    "Office of Foreign Assets Control": "OFAC",
    "OFAC": "OFAC",
    "US Department of the Treasury, Office of Foreign Assets Control": "OFAC",
    "U.S. Treasury Department": "OFAC",
    "Council of the European Union": "EU",
    "Council of the EU": "EU",
    "European Union": "EU",
    "European Commission": "EU",
    "EU": "EU",
    "Office of Financial Sanctions Implementation": "UK",
    "OFSI": "UK",
    "HM Treasury": "UK",
    "Foreign, Commonwealth & Development Office": "UK",
    "Foreign, Commonwealth and Development Office": "UK",
    "UK": "UK",
    "United Nations Security Council": "UN",
    "UN Security Council": "UN",
    "United Nations": "UN",
    "UN": "UN",
    "State Secretariat for Economic Affairs": "CH-SECO",
    "SECO": "CH-SECO",
}


def normal_authority(name: str) -> str:
    """An authority's name as the table compares it: case-folded, accents, punctuation and spacing dropped."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).casefold()
    plain = plain.replace("&", " and ").replace(".", "")  # "H.M." is "hm", "U.S." is "us"
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


_BY_NAME = {normal_authority(name): code for name, code in AUTHORITIES.items()}


def regime_of(authority: str | None) -> str | None:
    """The regime code the table gives an authority, or None when it does not know it."""
    return None if authority is None else _BY_NAME.get(normal_authority(authority))


def normal_regime(code: str) -> str:
    """A regime code as stored and compared: upper case, no surrounding spaces (`ofac` is OFAC)."""
    return code.strip().upper()
