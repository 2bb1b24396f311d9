"""FtM `referents`: the ids an entity was known by before it was merged (OpenSanctions writes them beside the
entity's own id, and its files may still name an entity, or an Address, by one of them). The FtM reader's first
pass learns every referent's entity; references are read through that map, so a link, a sanction, a document or
an `addressEntity` naming an old id lands on the entity that carries it instead of becoming a placeholder.
"""
from __future__ import annotations

import re
from typing import Any, Protocol

from corpgraph.loaders.jsontext import loads

# Their properties that name another entity (links' ends, a sanction's or a document's entity, an address).
REFERENCE_PROPS = frozenset({"owner", "asset", "director", "organization", "person", "relative", "associate",
                             "subject", "object", "payer", "beneficiary", "entity", "holder", "addressEntity"})
_REFERENTS = re.compile(rb'"referents"\s*:\s*(\[[^\]]*\])')
_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*("(?:[^"\\]|\\.)*")')


class Lookup(Protocol):
    """The referent -> entity id map (a DiskTable of loaders.formats.spill)."""

    def get(self, key: str, default: Any = None) -> Any:
        """The entity id a referent names, or the default."""
        ...


def referents(raw: bytes) -> tuple[str, list[str]] | None:
    """An entity line's id and referents (read from its bytes: the id must come first, as OpenSanctions writes
    it); None when the line has none or cannot be read so (the second pass reports a broken line)."""
    found, named = _REFERENTS.search(raw), _ID.match(raw)
    if found is None or named is None:
        return None
    try:
        fid, refs = loads(named.group(1).decode("utf-8")), loads(found.group(1).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(fid, str) or not isinstance(refs, list):
        return None
    return fid, [r for r in refs if isinstance(r, str) and r != fid]


def canonical(fid: str, known: Lookup) -> str:
    """The id of the entity that carries `fid` as a referent, else `fid` itself."""
    found = known.get(fid)
    return found if isinstance(found, str) else fid


def resolved(data: Any, known: Lookup) -> Any:
    """An FtM entity with the references among its properties read through the referents (a copy; the entity
    itself when it has none or is malformed: the reader reports that)."""
    props = data.get("properties") if isinstance(data, dict) else None
    if not isinstance(props, dict) or not REFERENCE_PROPS & props.keys():
        return data
    fixed = {name: ([canonical(v, known) if isinstance(v, str) else v for v in values]
                    if name in REFERENCE_PROPS and isinstance(values, list) else values)
             for name, values in props.items()}
    return {**data, "properties": fixed}
