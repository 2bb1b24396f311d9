"""GraphQL types: each lists the fields it exposes and is built from a record or an answer of graph/."""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON
from strawberry.types import Info

from corpgraph.graph.analytics import results as res
from corpgraph.graph.analytics.disagreements import Disagreement
from corpgraph.graph.browse import Page
from corpgraph.schema import records as rec
from corpgraph.schema.declaration import ENTITIES, RELATIONS
from corpgraph.schema.kinds import EntityType, IncidentCategory, RelationType

from corpgraph.api.context import Context
from corpgraph.api.fast_lists import CONTEXT_ONLY
from corpgraph.api.field_decorators import NEEDS_BOUNDS, NEEDS_PATHS, resolver

# The GraphQL enums are the domain enums themselves: one declaration, no second list to drift.
EntityTypeEnum = strawberry.enum(EntityType, description="Kinds of node in the graph.")
RelationTypeEnum = strawberry.enum(RelationType, description="Kinds of edge in the graph.")
# Each value's description is its declaration's (schema.declaration.RELATIONS), as the entity types' are.
for _value in RelationTypeEnum.__strawberry_definition__.values:  # type: ignore[attr-defined]
    _value.description = RELATIONS[RelationType(_value.value)].description
IncidentCategoryEnum = strawberry.enum(IncidentCategory, description="What kind of harm an incident is.")
RoleEnum = strawberry.enum(res.Role, description="Why a party appears in a liability chain.")
ChannelEnum = strawberry.enum(res.Channel, name="ExposureChannel", description="How an entity is exposed to an incident.")

Ctx = Info[Context, None]
T = TypeVar("T")


@strawberry.type(description="Where a fact comes from (an article, a filing, a register).")
class Source:
    publisher: str = strawberry.field(description="Who published it.")
    title: str = strawberry.field(description="Title of the article or document.")
    url: str | None = strawberry.field(description="Where to read it, when known.")
    published_on: date | None = strawberry.field(description="Publication date, when known.")
    record_id: str | None = strawberry.field(description="The source's own id of the statement or record, for imports.")
    recorded_on: date | None = strawberry.field(description="Date of the source's statement (e.g. BODS statementDate).")
    source_type: str | None = strawberry.field(description="Kind of source (officialRegister, selfDeclaration, ...).")


@strawberry.type(description="A registry identifier: scheme and the id within it.")
class Identifier:
    scheme: str = strawberry.field(description="Scheme, e.g. LEI, GB-COH, DK-CVR.")
    id: str = strawberry.field(description="The identifier within the scheme.")


@strawberry.type(description="A postal address as its source gives it: the whole text, its parts, or both.")
class Address:
    kind: str | None = strawberry.field(description="What the address is to the entity, as the source says (registered, legal, headquarters, residence, ...).")
    full: str | None = strawberry.field(description="The whole address as one text.")
    street: str | None = strawberry.field(description="Street and number.")
    city: str | None = strawberry.field(description="City or locality.")
    postal_code: str | None = strawberry.field(description="Postal code.")
    region: str | None = strawberry.field(description="Region or state.")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 country code.")


@strawberry.type(description="A reported figure about a company (market share, users, volume).")
class Figure:
    label: str = strawberry.field(description="What the figure measures.")
    value: float = strawberry.field(description="The number as reported.")
    unit: str | None = strawberry.field(description="Unit of the value (CNY, users, fraction).")
    as_of: date | None = strawberry.field(description="Date the figure refers to.")


@strawberry.type(description="A sum of money with its currency.")
class Amount:
    value: float = strawberry.field(description="The sum.")
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    label: str | None = strawberry.field(description="What the sum is (revenue, fine).")


@strawberry.type(description="One impact of an incident as its source records it (STIX incident-core, VERIS).")
class Impact:
    category: str = strawberry.field(description="confidentiality, availability, integrity, monetary, ...")
    information_type: str | None = strawberry.field(description="Kind of information hit (pii, credentials, ...).")
    loss_type: str | None = strawberry.field(description="confirmed-loss, suspected-loss, ... as the source says.")
    # Float, not Int: counts beyond 2^31 occur.
    record_count: float | None = strawberry.field(description="Records hit, when the source counts them.")
    description: str | None = strawberry.field(description="Free-text description of the impact.")


