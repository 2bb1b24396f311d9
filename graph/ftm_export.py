"""The sanctions answers given back as FollowTheMoney entities (`corpgraph export --format ftm`), for OpenSanctions
and yente users to take into their tools.

What is written, at one date, for the ruled regimes asked for:
- every entity a rule blocks (or may block) without a listing of its own, with the topic `sanction.control` and
  one note per regime giving the status and the blocked holders' aggregate share with its bounds;
- every listed or blocked direct holder of those, with `sanction` (listed) or `sanction.control`;
- an `Ownership` (owner, asset, percentage 0-100, startDate) for each of those holders' stakes, and a `Sanction`
  (entity, authority, program, startDate, endDate) for each designation of the listed ones.
Ids: an entity imported from FtM (`ftm:<id>`) gets its own id back; others keep corpgraph's. Loading the file
back (`corpgraph load`) gives the same statuses (tests/test_ftm_export.py).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

import numpy as np

from corpgraph.schema.records import Entity
from corpgraph.schema.regimes import RULED

from corpgraph.graph.analytics import sanctions
from corpgraph.graph.analytics.results import Designation, SanctionsStatus
from corpgraph.graph.projection.build import AsOfView
from corpgraph.graph.service import CorpGraph

# Our entity type -> their schema (an Actor is no FtM party type: a LegalEntity is the nearest).
SCHEMATA = {"Company": "Company", "Person": "Person", "Organization": "Organization", "Actor": "LegalEntity"}
_READ = 1000  # entity records read per store call


def ftm_entities(graph: CorpGraph, as_of: date | None = None,
                 regimes: Sequence[str] = RULED) -> Iterator[dict[str, Any]]:
    """The FtM entities (dicts of id, schema, properties) of the sanctions answers at the date."""
    day = as_of or date.today()
    view = graph.projection().view(day)
    proj = view.projection
    notes: dict[int, list[str]] = {}
    listed: set[int] = set()
    stakes: set[int] = set()
    for regime in regimes:
        found = sanctions.outcome(view, regime)
        for node in found.candidates().tolist():
            notes.setdefault(node, []).append(_note(found, node, day))
            owners, edges = view.up.of(node)
            held = found.high.frozen[owners]
            stakes.update(edges[held].tolist())
            listed.update(int(o) for o in owners[held & found.low.listed[owners]])
    nodes = sorted(set(notes) | {int(proj.src[e]) for e in stakes})
    ids = proj.ids.ids(nodes)
    for chunk in range(0, len(ids), _READ):
        records = graph.entities(ids[chunk:chunk + _READ])
        for node, id in zip(nodes[chunk:chunk + _READ], ids[chunk:chunk + _READ]):
            if id in records:
                yield _party(records[id], node in listed, notes.get(node, []))
    for edge in sorted(stakes):
        yield _ownership(view, edge)
    for node in sorted(listed):
        for designation in graph.designations(proj.ids[node], day):
            if designation.regime in regimes:
                yield _sanction(designation)


def ftm_id(id: str) -> str:
    """The FtM id of a corpgraph id: an entity imported from FtM gets its own id back."""
    return id.removeprefix("ftm:")


def _party(record: Entity, listed: bool, notes: list[str]) -> dict[str, Any]:
    """A Company, Person, Organization or LegalEntity with its names, country, topics and notes."""
    topics = list(dict.fromkeys([*record.topics, *(["sanction"] if listed else []),
                                 *(["sanction.control"] if notes else [])]))
    props: dict[str, list[str]] = {"name": [record.name], "topics": topics}
    if record.aliases:
        props["alias"] = list(record.aliases)
    country = getattr(record, "country", None)
    if country:
        props["country"] = [country.lower()]
    if notes:
        props["notes"] = notes
    return {"id": ftm_id(record.id), "schema": SCHEMATA.get(record.type, "LegalEntity"),  # type: ignore[attr-defined]
            "properties": props}


def _note(found: sanctions.Outcome, node: int, day: date) -> str:
    """One regime's answer for a blocked entity, with the percentages."""
    status = found.status(node)
    low, high = found.low.aggregate[node] * 100, found.high.aggregate[node] * 100
    bounds = "" if abs(high - low) < 1e-9 else f" (between {low:.6g}% and {high:.6g}%)"
    control = " and a controlling interest" if status == SanctionsStatus.BLOCKED_BY_CONTROL else ""
    return (f"{found.rule.regime}: {status.value} as of {day}: listed and blocked holders hold "
            f"{found.point.aggregate[node] * 100:.6g}%{bounds}{control} (corpgraph, docs/sanctions.md)")


def _ownership(view: AsOfView, edge: int) -> dict[str, Any]:
    """An FtM Ownership of one stake, its percentage as the view counts it."""
    proj = view.projection
    owner, asset = proj.ids[int(proj.src[edge])], proj.ids[int(proj.dst[edge])]
    props: dict[str, list[str]] = {"owner": [ftm_id(owner)], "asset": [ftm_id(asset)]}
    share = view.point_share(edge)
    if share is not None:
        props["percentage"] = [f"{share * 100:.6g}"]
    low, high = proj.ranges(np.array([edge]))
    if low[0] == low[0] and high[0] == high[0]:  # a reported range: FtM writes it "25-50"
        props["percentage"] = [f"{low[0] * 100:.6g}-{high[0] * 100:.6g}"]
    return {"id": _hashed("ownership", proj.relation_ids[edge]), "schema": "Ownership", "properties": props}


def _sanction(found: Designation) -> dict[str, Any]:
    """An FtM Sanction of one designation."""
    props: dict[str, list[str]] = {"entity": [ftm_id(found.entity)]}
    for name, value in (("authority", found.authority or found.regime), ("program", found.program),
                        ("startDate", found.valid_from), ("endDate", found.valid_to)):
        if value is not None:
            props[name] = [str(value)]
    return {"id": _hashed("sanction", found.relation_id), "schema": "Sanction", "properties": props}


def _hashed(kind: str, relation_id: str) -> str:
    """A stable FtM id for a relation (FtM ids are plain text without `|`)."""
    return f"{kind}-{hashlib.sha1(relation_id.encode()).hexdigest()[:20]}"


def lines(entities: Iterable[dict[str, Any]]) -> Iterator[str]:
    """JSON Lines text of FtM entities."""
    for entity in entities:
        yield json.dumps(entity, ensure_ascii=False) + "\n"
