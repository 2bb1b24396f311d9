"""A counterparty to screen (corpgraph screen, GraphQL screen): who a portfolio row says it is, before matching."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from corpgraph.schema.records import Identifier, Strict
from corpgraph.schema.values import MAX_ITEMS, Country, Label, Name, parse_identifiers


def parse_counterparty_identifiers(value: Any) -> Any:
    """Identifiers as {scheme, id} objects, a {scheme: id} mapping, or `SCHEME:ID` texts (`;`-separated in CSV)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(";") if part.strip()]
    if isinstance(value, list):
        return [_scheme_and_id(item) if isinstance(item, str) else item for item in value]
    return parse_identifiers(value)


def _scheme_and_id(text: str) -> dict[str, str]:
    """`LEI:5493...` as {scheme, id}; a text without a scheme is refused."""
    scheme, sep, id = text.partition(":")
    if not sep or not scheme.strip() or not id.strip():
        raise ValueError(f"expected SCHEME:ID (LEI:5493..., GB-COH:03209885), got {text!r}")
    return {"scheme": scheme.strip(), "id": id.strip()}


class Counterparty(Strict):
    """One row of a portfolio: a name, optionally a country, identifiers and the entity id it is known by."""

    name: Name
    country: Country = None
    identifiers: Annotated[list[Identifier], BeforeValidator(parse_counterparty_identifiers)] = Field(
        default_factory=list, max_length=MAX_ITEMS)
    id: Label | None = None  # a corpgraph entity id or SCHEME:ID, when the portfolio already knows it