@strawberry.interface(description="Any node of the graph: company, person, organization, actor or incident.")
class Entity:
    id: strawberry.ID = strawberry.field(description="Stable id, used by every other query.")
    type: EntityType = strawberry.field(description="Kind of entity.")
    name: str = strawberry.field(description="Main name.")
    aliases: list[str] = strawberry.field(description="Other names, in any script.")
    description: str | None = strawberry.field(description="Free-text description.")
    sources: list[Source] = strawberry.field(description="Where the entity is documented.")
    confidence: float | None = strawberry.field(description="Confidence in the record, 0..1, when given.")
    identifiers: list[Identifier] = strawberry.field(description="Registry identifiers (LEI, company numbers, ...).")
    addresses: list[Address] = strawberry.field(description="Postal addresses, as the sources give them.")
    topics: list[str] = strawberry.field(description="Risk topics in FollowTheMoney's vocabulary (sanction, role.pep, ...).")
    placeholder: bool = strawberry.field(description="True for an entity known only from a reference an imported file left open.")
    unknown_reason: str | None = strawberry.field(description="Why the party is unknown, as its source says; null for known parties.")

    @resolver(description="The entity's other ids: records merged into it by a shared identifier or a user's decision (`id` is the canonical one).")
    def referents(self, info: Ctx) -> list[strawberry.ID]:
        return [strawberry.ID(i) for i in info.context.graph.referents(self.id)]

    @classmethod
    def resolve_type(cls, obj: Any, info: Any, abstract_type: Any) -> str:
        """The GraphQL type of an entity object: its own class's (entity_from_record made it), without strawberry's
        cast and subclass checks per object (a fifth of a liability chain's execution)."""
        return str(obj.__strawberry_definition__.name)


@strawberry.type(description=ENTITIES[EntityType.COMPANY].description)
class Company(Entity):
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    figures: list[Figure] = strawberry.field(description="Reported figures.")
    status: str | None = strawberry.field(description="Registration status as the source gives it (ACTIVE, INACTIVE, ...).")


@strawberry.type(description=ENTITIES[EntityType.PERSON].description)
class Person(Entity):
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 country code.")


@strawberry.type(description=ENTITIES[EntityType.ORGANIZATION].description)
class Organization(Entity):
    kind: str | None = strawberry.field(description="What kind of body (media, police, regulator).")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 country code.")


@strawberry.type(description=ENTITIES[EntityType.ACTOR].description)
class Actor(Entity):
    kind: str | None = strawberry.field(description="What kind of actor (hacker, insider).")
    known: bool = strawberry.field(description="False when the actor is unidentified.")


@strawberry.type(description=ENTITIES[EntityType.INCIDENT].description)
class Incident(Entity):
    category: IncidentCategory = strawberry.field(description="What kind of harm.")
    occurred_on: date | None = strawberry.field(description="Day it happened.")
    ended_on: date | None = strawberry.field(description="Day it ended.")
    duration_hours: float | None = strawberry.field(description="How long it lasted, in hours.")
    # Float, not Int: GraphQL Int stops at 2^31 and leaks have exceeded three billion records.
    records_affected: float | None = strawberry.field(description="Records affected (lower bound).")
    records_affected_max: float | None = strawberry.field(description="Records affected (upper bound).")
    amounts: list[Amount] = strawberry.field(description="Sums of money involved.")
    determination: str | None = strawberry.field(description="confirmed, suspected or false-positive, as imported.")
    investigation_status: str | None = strawberry.field(description="new, open or closed, as imported.")
    incident_types: list[str] = strawberry.field(description="The source's own incident types (ransomware, ...).")
    impacts: list[Impact] = strawberry.field(description="Impacts as the source records them, with record counts.")


_ENTITY_TYPES: dict[EntityType, type[Entity]] = {
    EntityType.COMPANY: Company, EntityType.PERSON: Person, EntityType.ORGANIZATION: Organization,
    EntityType.ACTOR: Actor, EntityType.INCIDENT: Incident,
}
assert set(_ENTITY_TYPES) == set(ENTITIES), "every declared entity type needs a GraphQL type"
_NESTED: dict[type[BaseModel], type] = {rec.Source: Source, rec.Figure: Figure, rec.Amount: Amount,
                                         rec.Identifier: Identifier, rec.Impact: Impact, rec.Address: Address}


class _Converted:
    """A field of a lazy object (the entities entity_from_record makes, the answers from_result makes): converted from
    its source (`_record`, `_result`) the first time it is read, then kept in the object's __dict__, which Python reads
    before this descriptor. A descriptor rather than __getattr__: each first read through __getattr__ (and each
    `__await__` and strawberry cast looked up on the object) raised and caught an AttributeError, ~3 us."""

    def __init__(self, source: str, field: str) -> None:
        self.source, self.field, self.name = source, field, field

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        """The converted value (kept), or AttributeError when the object has no source (entity_of_type's)."""
        if obj is None:
            return self
        source = obj.__dict__.get(self.source)
        if source is None:
            raise AttributeError(self.name)
        value = getattr(source, self.field)
        if type(value) not in _LEAVES:  # a leaf as it is, with no call of _convert (answers have thousands)
            value = _convert(value)
        obj.__dict__[self.name] = value
        return value


