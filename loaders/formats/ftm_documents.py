"""FtM identity documents (Passport, Identification) as identifiers of their holder, so that two entities carrying
the same document number merge like any two carrying one identifier (graph/identity).

The scheme comes from the document's schema and its issuing country: `RU-PASSPORT`, `DE-ID` (the holder's
country when the document names none; bare `PASSPORT`/`ID` without either), the same schemes as the
`passportNumber`/`idNumber` properties of an entity (loaders.formats.ftm.NATIONAL_SCHEMES), so a number
given either way is one identifier. The first pass of the FtM reader collects the documents by holder;
the holder's record carries them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corpgraph.loaders.formats.coerce import exact_country

# Their document schema -> the scheme of its number (before the country).
DOCUMENT_SCHEMES: dict[str, str] = {"Passport": "PASSPORT", "Identification": "ID"}
# Where a document's number is, in order (Passport has its own property besides Identification's `number`).
NUMBER_PROPS = ("number", "passportNumber")
FOLDED = "identifiers of its holder"


@dataclass(frozen=True)
class Document:
    """One document number: its scheme (PASSPORT, ID), the number, the issuing country's ISO code if given."""

    scheme: str
    number: str
    country: str | None


def documents(schema: str, props: dict[str, Any]) -> list[Document]:
    """The numbers an FtM document entity gives (none when it names no number)."""
    issuing = next((c for c in (exact_country(v) for v in props.get("country", [])) if c), None)
    numbers = [v.strip() for name in NUMBER_PROPS for v in props.get(name, []) if isinstance(v, str) and v.strip()]
    return [Document(DOCUMENT_SCHEMES[schema], number, issuing) for number in dict.fromkeys(numbers)]


def holders(props: dict[str, Any]) -> list[str]:
    """The ids of the entities the document belongs to."""
    return [v for v in props.get("holder", []) if isinstance(v, str) and v.strip()]


def identifiers(found: list[Document], holder_country: str | None) -> list[dict[str, str]]:
    """The documents as {scheme, id}, each scheme qualified by the issuing country, else the holder's."""
    out: list[dict[str, str]] = []
    for doc in found:
        country = doc.country or holder_country
        out.append({"scheme": f"{country}-{doc.scheme}" if country else doc.scheme, "id": doc.number})
    return out
