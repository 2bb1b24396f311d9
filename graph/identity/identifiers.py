"""Normalised identifier keys (`SCHEME:ID`): what the stores index and identity merges entities on.

Two identifiers are the same when their keys are equal: the scheme upper-cased and trimmed, the id
trimmed with inner runs of whitespace made one space, and an LEI upper-cased without any whitespace
(GLEIF prints LEIs in groups of four now and then). `identifier_key("lei", "5493 00o8...")` and
`identifier_key("LEI", "549300O8...")` are both "LEI:549300O8...".
"""
from __future__ import annotations

from corpgraph.schema.records import Entity

_COMPACT = frozenset({"LEI"})  # schemes whose ids never hold spaces and compare case-insensitively


def identifier_key(scheme: str, id: str) -> str | None:
    """The normalised `SCHEME:ID` key of one identifier, or None when scheme or id is blank."""
    scheme = scheme.strip().upper()
    value = "".join(id.split()).upper() if scheme in _COMPACT else " ".join(id.split())
    return f"{scheme}:{value}" if scheme and value else None


def entity_identifier_keys(record: Entity) -> list[str]:
    """The distinct normalised identifier keys of an entity, sorted."""
    keys = (identifier_key(i.scheme, i.id) for i in record.identifiers)
    return sorted({k for k in keys if k})


def parse_identifier_ref(text: str) -> str | None:
    """The key meant by a `SCHEME:ID` reference typed by a user (`LEI:549300...`), or None if it has no colon."""
    scheme, colon, value = text.partition(":")
    return identifier_key(scheme, value) if colon else None