class _Lazy:
    """Base of the entity objects entity_from_record makes: a field the type declares is converted from the record the
    first time it is read (_Converted). An answer lists hundreds of entities of which most queries select only `id`;
    converting every source, identifier and address of each was a tenth of a liability chain's request (cProfile at
    200k)."""


def entity_from_record(record: rec.Entity) -> Entity:
    """The GraphQL object of an entity record (only the fields its type declares, converted when read)."""
    made = entity_of_type(record.id, EntityType(record.type))  # type: ignore[attr-defined]
    made.__dict__["_record"] = record
    return made


def entity_of_type(id: str, kind: EntityType) -> Entity:
    """The GraphQL object of an entity known by id and type only, for a selection of nothing but `id` (Context.typed):
    any other field of it is absent (AttributeError), so a resolver must read the record when more is selected."""
    made: Any = object.__new__(_LAZY[kind])
    made.__dict__.update(_record=None, id=id, type=kind)
    return cast(Entity, made)


async def load_entity(info: Ctx, id: str) -> Entity:
    """Resolve an id through the request's DataLoader into its GraphQL object."""
    return await _loaded(info.context, id)


async def _loaded(context: Context, id: str) -> Entity:
    """The GraphQL object of an id, read through the request's DataLoader."""
    return entity_from_record(await context.entity(id))


def entity_now(context: Context, id: str | None) -> Entity | None:
    """The GraphQL object of an id (None for none): built at once when the answer's resolver read it
    (Context.read_entities) or from its type alone (Context.read_entity_types), else an awaitable through the
    DataLoader (graphql-core awaits what a resolver returns), for a sync resolver of a list item."""
    if not id:
        return None
    record = context.known.get(id)
    if record is not None:
        return entity_from_record(record)
    kind = context.typed.get(id)
    return cast(Entity, _loaded(context, id)) if kind is None else entity_of_type(id, kind)


# The entity fields of the answers that list entities by the hundred (GraphQL type, field) and the private id each
# reads. make_schema gives them plain graphql-core resolvers (direct_resolver): the same entity_now, without
# strawberry's Info object and argument handling per call, about 5% of a liability chain's request (cProfile).
DIRECT_ENTITY_FIELDS: dict[tuple[str, str], str] = {
    ("Party", "entity"): "entity_id", ("LiabilityChain", "incident"): "incident_id",
    ("ExposureItem", "incident"): "incident_id", ("ExposureItem", "via"): "via_id",
}


def direct_resolver(attribute: str) -> Callable[[Any, Any], Entity | None]:
    """A graphql-core resolver of one of DIRECT_ENTITY_FIELDS (its `info.context` is the request's Context)."""

    def resolve(source: Any, info: Any) -> Entity | None:
        return entity_now(info.context, getattr(source, attribute))

    setattr(resolve, CONTEXT_ONLY, True)  # it reads only info.context: api/fast_lists.py may call it with a list's info
    return resolve


@strawberry.type(description="One edge of an explaining path.")
class Hop:
    source: strawberry.ID = strawberry.field(name="from", description="Id of the entity the edge leaves.")
    target: strawberry.ID = strawberry.field(name="to", description="Id of the entity the edge enters.")
    type: RelationType = strawberry.field(description="Relation type of the edge.")
    relation_id: strawberry.ID = strawberry.field(description="Id of the relation (matches a graph edge id).")
    share: float | None = strawberry.field(description="Ownership share of the edge; null if unknown or not OWNS.")
    sources: list[Source] = strawberry.field(description="Where the edge is documented.")


@strawberry.type(description="A walk that explains a number; weight is the product of its shares.")
class Path:
    hops: list[Hop] = strawberry.field(description="Edges in walking order.")
    weight: float | None = strawberry.field(description="Product of the hop shares; null when one is unknown.")


@strawberry.type(description="A node of a graph payload.")
class GraphNode:
    id: strawberry.ID = strawberry.field(description="Entity id.")
    type: str = strawberry.field(description="Entity type as the EntityType enum spells it (COMPANY, INCIDENT, ...), for styling.")
    label: str = strawberry.field(description="Text to draw (the entity's name).")
    properties: JSON = strawberry.field(description="Other fields of the entity, as JSON.")


