"""GLEIF addresses of an LEI record (legal, headquarters, other and transliterated addresses) as native
addresses, from golden-copy XML and API JSON alike (LEI-CDF 2.1 `Address` elements / API address objects).

The address lines (mail routing, first and additional lines, numbers) become `street`; city, region and postal
code their own fields; the country its ISO code (an unknown code stays in the text). The XML's `type` attribute of
an other address is not kept by the reader (loaders.formats.xmlstream keeps no attributes), so such an address
is of kind `other`; an API other address names its type (`other LEGAL_ADDRESS`).
"""
from __future__ import annotations

from typing import Any

from corpgraph.loaders.formats.coerce import address_of
from corpgraph.loaders.formats.tree import nodes, pick

# Our kind <- (XML path, API path) of the addresses of that kind in an LEI record.
ADDRESSES: dict[str, tuple[str, str]] = {
    "legal": ("Entity/LegalAddress", "attributes/entity/legalAddress"),
    "headquarters": ("Entity/HeadquartersAddress", "attributes/entity/headquartersAddress"),
    "other": ("Entity/OtherAddresses/OtherAddress", "attributes/entity/otherAddresses"),
    "transliterated": ("Entity/TransliteratedOtherAddresses/TransliteratedOtherAddress",
                       "attributes/entity/transliteratedOtherAddresses"),
}
# Our address field <- (XML elements, API keys) inside one address, texts joined in this order.
PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "street": (("MailRouting", "FirstAddressLine", "AddressNumber", "AddressNumberWithinBuilding",
                "AdditionalAddressLine"), ("mailRouting", "addressLines", "addressNumber", "addressNumberWithinBuilding")),
    "city": (("City",), ("city",)),
    "region": (("Region",), ("region",)),
    "postal_code": (("PostalCode",), ("postalCode",)),
    "country": (("Country",), ("country",)),
}


def addresses(tree: Any, api: bool) -> list[dict[str, str]]:
    """Every address of an LEI record that says something, each once, with its kind."""
    out: list[dict[str, str]] = []
    for kind, paths in ADDRESSES.items():
        for _, node in nodes(tree, paths[api]):
            found = _address(node, kind, api)
            if found is not None and found not in out:
                out.append(found)
    return out


def _address(node: Any, kind: str, api: bool) -> dict[str, str] | None:
    """One address node as a native address."""
    texts = {ours: ", ".join(_texts(node, names[api])) for ours, names in PARTS.items()}
    other_type = node.get("type") if api and kind == "other" and isinstance(node, dict) else None
    country = texts.pop("country")
    return address_of(country, kind=f"{kind} {other_type}" if other_type else kind, **texts)


def _texts(node: Any, names: tuple[str, ...]) -> list[str]:
    """The non-blank texts under these names of an address, in the names' order (a repeated one: each of its texts)."""
    out: list[str] = []
    for name in names:
        value = node.get(name) if isinstance(node, dict) else None
        if value is None:
            continue  # most of the nine names are absent from an address: not walked
        if type(value) is str:
            if text := value.strip():
                out.append(text)
        else:
            out.extend(text for _, text in pick(node, name))
    return out
