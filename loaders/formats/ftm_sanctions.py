"""FtM Sanction entities as designations: the native `Sanction` records (schema.records.Sanction) of one file.

Their property -> our field: `entity` -> the designated entity (one record per entity named), `authority`
-> authority, `program` -> program (a `reason`, often KBs of prose, stays in the cited source), `startDate` (else `listingDate`) -> valid_from,
`endDate` -> valid_to, `listingDate` -> listed_on; the regime from the authority by schema.regimes'
table, else the authority itself as given (upper case), else the Sanction's `country`. The Sanction is cited
in the designation's sources.

An OpenSanctions export may carry a listed entity without its Sanction entity (the topic `sanction` and the
list it comes from in `datasets`, as in the yente test data): when an entity of topic `sanction` belongs to
exactly one dataset of DATASET_REGIMES and no Sanction of the file names it, it is designated by that list's
regime, undated, with the dataset as program (docs/sanctions.md).
"""
from __future__ import annotations

from typing import Any

from corpgraph.schema.regimes import regime_of

from corpgraph.loaders.formats.coerce import source_date

# OpenSanctions datasets that are one regime's official list -> the regime (and the authority publishing it).
DATASET_REGIMES: dict[str, tuple[str, str]] = {
    "us_ofac_sdn": ("OFAC", "Office of Foreign Assets Control"),
    "us_ofac_cons": ("OFAC", "Office of Foreign Assets Control"),
    "eu_fsf": ("EU", "European Union"),
    "gb_hmt_sanctions": ("UK", "HM Treasury"),
    "gb_fcdo_sanctions": ("UK", "Foreign, Commonwealth & Development Office"),
    "un_sc_sanctions": ("UN", "United Nations Security Council"),
    "ch_seco_sanctions": ("CH-SECO", "State Secretariat for Economic Affairs"),
}


def designation(entity: str, props: dict[str, list[str]], dated: dict[str, Any], citation: dict[str, Any]
                ) -> dict[str, Any]:
    """The native Sanction record of one entity an FtM Sanction names (`dated`: its valid_from/valid_to)."""
    authority = _first(props, "authority")
    record: dict[str, Any] = {"type": "Sanction", "entity": entity, "regime": _regime(authority, props),
                              "sources": [citation], **dated}
    if authority:
        record["authority"] = authority
    program = _first(props, "program")
    if program:
        record["program"] = program
    listed = _first(props, "listingDate")
    if listed:
        try:
            record["listed_on"], _ = source_date(listed)
        except ValueError:
            pass  # the listing date is informative beside valid_from; a Sanction without it still designates
        if "valid_from" not in record and "listed_on" in record:
            record["valid_from"] = record["listed_on"]
    return record


def listed_by_dataset(entity: str, datasets: Any, source: dict[str, Any]) -> dict[str, Any] | None:
    """The undated designation of a `sanction`-topic entity whose only dataset is one regime's list, or None."""
    if not isinstance(datasets, list) or len(datasets) != 1 or datasets[0] not in DATASET_REGIMES:
        return None
    regime, authority = DATASET_REGIMES[datasets[0]]
    return {"type": "Sanction", "entity": entity, "regime": regime, "authority": authority, "program": datasets[0],
            "sources": [source], "as_given": {"regime": f"from the OpenSanctions dataset {datasets[0]}"}}


def _regime(authority: str | None, props: dict[str, list[str]]) -> str:
    """The regime code: the table's, else the authority as given, else the sanctioning country."""
    return regime_of(authority) or authority or _first(props, "country") or "UNSPECIFIED"


def _first(props: dict[str, list[str]], name: str) -> str | None:
    """The first non-blank value of a property, or None."""
    return next((value.strip() for value in props.get(name, []) if value.strip()), None)