@strawberry.type(description="An edge of a graph payload.")
class GraphEdge:
    id: strawberry.ID = strawberry.field(description="Relation id.")
    source: strawberry.ID = strawberry.field(description="Id of the source node.")
    target: strawberry.ID = strawberry.field(description="Id of the target node.")
    type: str = strawberry.field(description="Relation type name (OWNS, RESPONSIBLE_FOR, ...).")
    properties: JSON = strawberry.field(description="Other fields of the relation, as JSON.")


@strawberry.type(description="Nodes and edges, the shape graph-visualisation clients take.")
class Graph:
    nodes: list[GraphNode] = strawberry.field(description="The nodes.")
    edges: list[GraphEdge] = strawberry.field(description="The edges; their ends are always among the nodes.")
    more_nodes: int = strawberry.field(description="Entities reached but left out by the size cap (CORPGRAPH_API_MAX_NODES): at least this many more; 0 when the graph is whole.")


@strawberry.type(description="What one source stated about a stake, shown when statements conflict.")
class Statement:
    relation_id: strawberry.ID = strawberry.field(description="Id of the stored relation (the source's own statement).")
    share: float | None = strawberry.field(description="The share it states, 0..1; null if unknown.")
    valid_from: date | None = strawberry.field(description="From when it says the stake holds.")
    valid_to: date | None = strawberry.field(description="Until when it says the stake holds (exclusive).")
    sources: list[Source] = strawberry.field(description="Who stated it, and when.")


def statement_from(rel_id: str, record: rec.Relation) -> Statement:
    """The GraphQL object of one stored statement of a stake."""
    fields = vars(record)
    return Statement(relation_id=strawberry.ID(rel_id), share=fields.get("share"), valid_from=fields.get("valid_from"),
                     valid_to=fields.get("valid_to"), sources=_convert(record.sources))


@strawberry.type(description="What a source declares instead of an edge: an indirect share (BODS) or an ultimate parent (GLEIF).")
class Declaration:
    kind: str = strawberry.field(description="indirect_ownership or ultimate_parent, as the importer wrote it.")
    share: float | None = strawberry.field(description="The declared share, 0..1, when exact.")
    share_min: float | None = strawberry.field(description="Lower end of a declared range, when given.")
    share_max: float | None = strawberry.field(description="Upper end of a declared range, when given.")
    relation_id: strawberry.ID = strawberry.field(description="Id of the DECLARED_INTEREST relation (its sources say who declares it).")


@strawberry.type(description="An owner's stake in a company: direct, integrated (through chains) and control.")
class Holding:
    owner_id: strawberry.Private[str]
    company_id: strawberry.Private[str]
    statement_ids: strawberry.Private[tuple[str, ...]]
    direct: float | None = strawberry.field(description="Share held directly, 0..1; null if none or unknown.")
    integrated: float | None = strawberry.field(description="Share held directly and through chains, 0..1.")
    controls: bool = strawberry.field(description="True when the owner controls the company (majority, to a fixed point).")
    unknown: bool = strawberry.field(description="True when a share on the way is unknown, so numbers are lower bounds.")
    over_allocated: bool = strawberry.field(description="True when a walk enters a company whose owners' shares (imported) summed above 100%; its shares were scaled to 100% for this number.")
    integrated_min: float | None = strawberry.field(description="Exact lower bound of integrated: every reported range at its minimum, unknown shares at 0; null for a holder with no share.", metadata=NEEDS_BOUNDS)
    integrated_max: float | None = strawberry.field(description="Exact upper bound of integrated: every range at its maximum, unknown shares at what the other owners' minimums leave free; null for a holder with no share.", metadata=NEEDS_BOUNDS)
    integrated_max_exact: bool = strawberry.field(description="False when the maximums close a loop with no convergent sum: integratedMax is then 1, a true bound but not the exact maximum.", metadata=NEEDS_BOUNDS)
    estimate: bool = strawberry.field(description="True when integrated counts the midpoint of a reported range (integratedMin/integratedMax are exact).")
    may_control: bool = strawberry.field(description="True when the owner controls the company with every range at its maximum (controls holds at the minimums).", metadata=NEEDS_BOUNDS)
    interests: list[str] = strawberry.field(description="The owner's own non-share interests in the company (CONTROLS kinds: votingRights, appointmentOfBoard, ...).")
    declared: list[Declaration] = strawberry.field(description="What sources declare about this owner and company, shown beside the computed figures.")
    conflicting: bool = strawberry.field(description="True when sources disagree on the direct stake (the latest published counts) or two stakes are valid the same day (the latest valid_from counts; never summed).")

    @resolver(description="What each source said about the direct stake when it is conflicting, the one that counts first; empty otherwise.")
    def statements(self, info: Ctx) -> list[Statement]:
        found = info.context.graph.relations(list(self.statement_ids))
        return [statement_from(i, found[i].record) for i in self.statement_ids if i in found]
    cursor: str = strawberry.field(description="Pass as `after` to get the holdings that follow this one.")
    count: int = strawberry.field(description="How many holdings the whole answer has, all pages together (the same on every item).")

    @resolver(description="The owner.")
    async def owner(self, info: Ctx) -> Entity:
        return await load_entity(info, self.owner_id)

    @resolver(description="The company owned.")
    async def company(self, info: Ctx) -> Entity:
        return await load_entity(info, self.company_id)


