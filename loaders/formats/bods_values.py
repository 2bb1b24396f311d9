"""BODS values as native ones: ids, dates (timestamps, partial dates), percentages and share ranges, provenance."""
from __future__ import annotations

import hashlib
import re
from typing import Any

_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:\-]")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:[T ].*)?$")


def native_id(source_id: str, suffix: str = "") -> str:
    """A stable native id for a BODS id: `bods:<id>`, other characters as '-', long ids shortened by a hash."""
    text = f"bods:{_ID_CHARS.sub('-', source_id.strip())}{suffix}"
    if len(text) > 200:
        text = text[:180] + "-" + hashlib.sha1(text.encode()).hexdigest()[:16]
    return text


def as_date(value: Any) -> tuple[str | None, str | None]:
    """(YYYY-MM-DD, the text as given when it had to be read): a timestamp is its date, "2015-11" its first day.

    Text that is no date is returned unchanged so that validation reports it where it was found.
    """
    if value is None or value == "":
        return None, None
    text = str(value).strip()
    match = _DATE.match(text)
    if not match:
        return text, None
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    iso = f"{year}-{month}-{day}"
    return iso, (None if iso == text else text)


def percent(value: Any) -> float:
    """A BODS percentage (0..100) as a fraction; ValueError with the reason otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"a BODS share is a number of percent (0 to 100), got {value!r}")
    if not 0 <= value <= 100:
        raise ValueError(f"a BODS share is a number of percent (0 to 100), got {value}")
    return round(value / 100.0, 12)  # 26.150000000000002% is 0.2615, not 0.26150000000000004


def share_fields(share: Any, version: str) -> tuple[dict[str, Any], str | None]:
    """Native share, share_min, share_max of a BODS share object, and the range as given (with its bounds).

    Exclusive bounds (0.2/0.3 boolean exclusiveMinimum/exclusiveMaximum, defaults false/true; 0.4 numeric
    exclusiveMinimum/exclusiveMaximum) are stored as the bound itself (the range's infimum and supremum,
    which is what exact integrated bounds need) with `share_min_exclusive` / `share_max_exclusive`, so the
    UK "more than 50%" band gives control; the as-given text keeps them too.
    """
    if not isinstance(share, dict):
        return {}, None
    exact = share.get("exact")
    if version == "0.4":
        low, high = share.get("minimum"), share.get("maximum")
        low_open, high_open = low is None and share.get("exclusiveMinimum") is not None, \
            high is None and share.get("exclusiveMaximum") is not None
        low = low if low is not None else share.get("exclusiveMinimum")
        high = high if high is not None else share.get("exclusiveMaximum")
    else:
        low, high = share.get("minimum"), share.get("maximum")
        low_open, high_open = share.get("exclusiveMinimum") is True, share.get("exclusiveMaximum", True) is not False
    out: dict[str, Any] = {}
    if exact is not None:
        out["share"] = percent(exact)
    if (low is None and high is None) or (exact is not None and low in (None, exact) and high in (None, exact)):
        return out, None
    if low is not None:
        out["share_min"] = percent(low)
        if low_open and exact is None:
            out["share_min_exclusive"] = True
    if high is not None:
        out["share_max"] = percent(high)
        if high_open and exact is None:
            out["share_max_exclusive"] = True
    bounds = [f"{'>' if low_open else '>='} {low}%" if low is not None else "",
              f"{'<' if high_open else '<='} {high}%" if high is not None else ""]
    return out, " and ".join(b for b in bounds if b)


def source_of(data: dict[str, Any], sid: str, version: str, date: str | None) -> dict[str, Any]:
    """The native Source of a statement: publisher, title, URL, publication date, statement id and date, type."""
    publication = data.get("publicationDetails")
    publication = publication if isinstance(publication, dict) else {}
    publisher = publication.get("publisher")
    publisher = publisher if isinstance(publisher, dict) else {}
    source = data.get("source")
    source = source if isinstance(source, dict) else {}
    kinds = source.get("type")
    kinds = [kinds] if isinstance(kinds, str) else [k for k in kinds or [] if isinstance(k, str)]
    published, _ = as_date(publication.get("publicationDate"))
    out: dict[str, Any] = {
        "publisher": str(publisher.get("name") or "unnamed BODS publisher"),
        "title": str(source.get("description") or f"BODS {version} statement"),
        "url": source.get("url") or publisher.get("url"),
        "published_on": published,
        "record_id": sid,
        "recorded_on": date,
        "source_type": ",".join(kinds) or None,
    }
    return {k: v for k, v in out.items() if v is not None}
