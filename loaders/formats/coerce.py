"""Source values into native ones, for every importer: ids, dates (partial or timestamps), percentages.

Each function returns the native value and, when it had to interpret the text, the text as given (for a
record's `as_given`); it raises ValueError with a reason a user can act on when the text means nothing.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

from corpgraph.schema.values import COUNTRIES

_ID_BAD = re.compile(r"[^A-Za-z0-9_.:\-]")
_ID_MAX = 200
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}")
_NUMBER = r"\d+(?:[.,]\d+)?"
_PERCENT = re.compile(rf"^\s*({_NUMBER})\s*%?\s*$")
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*%?\s*(?:-|–|to)\s*({_NUMBER})\s*%?\s*$")


def native_id(prefix: str, source_id: str) -> str:
    """`prefix:source_id` made a valid EntityId: other characters become `_`; an over-long id is hashed."""
    text = f"{prefix}:{_ID_BAD.sub('_', source_id.strip())}"
    if len(text) <= _ID_MAX:
        return text
    digest = hashlib.sha1(source_id.encode("utf-8")).hexdigest()
    return f"{text[: _ID_MAX - 41]}-{digest}"


def source_date(text: str) -> tuple[str, str | None]:
    """ISO date of a full, partial ("2015", "2015-11": read as the first day) or timestamp text.

    Returns (iso, as_given): as_given is the text when it was partial, else None (a timestamp's date is
    the date it states). ValueError when the text is no date.
    """
    value = text.strip()
    stamp = _STAMP.match(value)
    if stamp:
        value = stamp.group(1)
    match = _PARTIAL.match(value)
    if not match:
        raise ValueError(f"expected a date (YYYY, YYYY-MM, YYYY-MM-DD or a timestamp), got {text!r}")
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    try:
        iso = date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        raise ValueError(f"not a calendar date: {text!r}") from None
    return iso, (text.strip() if match.group(3) is None else None)


def percent_share(text: str) -> tuple[float | None, float | None, float | None]:
    """(share, share_min, share_max) of a percentage text: "51", "51.5%", "25-50" (a range, inclusive).

    ValueError when the text is no percentage or lies outside 0..100.
    """
    single = _PERCENT.match(text)
    if single:
        value = _percent(single.group(1), text)
        return value, None, None
    pair = _RANGE.match(text)
    if pair:
        low, high = _percent(pair.group(1), text), _percent(pair.group(2), text)
        if low > high:
            raise ValueError(f"the range {text!r} runs backwards")
        return None, low, high
    raise ValueError(f"expected a percentage such as '51', '51.5%' or a range '25-50', got {text!r}")


def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code in a country or subdivision code ("gb", "US-DE"), or None."""
    head = text.strip().upper().split("-", 1)[0]
    return head if head in COUNTRIES else None


def exact_country(text: Any) -> str | None:
    """A text that is exactly an ISO 3166-1 alpha-2 code in any case ("ru"), upper-cased; None for anything
    else (a subdivision, a historic code such as FtM's "suhh", a name)."""
    if not isinstance(text, str) or len(text.strip()) != 2:
        return None
    return country_code(text)


def address_of(country: Any = None, **parts: Any) -> dict[str, str] | None:
    """A native address from its parts as a source gives them (kind, full, street, city, postal_code, region):
    blanks dropped; the country kept when it is an ISO code, else added to the text so nothing is lost.
    None when nothing but its kind is given."""
    out = {name: value.strip() for name, value in parts.items() if isinstance(value, str) and value.strip()}
    code = exact_country(country)
    if code is not None:
        out["country"] = code
    elif isinstance(country, str) and country.strip():
        out["full"] = ", ".join(t for t in (out.get("full"), country.strip()) if t)
    return out if set(out) - {"kind"} else None


def _percent(number: str, text: str) -> float:
    """A percent number as a fraction 0..1."""
    value = float(number.replace(",", "."))
    if value > 100:
        raise ValueError(f"a percentage cannot exceed 100, got {text!r}")
    return value / 100.0
