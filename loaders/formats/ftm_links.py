"""FtM interval schemata that become our relations: the table (their schema -> our relation and endpoint
properties), then the fields each relation takes from the FtM entity (dates, share, role, kind, amount).

FtM's own `edge:` directions are kept: owner -> asset, director -> organization, person -> relative,
payer -> beneficiary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem

from corpgraph.loaders.formats.coerce import percent_share, source_date
from corpgraph.loaders.formats.ftm_props import first


@dataclass(frozen=True)
class Link:
    """An FtM interval schema that becomes one of our relations: its type, endpoint properties, and for
    RELATED_TO its kind and the property holding the source's own words for the tie."""

    type: str
    source: str
    target: str
    kind: str | None = None
    words: str | None = None
    persons: bool = False  # FtM's range of both ends is Person: a placeholder for an open end is a Person


# Their interval schema -> our relation.
LINKS: dict[str, Link] = {
    "Ownership": Link("OWNS", "owner", "asset"),
    "Directorship": Link("OFFICER_OF", "director", "organization"),
    "Family": Link("RELATED_TO", "person", "relative", "family", "relationship", persons=True),
    "Associate": Link("RELATED_TO", "person", "associate", "associate", "relationship", persons=True),
    "UnknownLink": Link("RELATED_TO", "subject", "object", "link", "role"),
    "Payment": Link("PAID", "payer", "beneficiary"),
}
# Their date properties -> our validity fields (FtM Interval: start is startDate, else date; a payment's date).
DATE_PROPS: dict[str, tuple[str, ...]] = {"valid_from": ("startDate", "date"), "valid_to": ("endDate",)}
# A Payment's sum: `amount` in `currency`, else the converted sums FtM also carries, in this order.
CONVERTED_AMOUNTS = (("amountEur", "EUR"), ("amountUsd", "USD"))
# Their link properties the mapping reads besides the two ends (and RELATED_TO's words), for every link and per
# relation; the coverage report lists the others a link gives as left out.
LINK_PROPS_READ = frozenset({*(p for props in DATE_PROPS.values() for p in props), "publisher", "sourceUrl",
                             "modifiedAt"})
TYPE_PROPS_READ: dict[str, frozenset[str]] = {
    "OWNS": frozenset({"percentage"}), "OFFICER_OF": frozenset({"role"}), "RELATED_TO": frozenset(),
    "PAID": frozenset({"amount", "currency", *(p for p, _ in CONVERTED_AMOUNTS), "purpose", "summary"}),
}


def props_read(link: Link) -> frozenset[str]:
    """Every property of an FtM link entity that its mapping reads."""
    ends = {link.source, link.target, *([link.words] if link.words else [])}
    return LINK_PROPS_READ | TYPE_PROPS_READ[link.type] | ends


def link_fields(link: Link, fid: str, origin: Origin, props: dict[str, list[str]],
                problems: list[Problem]) -> dict[str, Any]:
    """The fields of the relation an FtM link entity becomes (problems appended for values that mean nothing)."""
    fields = _dated_fields(origin, props, problems)
    if link.type == "OWNS":
        fields.update(_share_fields(origin, props, problems))
    elif link.type == "RELATED_TO":
        fields["kind"] = link.kind
        if link.words and first(props, link.words):
            fields["role"] = first(props, link.words)
    elif link.type == "PAID":
        _payment_fields(fid, props, fields)
    else:
        fields["role"] = first(props, "role") or "director"
    return fields


def dated_fields(origin: Origin, props: dict[str, list[str]], problems: list[Problem]) -> dict[str, Any]:
    """valid_from / valid_to of any FtM interval (a link, a Sanction), partial dates kept as given."""
    return _dated_fields(origin, props, problems)


def _dated_fields(origin: Origin, props: dict[str, list[str]], problems: list[Problem]) -> dict[str, Any]:
    """valid_from / valid_to from the FtM dates; partial dates read as their first day, kept as given."""
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for ours, theirs in DATE_PROPS.items():
        prop = next((p for p in theirs if first(props, p)), None)
        if prop is None:
            continue
        text = first(props, prop) or ""
        try:
            out[ours], as_given = source_date(text)
        except ValueError as exc:
            problems.append(origin.problem(f"properties.{prop}", str(exc)))
            continue
        if as_given is not None:
            given[ours] = as_given
    if given:
        out["as_given"] = given
    return out


def _share_fields(origin: Origin, props: dict[str, list[str]], problems: list[Problem]) -> dict[str, Any]:
    """share, or share_min/share_max for a range, from the FtM percentage (0-100)."""
    text = first(props, "percentage")
    if text is None:
        return {}
    try:
        share, low, high = percent_share(text)
    except ValueError as exc:
        problems.append(origin.problem("properties.percentage", str(exc)))
        return {}
    if share is not None:
        return {"share": share}
    return {"share_min": low, "share_max": high}


def _payment_fields(fid: str, props: dict[str, list[str]], fields: dict[str, Any]) -> None:
    """A payment's sum (kept as given when it is no number or has no currency), purpose and the source's id of
    the payment (so two payments of one day between the same parties stay two)."""
    fields["reference"] = fid
    purpose = first(props, "purpose") or first(props, "summary")
    if purpose:
        fields["purpose"] = purpose
    given = [(first(props, "amount"), first(props, "currency"))] + [(first(props, p), c) for p, c in CONVERTED_AMOUNTS]
    for text, currency in given:
        value = _number(text)
        if value is not None and currency and len(currency) == 3 and currency.isalpha():
            fields["amount"] = {"value": value, "currency": currency.upper()}
            return
    stated = next((f"{text} {currency or ''}".strip() for text, currency in given if text), None)
    if stated:  # a sum the source states that is no number in a currency: kept as it reads
        fields.setdefault("as_given", {})["amount"] = stated


def _number(text: str | None) -> float | None:
    """A finite decimal number ("113969.15"), or None."""
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