@strawberry.type(description="A party of a liability chain.")
class Party:
    entity_id: strawberry.Private[str]
    role: res.Role = strawberry.field(description="Why the party is liable.")
    weight: float | None = strawberry.field(description="How much of the responsible company's liability reaches it (ownership share for OWNER).")
    controls: bool = strawberry.field(description="True when the party controls a responsible company.")
    unknown: bool = strawberry.field(description="True when a share on the way is unknown.")
    detail: str | None = strawberry.field(description="Extra detail (the responsible role, what data was received).")
    paths: list[Path] = strawberry.field(description="Paths from the party to the incident that explain the weight (top 3 by product of shares, within maxDepth).", metadata=NEEDS_PATHS)
    over_allocated: bool = strawberry.field(description="True when the weight went through a company whose owners' shares (imported) summed above 100%, scaled to 100%.")
    paths_cut_short: bool = strawberry.field(description="OWNER: True when maxDepth cut the paths short: fewer than the 3 paths shown lie within maxDepth hops, and together they explain less than weight (longer walks, or walks around a cross-holding loop, carry the rest; the weight is still exact).", metadata=NEEDS_PATHS)
    weight_min: float | None = strawberry.field(description="Exact lower bound of weight (OWNER: integratedMin); null for a controller with no share.", metadata=NEEDS_BOUNDS)
    weight_max: float | None = strawberry.field(description="Exact upper bound of weight (OWNER: integratedMax); null for a controller with no share.", metadata=NEEDS_BOUNDS)
    weight_max_exact: bool = strawberry.field(description="False when weightMax is 1 only as a true bound (OWNER: integratedMaxExact).", metadata=NEEDS_BOUNDS)
    estimate: bool = strawberry.field(description="True when weight counts the midpoint of a reported range.")
    may_control: bool = strawberry.field(description="True when the party controls the responsible company with every range at its maximum.", metadata=NEEDS_BOUNDS)
    interests: list[str] = strawberry.field(description="OWNER: its own non-share interests in the responsible company (CONTROLS kinds).")
    declared: list[Declaration] = strawberry.field(description="OWNER: declared indirect share in the responsible company; RESPONSIBLE: its declared ultimate parent; beside the computed figure.")
    controlling_parent_id: strawberry.Private[str | None]
    attributed_to_ids: strawberry.Private[list[str]]

    @resolver(description="Always false: the path search no longer stops at a step cap; see pathsCutShort.",
              deprecation_reason="The path search has no step cap any more; use pathsCutShort.")
    def paths_truncated(self) -> bool:
        return False

    @resolver(description="RESPONSIBLE: the controlling parent corpgraph computes (control rule), to compare with a declared ultimate parent; null when nobody controls it.")
    async def controlling_parent(self, info: Ctx) -> Entity | None:
        return await load_entity(info, self.controlling_parent_id) if self.controlling_parent_id else None

    @resolver(description="The liable entity.")
    def entity(self, info: Ctx) -> Entity:
        return cast(Entity, entity_now(info.context, self.entity_id))  # DIRECT_ENTITY_FIELDS: the schema's resolver

    @resolver(description="PERPETRATOR: whom the actor is attributed to (ATTRIBUTED_TO, followed on through attributed "
                          "actors), as sources state it; shown, never liable: these parties carry no weight.")
    async def attributed_to(self, info: Ctx) -> list[Entity]:
        return list(await asyncio.gather(*(load_entity(info, id) for id in self.attributed_to_ids)))


