"""The one declaration of entity and relation types; loaders, stores, projection, API and exports read it."""
from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from corpgraph.schema import records as r
from corpgraph.schema.batch import Batch, Origin
from corpgraph.schema.kinds import EntityType, RelationType

E = EntityType


@dataclass(frozen=True)
class EntitySpec:
    """An entity type: its label (also the Neo4j label) and its record model, which describes it."""

    type: EntityType
    model: builtins.type[r.Entity]  # builtins: the field `type` shadows the name inside the class

    @property
    def description(self) -> str:
        """What the type is: the record model's docstring, the one text every place shows (GraphQL included)."""
        return (self.model.__doc__ or self.type.value).strip().splitlines()[0]


@dataclass(frozen=True)
class RelationSpec:
    """A relation type: endpoints, identity key, record model, and whether analytics read it."""

    type: RelationType
    model: builtins.type[r.Relation]
    sources: frozenset[EntityType]
    targets: frozenset[EntityType]
    key: tuple[str, ...]
    analytic: bool
    description: str

    def relation_id(self, record: r.Relation) -> str:
        """Identity of a relation: type, endpoints and the key properties (see README, 'Relation identity')."""
        parts = [self.type.value, record.source, record.target]
        for name in self.key:
            value = getattr(record, name)
            parts.append("" if value is None else str(value))
        return "|".join(parts)


ENTITIES: dict[EntityType, EntitySpec] = {
    spec.type: spec
    for spec in (
        EntitySpec(E.COMPANY, r.Company),
        EntitySpec(E.PERSON, r.Person),
        EntitySpec(E.ORGANIZATION, r.Organization),
        EntitySpec(E.ACTOR, r.Actor),
        EntitySpec(E.INCIDENT, r.Incident),
    )
}

_ANY = frozenset(EntityType)
_PARTIES = frozenset({E.COMPANY, E.PERSON, E.ORGANIZATION, E.ACTOR})
# Who can hold an interest (a state or public body too), and what an interest can be held in.
_HOLDERS = frozenset({E.COMPANY, E.PERSON, E.ORGANIZATION})
_CONTROLLED = frozenset({E.COMPANY, E.ORGANIZATION})

RELATIONS: dict[RelationType, RelationSpec] = {
    spec.type: spec
    for spec in (
        # A state body holds shares too (BODS `state`/`stateBody` interested parties: a finance ministry).
        RelationSpec(RelationType.OWNS, r.Owns, _HOLDERS, frozenset({E.COMPANY}),
                     ("valid_from",), True, "Owner holds a share of a company."),
        RelationSpec(RelationType.RESPONSIBLE_FOR, r.ResponsibleFor, frozenset({E.COMPANY}),
                     frozenset({E.INCIDENT}), ("role",), True, "A company answers for an incident."),
        RelationSpec(RelationType.PERPETRATED, r.Perpetrated, frozenset({E.ACTOR}), frozenset({E.INCIDENT}),
                     (), True, "An actor carried out an incident."),
        RelationSpec(RelationType.AFFECTED, r.Affected, frozenset({E.INCIDENT}), _ANY - {E.INCIDENT},
                     (), True, "An incident hit an entity."),
        RelationSpec(RelationType.SUPPLIED_DATA_TO, r.SuppliedDataTo, frozenset({E.COMPANY}),
                     _PARTIES - {E.ACTOR}, ("incident",), True, "A company handed data to another party."),
        RelationSpec(RelationType.DEPENDS_ON, r.DependsOn, frozenset({E.COMPANY}), frozenset({E.COMPANY}),
                     ("service",), True, "A company relies on another for a service."),
        RelationSpec(RelationType.REPORTED, r.Reported, frozenset({E.ORGANIZATION}), frozenset({E.INCIDENT}),
                     (), False, "An organization reported on or investigated an incident."),
        RelationSpec(RelationType.CONTROLS, r.Controls, _HOLDERS, _CONTROLLED, ("kind", "valid_from"), True,
                     "Owner has an interest other than shares (votes, board appointment, consolidation)."),
        RelationSpec(RelationType.OFFICER_OF, r.OfficerOf, _HOLDERS, _CONTROLLED,
                     ("role", "valid_from"), False, "A person or company serves a company as director or officer."),
        RelationSpec(RelationType.FUND_LINK, r.FundLink, frozenset({E.COMPANY}), frozenset({E.COMPANY}),
                     ("kind",), False, "A fund's tie to its manager, umbrella or master fund; not ownership."),
        RelationSpec(RelationType.DECLARED_INTEREST, r.DeclaredInterest, _HOLDERS, _CONTROLLED,
                     ("kind", "valid_from"), True,
                     "A source's declared indirect interest or ultimate parent, kept beside the computed one."),
        RelationSpec(RelationType.RELATED_TO, r.RelatedTo, _HOLDERS, _HOLDERS, ("kind", "valid_from"), False,
                     "Two parties are related (family, associates, another named link); never ownership."),
        RelationSpec(RelationType.PAID, r.Paid, _HOLDERS, _HOLDERS, ("valid_from", "reference"), False,
                     "A party paid another (a donation, a contract payment); a flow of money, never ownership."),
        # A designation has one entity (source = target); `kind` holds its regime (schema.records.Sanction).
        RelationSpec(RelationType.SANCTION, r.Sanction, _PARTIES, _PARTIES, ("kind", "program", "valid_from"), True,
                     "A sanctions designation of an entity, in force from listing to delisting."),
        # Declared last: analytic types are coded by position in projection snapshots, so a new one goes at the end.
        # Analytic because liability chains show it beside the perpetrators; it gives the party no weight.
        RelationSpec(RelationType.ATTRIBUTED_TO, r.AttributedTo, frozenset({E.ACTOR}), _PARTIES, (), True,
                     "An actor is attributed to a party (a state body, company, person or another actor); "
                     "never a liability."),
    )
}

