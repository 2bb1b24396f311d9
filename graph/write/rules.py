"""The rules every write is checked against, whichever store runs them: endpoint kinds and incidents, one type an id.

One statement of each rule, used by the in-memory check of a batch (graph.write.ingest), the embedded store's
streamed load (graph.stores.sqlite_stream) and `corpgraph check` over a stored graph (graph.write.integrity).
Only the wording of a missing id differs between a load ("load the entity first") and a stored graph.
"""
from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass

from corpgraph.schema.declaration import RELATIONS
from corpgraph.schema.kinds import EntityType


@dataclass(frozen=True)
class Wording:
    """How a missing endpoint and a missing incident are said ({ref!r} is filled in)."""

    unknown: str
    not_incident: str


_SPECS = {kind.value: spec for kind, spec in RELATIONS.items()}  # by name: the enum's own lookup costs more per record
LOADING = Wording("unknown id {ref!r}: load the entity first or in the same file", "{ref!r} is not a known Incident id")
STORED = Wording("{ref!r} is not a stored entity", "{ref!r} is not a stored Incident")


def declared_earlier(id: str, earlier: EntityType) -> tuple[str, str]:
    """(field, reason) of a record whose id an earlier record of the same load declared as another type."""
    return "type", f"id {id!r} is declared earlier as {earlier.value}"


def referenced_ids(rec: object) -> list[str]:
    """Ids a relation record points at (endpoints and, for data supplies, the incident)."""
    ids = [rec.source, rec.target]  # type: ignore[attr-defined]
    incident = vars(rec).get("incident")
    return ids + [incident] if incident else ids


def endpoint_problems(rec: object, known: Mapping[str, EntityType], wording: Wording,
                      failed: Container[str] = ()) -> list[tuple[str, str]]:
    """(field, reason) of each endpoint that is missing or of a kind its relation type does not join.

    Ids in `failed` (their own record failed validation, already reported) are not reported again.
    """
    spec = _SPECS[rec.type]  # type: ignore[attr-defined]
    fields = vars(rec)
    if known.get(fields["source"]) in spec.sources and known.get(fields["target"]) in spec.targets and \
            not fields.get("incident"):
        return []  # the common case, decided in one pass (a load checks every relation of its file here)
    kind = spec.type
    out: list[tuple[str, str]] = []
    for field, allowed in (("source", spec.sources), ("target", spec.targets)):
        ref = getattr(rec, field)
        found = known.get(ref)
        if found is None:
            if ref not in failed:
                out.append((field, wording.unknown.format(ref=ref)))
        elif found not in allowed:
            names = " or ".join(sorted(k.value for k in allowed))
            out.append((field, f"{ref!r} is a {found.value}; {kind.value} {field} must be {names}"))
    incident = vars(rec).get("incident")
    if incident and known.get(incident) != EntityType.INCIDENT and incident not in failed:
        out.append(("incident", wording.not_incident.format(ref=incident)))
    return out
