"""Normalised identifier keys (`SCHEME:ID`): what the stores index and identity merges entities on.

Two identifiers are the same when their keys are equal. The scheme is upper-cased and trimmed; the id is
normalised by its scheme's rule (SCHEME_RULES, the table below), or by the documented default: trimmed,
inner runs of whitespace made one space, case kept (an unknown register may tell cases apart).

| scheme (org-id.guide) | rule | example |
| --- | --- | --- |
| LEI | no whitespace, upper case (ISO 17442; GLEIF prints groups of four) | "5493 00o8..." -> "549300O8..." |
| GB-COH | no whitespace, upper case; a number shorter than 8 is left-padded with zeros after its letter prefix | "sc0123 456" -> "SC0123456", "123456" -> "00123456", "sc12345" -> "SC012345" |
| DK-CVR | digits only (spaces, dots and dashes dropped; a "DK" VAT prefix dropped) | "DK 12 34 56 78" -> "12345678" |
| FI-PRO | the Business ID form NNNNNNN-N (a "FI" VAT prefix and spaces dropped; 8 bare digits get their dash; 6 digits are padded to 7) | "FI12345678" -> "1234567-8", "123456-7" -> "0123456-7" |
| IE-CRO | digits only, without leading zeros (the CRO prints numbers both ways) | "012 345" -> "12345" |
| RU-INN, RU-OGRN, RU-KPP, RU-OKPO | digits only | "7707 083893" -> "7707083893" |

Changing a rule changes keys: stores index keys at write time, so an existing store keeps its old keys for
records written before until they are written again (README, "One entity per identifier").
"""
from __future__ import annotations

import re
from collections.abc import Callable

from corpgraph.schema.records import Entity


def _compact(id: str) -> str:
    """No whitespace, upper case."""
    return "".join(id.split()).upper()


def _digits(id: str) -> str:
    """The id's digits only."""
    return "".join(ch for ch in id if ch.isdigit())


def _gb_coh(id: str) -> str:
    """A Companies House number: upper case, 8 characters with zeros after the letter prefix when shorter."""
    value = _compact(id)
    found = re.fullmatch(r"([A-Z]{0,2})(\d+)", value)
    if found and len(value) < 8:
        prefix, number = found.groups()
        return prefix + number.zfill(8 - len(prefix))
    return value


def _dk_cvr(id: str) -> str:
    """A CVR number: its digits (a DK VAT prefix and separators dropped)."""
    return _digits(_compact(id).removeprefix("DK"))


def _fi_pro(id: str) -> str:
    """A Finnish Business ID as NNNNNNN-N."""
    value = _compact(id).removeprefix("FI")
    if re.fullmatch(r"\d{8}", value):
        return f"{value[:7]}-{value[7]}"
    if re.fullmatch(r"\d{6}-\d", value):
        return "0" + value
    return value


def _ie_cro(id: str) -> str:
    """An Irish CRO number: its digits without leading zeros."""
    return _digits(id).lstrip("0") or _compact(id)


SCHEME_RULES: dict[str, Callable[[str], str]] = {
    "LEI": _compact,
    "GB-COH": _gb_coh,
    "DK-CVR": _dk_cvr,
    "FI-PRO": _fi_pro,
    "IE-CRO": _ie_cro,
    "RU-INN": _digits,
    "RU-OGRN": _digits,
    "RU-KPP": _digits,
    "RU-OKPO": _digits,
}


def default_rule(id: str) -> str:
    """The rule of a scheme without one: trimmed, inner whitespace one space, case kept."""
    return " ".join(id.split())


def identifier_key(scheme: str, id: str) -> str | None:
    """The normalised `SCHEME:ID` key of one identifier, or None when scheme or id is blank."""
    scheme = scheme.strip().upper()
    value = SCHEME_RULES.get(scheme, default_rule)(id)
    return f"{scheme}:{value}" if scheme and value else None


def entity_identifier_keys(record: Entity) -> list[str]:
    """The distinct normalised identifier keys of an entity, sorted."""
    keys = (identifier_key(i.scheme, i.id) for i in record.identifiers)
    return sorted({k for k in keys if k})


def parse_identifier_ref(text: str) -> str | None:
    """The key meant by a `SCHEME:ID` reference typed by a user (`LEI:549300...`), or None if it has no colon."""
    scheme, colon, value = text.partition(":")
    return identifier_key(scheme, value) if colon else None
