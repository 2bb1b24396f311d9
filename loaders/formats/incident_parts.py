"""Pieces the incident formats (STIX, VERIS) share: ids made from names, timestamps read as dates, URL sources."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

_UNSAFE = re.compile(r"[^a-z0-9]+")
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")


def name_id(prefix: str, name: str) -> str:
    """A stable entity id for a party known only by its name (the same name gives the same id).

    ASCII names keep a readable slug; any other script gets a hash of the folded name, so the id
    stays within EntityId's characters without transliterating here (matching is graph/resolve's job).
    """
    folded = unicodedata.normalize("NFKC", name).casefold().strip()
    slug = _UNSAFE.sub("-", folded).strip("-")
    if slug and folded.isascii():
        return f"{prefix}:{slug[:150]}"
    return f"{prefix}:h-{hashlib.sha1(folded.encode()).hexdigest()[:16]}"


def safe_id(text: str) -> str:
    """A source id made safe for EntityId (letters, digits, `_.:-`; at most 200 characters)."""
    return re.sub(r"[^A-Za-z0-9_.:\-]", "-", text)[:200]


def day_of(timestamp: Any) -> str | None:
    """The ISO day of a STIX/VERIS timestamp ("2020-10-16T01:01:01.000Z" -> "2020-10-16"), None if unreadable."""
    if not isinstance(timestamp, str):
        return None
    match = _TIMESTAMP.match(timestamp.strip())
    return match.group(1) if match else None


def url_source(url: str, title: str) -> dict[str, Any]:
    """A Source for a reference URL: its host as publisher."""
    host = urlsplit(url).netloc or url
    return {"publisher": host.removeprefix("www."), "title": title, "url": url}


def placeholder(type_name: str, id: str, name: str, **extra: Any) -> dict[str, Any]:
    """A placeholder entity for a reference the file leaves open (named by the source's id)."""
    return {"type": type_name, "id": id, "name": name, "placeholder": True, **extra}