# Relations whose two ends are one entity by design (a designation): merging entities never drops them as loops.
ONE_ENTITY: frozenset[RelationType] = frozenset({RelationType.SANCTION})
ANALYTIC_RELATIONS: tuple[RelationType, ...] = tuple(t for t, s in RELATIONS.items() if s.analytic)
# The scalars of a relation the analytics read, kept by both stores beside the full record (columns,
# relationship properties) and streamed to the projection: the share, the validity interval [valid_from,
# valid_to) and the incident a data supply belongs to. Dates travel as ISO text.
# A reported range (share_min, share_max) and the interest kind (CONTROLS' interest type, which the control
# rule reads, and DECLARED_INTEREST's kind) come after them.
ANALYTIC_FIELDS: tuple[str, ...] = ("share", "valid_from", "valid_to", "incident", "share_min", "share_max", "kind",
                                    "share_min_exclusive")
# Every column of the projection's feed (graph.stores.base.EdgeRow): identity, type, endpoints, the scalars.
EDGE_FIELDS: tuple[str, ...] = ("id", "type", "source", "target", *ANALYTIC_FIELDS)


def endpoint_kinds(*ends: tuple[RelationType, str]) -> tuple[EntityType, ...]:
    """The entity types that can stand at the given ends ((OWNS, "sources"), ...), in declaration order."""
    allowed = set().union(*(getattr(RELATIONS[kind], end) for kind, end in ends))
    return tuple(kind for kind in EntityType if kind in allowed)


_BY_NAME: dict[str, EntitySpec | RelationSpec] = {
    **{key.value: spec for key, spec in ENTITIES.items()},
    **{key.value: spec for key, spec in RELATIONS.items()},
}


def spec_for(type_name: str) -> EntitySpec | RelationSpec | None:
    """The spec named by a record's `type` field, or None when no type has that name."""
    return _BY_NAME.get(type_name)


def parse_record(data: dict[str, Any]) -> r.Entity | r.Relation:
    """Validate one raw record (with its `type`) into its model; raises pydantic's ValidationError or KeyError."""
    spec = spec_for(str(data.get("type", "")))
    if spec is None:
        raise KeyError(data.get("type"))
    return spec.model.model_validate(data)


def parsed_batch(label: str, *raw: dict[str, Any]) -> Batch:
    """A batch of raw records (entities and relations in any order), each validated by parse_record, its origin
    the label and the record's place (1, 2, ...)."""
    out = Batch(label)
    for line, data in enumerate(raw, start=1):
        record = parse_record(data)
        if isinstance(record, r.Entity):
            out.entities.append((record, Origin(label, line)))
        else:
            out.relations.append((record, Origin(label, line)))
    return out


def relation_id(record: r.Relation) -> str:
    """Identity of any relation record (see RelationSpec.relation_id)."""
    return _BY_NAME[record.type].relation_id(record)  # type: ignore[attr-defined, union-attr]


def entity_type(record: r.Entity) -> EntityType:
    """The EntityType of an entity record."""
    return EntityType(record.type)  # type: ignore[attr-defined]
