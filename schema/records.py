"""Pydantic records for every entity and relation type; the loader validates input into these once."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from corpgraph.schema.kinds import IncidentCategory
from corpgraph.schema.regimes import normal_regime, regime_of
from corpgraph.schema.values import (
    MAX_ITEMS,
    Confidence,
    Count,
    Country,
    Currency,
    EntityId,
    IsoDate,
    Label,
    Name,
    Share,
    Tag,
    Text,
    Title,
    Url,
    parse_identifiers,
)


class Strict(BaseModel):
    """Base: unknown fields are errors, strings are stripped, NaN and Infinity are refused in every float."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class Source(Strict):
    """Where a fact comes from (an article, a filing, a register, an imported statement)."""

    publisher: Tag
    title: Title
    url: Url | None = None
    published_on: IsoDate = None
    # For imported records: the source's own id of the statement/record (BODS statementID, LEI, FtM id,
    # STIX id, VERIS incident_id), its date (BODS statementDate) and kind (BODS source type).
    record_id: Label | None = None
    recorded_on: IsoDate = None
    source_type: Label | None = None


class Identifier(Strict):
    """A registry identifier: scheme (upper-case, e.g. LEI, GB-COH, DK-CVR) and the id within it."""

    scheme: Tag
    id: Tag


class Amount(Strict):
    """A sum of money with its currency and what it is."""

    value: float
    currency: Currency
    label: Label | None = None


class Impact(Strict):
    """One impact of an incident as its source records it (STIX incident-core impacts, VERIS attributes)."""

    category: Tag  # confidentiality, availability, integrity, monetary, physical, ...
    information_type: Label | None = None  # pii, credentials, Personal, Internal, ...
    loss_type: Label | None = None  # confirmed-loss, suspected-loss, ...
    record_count: Count | None = None
    description: Text | None = None


class Address(Strict):
    """A postal address as its source gives it: the whole text, its parts, or both."""

    kind: Label | None = None  # what the address is to its entity, as the source says: registered, headquarters, ...
    full: Label | None = None
    street: Label | None = None
    city: Label | None = None
    postal_code: Label | None = None
    region: Label | None = None
    country: Country = None

    @model_validator(mode="after")
    def _not_empty(self) -> "Address":
        """An address says something: its text or one of its parts."""
        if not any((self.full, self.street, self.city, self.postal_code, self.region, self.country)):
            raise ValueError("an address needs its text or one of its parts (street, city, postal_code, ...)")
        return self


class Figure(Strict):
    """A reported figure about an entity (market share, users, transaction volume)."""

    label: Tag
    value: float
    unit: Label | None = None
    as_of: IsoDate = None


Identifiers = Annotated[list[Identifier], BeforeValidator(parse_identifiers)]


class Record(Strict):
    """Fields every entity and relation carries."""

    sources: list[Source] = Field(default_factory=list, max_length=MAX_ITEMS)
    confidence: Confidence = None
    # Values an importer had to interpret, as the source gave them ({"valid_from": "2015-11"} for a
    # partial date read as its first day), so nothing the source said is lost.
    as_given: dict[Label, Label] = Field(default_factory=dict, max_length=MAX_ITEMS)


class Entity(Record):
    """Fields every entity carries."""

    id: EntityId
    name: Name
    aliases: list[Label] = Field(default_factory=list, max_length=MAX_ITEMS)
    description: Text | None = None
    identifiers: Identifiers = Field(default_factory=list, max_length=MAX_ITEMS)
    # Postal addresses (imported: FtM Address entities and address properties); the resolver reads their
    # country, city and postal code as evidence (graph/resolve/candidates.py).
    addresses: list[Address] = Field(default_factory=list, max_length=MAX_ITEMS)
    # Risk topics in FollowTheMoney's vocabulary (sanction, sanction.linked, role.pep, crime, ...).
    topics: list[Label] = Field(default_factory=list, max_length=MAX_ITEMS)
    # True for an entity an importer made from a reference its file left open (named by its source id);
    # a later load of the real record replaces it.
    placeholder: bool = False
    # Set when the source says the party exists but is not known (BODS unknownPerson or unspecified
    # interested party, GLEIF reporting exception): the reason as the source gives it.
    unknown_reason: Label | None = None


class Company(Entity):
    """A company, with aliases in any script and its registry identifiers."""

    type: Literal["Company"] = "Company"
    country: Country = None
    figures: list[Figure] = Field(default_factory=list, max_length=MAX_ITEMS)
    status: Label | None = None


class Person(Entity):
    """A natural person (an owner, an officer)."""

    type: Literal["Person"] = "Person"
    country: Country = None


class Organization(Entity):
    """A body that is not a company: police, regulator, media."""

    type: Literal["Organization"] = "Organization"
    kind: Label | None = None
    country: Country = None