@strawberry.type(description="Everyone liable for an incident as of a date, and the subgraph that explains it.")
class LiabilityChain:
    incident_id: strawberry.Private[str]
    as_of: date = strawberry.field(description="Date ownership was taken at.")
    parties: list[Party] = strawberry.field(description="Liable parties, strongest first.")
    graph: Graph = strawberry.field(description="The explaining subgraph, to draw.", metadata=NEEDS_PATHS)
    owners_total: int = strawberry.field(description="OWNER parties that met minShare; parties holds the strongest maxOwners per responsible company.")

    @resolver(description="The incident.")
    def incident(self, info: Ctx) -> Entity:
        return cast(Entity, entity_now(info.context, self.incident_id))  # DIRECT_ENTITY_FIELDS: the schema's resolver


@strawberry.type(description="One incident an entity is exposed to, through one channel.")
class ExposureItem:
    incident_id: strawberry.Private[str]
    via_id: strawberry.Private[str | None]
    channel: res.Channel = strawberry.field(description="How the exposure arises.")
    weight: float = strawberry.field(description="Share of the incident's impact that reaches the entity, 0..1.")
    paths: list[Path] = strawberry.field(description="Paths that explain the weight.", metadata=NEEDS_PATHS)
    impact: JSON = strawberry.field(description="The incident's impact figures weighted by `weight`.")
    over_allocated: bool = strawberry.field(description="True when the weight went through a company whose owners' shares (imported) summed above 100%, scaled to 100%.")
    unknown: bool = strawberry.field(description="True when an unknown share lies on the way, so weight is a lower bound.")
    weight_min: float | None = strawberry.field(description="Exact lower bound of weight: every reported range at its minimum, unknown shares at 0.", metadata=NEEDS_BOUNDS)
    weight_max: float | None = strawberry.field(description="Exact upper bound of weight: every range at its maximum, unknown shares at what the other owners' minimums leave free.", metadata=NEEDS_BOUNDS)
    weight_max_exact: bool = strawberry.field(description="False when weightMax is 1 only as a true bound (see Holding.integratedMaxExact).", metadata=NEEDS_BOUNDS)
    estimate: bool = strawberry.field(description="True when weight counts the midpoint of a reported range.")
    cursor: str = strawberry.field(description="Pass as `after` to get the items that follow this one.")

    @resolver(description="Always false: the path search no longer stops at a step cap.",
              deprecation_reason="The path search has no step cap any more.")
    def paths_truncated(self) -> bool:
        return False

    @resolver(description="The incident.")
    def incident(self, info: Ctx) -> Entity:
        return cast(Entity, entity_now(info.context, self.incident_id))  # DIRECT_ENTITY_FIELDS: the schema's resolver

    @resolver(description="The entity the exposure passes through (e.g. the responsible company), if any.")
    def via(self, info: Ctx) -> Entity | None:
        return entity_now(info.context, self.via_id)  # DIRECT_ENTITY_FIELDS: the schema's resolver


@strawberry.type(description="Incidents an entity is exposed to, with weighted totals and the subgraph.")
class Exposure:
    entity_id: strawberry.Private[str]
    as_of: date = strawberry.field(description="Date ownership and dependencies were taken at.")
    items: list[ExposureItem] = strawberry.field(description="One page of exposures (`first`, `after`), largest weight x impact first: weight times the incident's recordsAffectedMax, else recordsAffected, else 1; ties by weight, then incident id, channel and via.")
    totals: JSON = strawberry.field(description="Impact figures summed over every item of all pages, each incident once at its largest weight.")
    graph: Graph = strawberry.field(description="The subgraph that explains this page's items, to draw.", metadata=NEEDS_PATHS)
    count: int = strawberry.field(description="How many items the whole answer has, all pages together.")

    @resolver(description="The exposed entity.")
    async def entity(self, info: Ctx) -> Entity:
        return await load_entity(info, self.entity_id)


@strawberry.type(description="A declared indirect share or ultimate parent that disagrees with what corpgraph computes.")
class DeclaredDisagreement:
    company_id: strawberry.Private[str]
    holder_id: strawberry.Private[str]
    controlling_parent_id: strawberry.Private[str | None]
    declared: Declaration = strawberry.field(description="What the source declares.")
    integrated: float | None = strawberry.field(description="indirect_ownership: the holder's computed integrated share in the company (null when only unknown shares link them).")
    integrated_min: float | None = strawberry.field(description="indirect_ownership: exact lower bound of the computed share.")
    integrated_max: float | None = strawberry.field(description="indirect_ownership: exact upper bound of the computed share.")

    @resolver(description="The company the declaration is about.")
    async def company(self, info: Ctx) -> Entity:
        return await load_entity(info, self.company_id)

    @resolver(description="Who the source declares as indirect holder or ultimate parent.")
    async def holder(self, info: Ctx) -> Entity:
        return await load_entity(info, self.holder_id)

    @resolver(description="ultimate_parent: the controlling parent corpgraph computes; null when nobody controls the company.")
    async def controlling_parent(self, info: Ctx) -> Entity | None:
        return await load_entity(info, self.controlling_parent_id) if self.controlling_parent_id else None


