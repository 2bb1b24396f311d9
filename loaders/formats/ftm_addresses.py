"""FtM addresses as addresses of the entities that name them: `Address` entities (through an entity's
`addressEntity`) and the `address` property (a whole address as one text).

The first pass of the FtM reader keeps every Address entity (by id, on disk) and the ids entities name in
`addressEntity`; an entity's record then carries its addresses, so they are shown, exported and read by the
resolver (country, city, postal code: graph/resolve/candidates.py).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

from corpgraph.loaders.formats.coerce import address_of, exact_country
from corpgraph.loaders.jsontext import loads

# Our Address field -> their Address properties, in order of preference.
ADDRESS_PROPS: dict[str, tuple[str, ...]] = {"full": ("full",), "street": ("street", "street2"), "city": ("city",),
                                             "postal_code": ("postalCode",), "region": ("region", "state")}
FOLDED = "addresses of the entities that name it"
_REFS = re.compile(rb'"addressEntity"\s*:\s*(\[[^\]]*\])')


class Lookup(Protocol):
    """Where the first pass keeps the Address entities (a DiskTable of loaders.formats.spill)."""

    def get(self, key: str, default: Any = None) -> Any:
        """The address kept under that id, or the default."""
        ...


def address(props: dict[str, Any]) -> dict[str, str] | None:
    """Our address from an FtM Address entity's properties; None when it gives nothing."""
    parts = {ours: next((v for p in theirs for v in props.get(p, []) if isinstance(v, str) and v.strip()), None)
             for ours, theirs in ADDRESS_PROPS.items()}
    countries = [v for v in props.get("country", []) if isinstance(v, str) and v.strip()]
    return address_of(next((c for c in countries if exact_country(c)), countries[0] if countries else None), **parts)


def referenced(raw: bytes) -> list[str]:
    """The Address ids an entity's line names in `addressEntity` (read from its bytes; [] when none or broken)."""
    found = _REFS.search(raw)
    if found is None:
        return []
    try:
        ids = loads(found.group(1).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return []  # a broken line: the second pass reports it
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def entity_addresses(props: dict[str, Any], kept: Lookup) -> list[dict[str, str]]:
    """An entity's addresses: those of the Address entities it names, then its `address` texts not given so."""
    out = [found for ref in props.get("addressEntity", []) if (found := kept.get(ref)) is not None]
    given = {a.get("full", "").casefold() for a in out}
    out.extend({"full": text.strip()} for text in props.get("address", [])
               if isinstance(text, str) and text.strip() and text.strip().casefold() not in given)
    return _distinct(out)


def _distinct(addresses: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """Each address once, in order."""
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for item in addresses:
        seen.setdefault(tuple(sorted(item.items())), item)
    return list(seen.values())