class Actor(Entity):
    """Whoever carried out an attack, named or not ("unknown hackers")."""

    type: Literal["Actor"] = "Actor"
    kind: Label | None = None
    known: bool = True


class Incident(Entity):
    """An outage, intrusion, leak, sale of data or fraud, with its impact figures."""

    type: Literal["Incident"] = "Incident"
    category: IncidentCategory
    occurred_on: IsoDate = None
    ended_on: IsoDate = None
    duration_hours: float | None = Field(default=None, ge=0)
    records_affected: Count | None = None
    records_affected_max: Count | None = None
    amounts: list[Amount] = Field(default_factory=list, max_length=MAX_ITEMS)
    # As imported sources state them (STIX incident-core, VERIS): confirmed / suspected / false-positive,
    # new / open / closed, the source's own incident types, and its impacts with record counts.
    determination: Label | None = None
    investigation_status: Label | None = None
    incident_types: list[Label] = Field(default_factory=list, max_length=MAX_ITEMS)
    impacts: list[Impact] = Field(default_factory=list, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _consistent(self) -> "Incident":
        """Upper bounds and end dates may not precede what they bound."""
        if self.records_affected is not None and self.records_affected_max is not None:
            if self.records_affected_max < self.records_affected:
                raise ValueError("records_affected_max is below records_affected")
        if self.occurred_on and self.ended_on and self.ended_on < self.occurred_on:
            raise ValueError("ended_on is before occurred_on")
        return self


class Relation(Record):
    """Fields every relation carries: its endpoints by id."""

    source: EntityId
    target: EntityId

    @model_validator(mode="after")
    def _no_self_loop(self) -> "Relation":
        """A relation from an entity to itself carries no meaning here."""
        if self.source == self.target:
            raise ValueError("source and target are the same entity")
        return self


class Dated(Relation):
    """A relation with a validity interval [valid_from, valid_to)."""

    valid_from: IsoDate = None
    valid_to: IsoDate = None

    @model_validator(mode="after")
    def _interval(self) -> "Dated":
        """valid_to must come after valid_from."""
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class ShareRange(Dated):
    """A dated relation carrying a share (0..1, or null when unknown) and optionally a reported range."""

    share: Share = None
    share_min: Share = None
    share_max: Share = None
    # Whether a bound of the range is exclusive ("more than 50%": share_min 0.5, share_min_exclusive): the
    # bound is the range's infimum (or supremum), and no reading takes it. The control rule reads it.
    share_min_exclusive: bool = False
    share_max_exclusive: bool = False

    @model_validator(mode="after")
    def _range(self) -> "ShareRange":
        """A reported range must contain the point value; an exclusive bound must be given."""
        low, high = self.share_min, self.share_max
        if (self.share_min_exclusive and low is None) or (self.share_max_exclusive and high is None):
            raise ValueError("an exclusive bound needs its share_min / share_max")
        if low is not None and high is not None and low > high:
            raise ValueError("share_min is above share_max")
        if self.share is not None:
            if low is not None and self.share < low:
                raise ValueError("share is below share_min")
            if high is not None and self.share > high:
                raise ValueError("share is above share_max")
        return self


class Owns(ShareRange):
    """Owner holds a share (0..1, or null when unknown; a range when the source gives one) of a company."""

    type: Literal["OWNS"] = "OWNS"


class ResponsibleFor(Dated):
    """A company answers for an incident, in a role (operator, data_controller, ...)."""

    type: Literal["RESPONSIBLE_FOR"] = "RESPONSIBLE_FOR"
    role: Tag = "operator"


class Perpetrated(Relation):
    """An actor carried out an incident."""

    type: Literal["PERPETRATED"] = "PERPETRATED"


class AttributedTo(Relation):
    """An actor (threat actor, intrusion set) is attributed to a party: a state body, a company, a person or
    another actor, as a source states it (STIX `attributed-to`). Shown beside the perpetrators of a liability
    chain; never a liability: no weight reaches the party (docs/analytics.md)."""

    type: Literal["ATTRIBUTED_TO"] = "ATTRIBUTED_TO"


class Affected(Relation):
    """An incident hit an entity."""

    type: Literal["AFFECTED"] = "AFFECTED"
    how: Label | None = None


class SuppliedDataTo(Dated):
    """A company handed data to another party, optionally as part of an incident."""

    type: Literal["SUPPLIED_DATA_TO"] = "SUPPLIED_DATA_TO"
    records: Count | None = None
    lookups: Count | None = None
    revenue: Amount | None = None
    incident: EntityId | None = None
    data: list[Label] = Field(default_factory=list, max_length=MAX_ITEMS)


class DependsOn(Dated):
    """A company relies on another for a service (payments, hosting)."""

    type: Literal["DEPENDS_ON"] = "DEPENDS_ON"
    service: Tag = "unspecified"


class Controls(ShareRange):
    """Owner has an interest in a company other than a shareholding: votes, board appointment, influence.

    `kind` is the interest type as the source names it (BODS votingRights, appointmentOfBoard,
    otherInfluenceOrControl, seniorManagingOfficial, ...; GLEIF accounting_consolidation). Never adds
    to integrated ownership; see docs/analytics.md for when it makes its holder a controller.
    """

    type: Literal["CONTROLS"] = "CONTROLS"
    kind: Tag
    details: Text | None = None


class OfficerOf(Dated):
    """A person or company serves a company as director, officer or other role."""

    type: Literal["OFFICER_OF"] = "OFFICER_OF"
    role: Tag = "officer"


class FundLink(Dated):
    """A fund's tie to its manager, umbrella or master fund (GLEIF fund relationships); not ownership."""

    type: Literal["FUND_LINK"] = "FUND_LINK"
    kind: Tag  # fund_managed_by, subfund_of, feeder_to


class DeclaredInterest(ShareRange):
    """A figure a source declares rather than a direct edge: an indirect interest (BODS) or an ultimate
    parent (GLEIF). Kept beside corpgraph's own computation, never added to it (it would double count)."""

    type: Literal["DECLARED_INTEREST"] = "DECLARED_INTEREST"
    kind: Tag  # indirect_ownership, ultimate_parent


class RelatedTo(Dated):
    """Two parties are related: family, associates, or another link a source names (FtM Family, Associate,
    UnknownLink). Never ownership or control: no analytics read it (see docs/importers.md for the one place a
    sanctions rule may: holdings arranged jointly)."""

    type: Literal["RELATED_TO"] = "RELATED_TO"
    kind: Tag  # family, associate, link
    role: Label | None = None  # the source's own words: "Family member of", "Son", "business partner"


class Paid(Dated):
    """A party paid another: a donation, a contract payment (FtM Payment). A flow of money, never ownership or
    control: no analytics read it. `valid_from` is the day of the payment."""

    type: Literal["PAID"] = "PAID"
    amount: Amount | None = None
    purpose: Label | None = None
    # The source's id of the payment: two payments of one day between the same parties stay two.
    reference: Label | None = None
class Sanction(Dated):
    """A designation of an entity by a sanctions authority, in force from valid_from (listing) to valid_to
    (delisting).

    Written `{"type": "Sanction", "entity": ID, "authority": ..., "regime": ..., "program": ...}`: one entity, so
    source and target are both that entity. The regime code is kept in `kind`, the projection's interest
    column, so the sanctions rules read listings from the same arrays as stakes; it is given as `regime`, or
    derived from the authority by schema.regimes.AUTHORITIES.
    """

    type: Literal["Sanction"] = "Sanction"
    kind: Tag = Field(validation_alias=AliasChoices("regime", "kind"))
    authority: Label | None = None
    program: Label | None = None
    listed_on: IsoDate = None  # the listing date as published, when it differs from valid_from

    @model_validator(mode="before")
    @classmethod
    def _entity_and_regime(cls, data: Any) -> Any:
        """`entity` names both ends; a missing regime is read from the authority (or reported as missing)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        entity = data.pop("entity", None)
        if entity is not None:
            for end in ("source", "target"):
                if data.setdefault(end, entity) != entity:
                    raise ValueError(f"entity {entity!r} and {end} {data[end]!r} differ: a designation has one entity")
        regime = data.get("regime", data.get("kind"))
        if regime is None or (isinstance(regime, str) and not regime.strip()):
            derived = regime_of(data.get("authority") if isinstance(data.get("authority"), str) else None)
            if derived is None:
                raise ValueError("regime: required: give the regime code (OFAC, EU, UK, UN, ...) or an authority "
                                 "docs/sanctions.md lists")
            data.pop("kind", None)
            data["regime"] = derived
        elif isinstance(regime, str):
            data.pop("kind", None)
            data["regime"] = normal_regime(regime)
        return data

    @property
    def entity(self) -> str:
        """The designated entity."""
        return self.source

    @property
    def regime(self) -> str:
        """The regime code (OFAC, EU, UK, UN, ...)."""
        return self.kind

    @model_validator(mode="after")
    def _no_self_loop(self) -> "Sanction":
        """Overrides Relation's check: a designation's two ends are its one entity."""
        if self.source != self.target:
            raise ValueError("source and target must both be the designated entity")
        return self


class Reported(Relation):
    """An organization reported on or investigated an incident."""

    type: Literal["REPORTED"] = "REPORTED"
    activity: Tag = "report"
    reported_on: IsoDate = None


def iso(value: date | None) -> str | None:
    """ISO text of a date, or None; the form dates take in both stores."""
    return value.isoformat() if value else None