@strawberry.type(description="Where a page ends and whether more follow.")
class PageInfo:
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")
    has_next_page: bool = strawberry.field(description="True when another page follows.")


@strawberry.type(description="A page of results with its cursor.")
class Connection(Generic[T]):
    nodes: list[T] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Cursor and whether more pages follow.")


def connection_from(page: Page) -> Connection[Any]:
    """A GraphQL page of entities."""
    nodes = [entity_from_record(e) for e in page.items]
    return Connection(nodes=nodes, page_info=PageInfo(end_cursor=page.end_cursor, has_next_page=page.has_next_page))


@strawberry.type(description="What an upsert wrote.")
class UpsertResult:
    entities: int = strawberry.field(description="Entity records written.")
    relations: int = strawberry.field(description="Relation records written.")


@strawberry.type(description="Two entities that may be the same, with the score and the reasons (see README, 'Matching entities').")
class MatchCandidate:
    a_id: strawberry.ID = strawberry.field(description="One entity's id.")
    b_id: strawberry.ID = strawberry.field(description="The other entity's id.")
    score: float = strawberry.field(description="0..1; nothing is merged on a score alone.")
    reasons: list[str] = strawberry.field(description="Why they may be the same (identifier, name, alias, transliteration, country).")
    conflicts: list[str] = strawberry.field(description="What says they differ (identifiers of one scheme, countries); such pairs are never merged by acceptAbove.")

    @resolver(description="One entity.")
    async def a(self, info: Ctx) -> Entity:
        return await load_entity(info, self.a_id)

    @resolver(description="The other entity.")
    async def b(self, info: Ctx) -> Entity:
        return await load_entity(info, self.b_id)


def candidate_from(candidate: Any) -> MatchCandidate:
    """The GraphQL object of a graph.identity.resolve candidate."""
    return MatchCandidate(a_id=candidate.a, b_id=candidate.b, score=candidate.score, reasons=candidate.reasons,
                          conflicts=candidate.conflicts)


@strawberry.type(description="A decision about two entities, as stored.")
class MatchDecision:
    a: strawberry.ID = strawberry.field(description="One entity's id.")
    b: strawberry.ID = strawberry.field(description="The other entity's id.")
    verdict: str = strawberry.field(description="same (merged) or different (never to be merged).")
    by: str = strawberry.field(description="Who took the decision.")
    at: str = strawberry.field(description="When (UTC, ISO 8601).")


@strawberry.type(description="A link identity did not follow: a shared identifier or a SAME decision that a DIFFERENT decision (or a difference of type) overrides.")
class IdentityConflict:
    a: strawberry.ID = strawberry.field(description="One entity's id.")
    b: strawberry.ID = strawberry.field(description="The other entity's id.")
    link: str = strawberry.field(description="What links them: an identifier (LEI:...) or a decision (by whom, when).")
    reason: str = strawberry.field(description="Why they stay apart.")


# Each answer of graph/ (a result dataclass) and the GraphQL type built from it. A result field `x` fills the
# GraphQL field `x`, or the private `x_id` that a resolver turns into an entity; fields an answer carries for
# other callers only are listed in INTERNAL. tests/test_api_schema.py fails on a result field in neither.
RESULT_TYPES: dict[type, type] = {
    res.Hop: Hop, res.Path: Path, res.Node: GraphNode, res.Edge: GraphEdge, res.Subgraph: Graph,
    res.Declared: Declaration, res.Holding: Holding, res.Party: Party, res.LiabilityChain: LiabilityChain,
    res.ExposureItem: ExposureItem, res.Exposure: Exposure, Disagreement: DeclaredDisagreement,
}
INTERNAL: dict[type, frozenset[str]] = {
    res.Holding: frozenset({"statements"}),  # read by the `statements` resolver as statement_ids
}
_RENAMED: dict[tuple[type, str], str] = {(res.Holding, "statements"): "statement_ids",
                                          (res.Party, "attributed_to"): "attributed_to_ids"}


def from_result(result: Any, **overrides: Any) -> Any:
    """The GraphQL object of an answer of graph/ (RESULT_TYPES): its fields, nested answers and records included, are
    converted when read (_LazyResult), so only what a query selects is converted."""
    made = _lazy_of(_lazy_result(type(result)), result)
    if overrides:
        made.__dict__.update(overrides)
    return made


def _lazy_of(lazy: type[_LazyResult], result: Any) -> Any:
    """An object of a lazy class over one answer."""
    made: Any = object.__new__(lazy)
    made.__dict__["_result"] = result
    return made


class _LazyResult:
    """Base of the objects from_result makes: a subclass of the answer's GraphQL type (the same GraphQL type, as
    _Lazy is for entities) whose fields are converted from the answer the first time they are read (_Converted). A
    liability chain's `parties { entity { id } role weight }` read 3 of a party's 18 fields; converting all of them
    (paths, interests, declared figures) was 2 ms of a 200k chain's request (cProfile)."""

    _answer: type  # the answer type (graph/'s result dataclass) its objects are made from


def _lazy_result(result: type) -> type[_LazyResult]:
    """The lazy subclass of an answer type's GraphQL type, made once."""
    lazy = _LAZY_RESULTS.get(result)
    if lazy is None:
        graphql_type = RESULT_TYPES[result]
        converted = {name: _Converted("_result", field) for field, name in _fills(result)}
        lazy = _LAZY_RESULTS[result] = type(f"Lazy{graphql_type.__name__}", (_LazyResult, graphql_type),
                                            {**converted, "_answer": result})
    return lazy


def _fills(result: type) -> tuple[tuple[str, str], ...]:
    """(result field, GraphQL field it fills) of one answer type, worked out once (answers come by the thousand)."""
    found = _FILLS.get(result)
    if found is None:
        wanted = {f.name for f in dataclasses.fields(RESULT_TYPES[result]) if f.init}
        pairs = ((f.name, _RENAMED.get((result, f.name)) or (f.name if f.name in wanted else f"{f.name}_id"))
                 for f in dataclasses.fields(result))
        found = _FILLS[result] = tuple((field, name) for field, name in pairs if name in wanted)
    return found


_FILLS: dict[type, tuple[tuple[str, str], ...]] = {}
_LAZY_RESULTS: dict[type, type[_LazyResult]] = {}


def _from_model(cls: type[T], model: BaseModel, **overrides: Any) -> T:
    """An instance of a strawberry type from the same-named fields of a pydantic model (nothing more)."""
    values = {n: _convert(getattr(model, n)) for n in _model_fields(cls) if n not in overrides}
    return cls(**values, **overrides)


def _model_fields(cls: type) -> tuple[str, ...]:
    """The fields of a strawberry type filled from a model's (those with no resolver), worked out once per type."""
    names = _MODEL_FIELDS.get(cls)
    if names is None:  # entities come by the thousand in one answer
        names = _MODEL_FIELDS[cls] = tuple(f.python_name for f in cls.__strawberry_definition__.fields  # type: ignore[attr-defined]
                                           if f.base_resolver is None)
    return names


_MODEL_FIELDS: dict[type, tuple[str, ...]] = {}
# Per entity type, its lazy class: a subclass of the strawberry type (same GraphQL type: resolve_type reads the
# definition it inherits, and strawberry's is_type_of is an isinstance check) that converts fields when read.
_LAZY: dict[EntityType, type] = {kind: type(f"Lazy{cls.__name__}", (_Lazy, cls),
                                      {name: _Converted("_record", name) for name in _model_fields(cls)})
                                 for kind, cls in _ENTITY_TYPES.items()}
_LEAVES = frozenset({str, int, float, bool, type(None), date, res.Role, res.Channel})  # _convert passes them through


def _convert(value: Any) -> Any:
    """Nested records (sources, figures, amounts) and answers into their GraphQL types; tuples as lists."""
    if type(value) in _LEAVES:
        return value
    if isinstance(value, (list, tuple)):
        lazy = _LAZY_RESULTS.get(type(value[0])) if value else None
        if lazy is not None:  # a list of answers (a chain's parties): its lazy class found once, not per item
            return [_lazy_of(lazy, v) if type(v) is lazy._answer else _convert(v) for v in value]
        return [_convert(v) for v in value]
    if type(value) in _NESTED:
        return _from_model(_NESTED[type(value)], value)
    if type(value) in RESULT_TYPES:
        return from_result(value)
    return value


def sources_from(sources: list[rec.Source]) -> list[Source]:
    """The GraphQL objects of a record's sources."""
    return list(_convert(sources))
