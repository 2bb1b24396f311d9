"""Pydantic records for every entity and relation type; the loader validates input into these once."""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schema.kinds import IncidentCategory
from schema.values import Confidence, Country, Currency, EntityId, IsoDate, Share


class Strict(BaseModel):
    """Base: unknown fields are errors, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Source(Strict):
    """Where a fact comes from (an article, a filing, a register)."""

    publisher: str = Field(min_length=1)
    title: str = Field(min_length=1)
    url: str | None = None
    published_on: IsoDate = None


class Amount(Strict):
    """A sum of money with its currency and what it is."""

    value: float
    currency: Currency
    label: str | None = None


class Figure(Strict):
    """A reported figure about an entity (market share, users, transaction volume)."""

    label: str = Field(min_length=1)
    value: float
    unit: str | None = None
    as_of: IsoDate = None


class Record(Strict):
    """Fields every entity and relation carries."""

    sources: list[Source] = Field(default_factory=list)
    confidence: Confidence = None


class Entity(Record):
    """Fields every entity carries."""

    id: EntityId
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    description: str | None = None


class Company(Entity):
    """A company, with aliases in any script and its registry identifiers."""

    type: Literal["Company"] = "Company"
    country: Country = None
    identifiers: dict[str, str] = Field(default_factory=dict)
    figures: list[Figure] = Field(default_factory=list)


class Person(Entity):
    """A natural person (an owner, an officer)."""

    type: Literal["Person"] = "Person"
    country: Country = None


class Organization(Entity):
    """A body that is not a company: police, regulator, media."""

    type: Literal["Organization"] = "Organization"
    kind: str | None = None
    country: Country = None


class Actor(Entity):
    """Whoever carried out an attack, named or not ("unknown hackers")."""

    type: Literal["Actor"] = "Actor"
    kind: str | None = None
    known: bool = True


class Incident(Entity):
    """An outage, intrusion, leak, sale of data or fraud, with its impact figures."""

    type: Literal["Incident"] = "Incident"
    category: IncidentCategory
    occurred_on: IsoDate = None
    ended_on: IsoDate = None
    duration_hours: float | None = Field(default=None, ge=0)
    records_affected: int | None = Field(default=None, ge=0)
    records_affected_max: int | None = Field(default=None, ge=0)
    amounts: list[Amount] = Field(default_factory=list)

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


class Owns(Dated):
    """Owner holds a share (0..1, or null when unknown) of a company."""

    type: Literal["OWNS"] = "OWNS"
    share: Share = None
    share_min: Share = None
    share_max: Share = None

    @model_validator(mode="after")
    def _range(self) -> "Owns":
        """A reported range must contain the point value."""
        low, high = self.share_min, self.share_max
        if low is not None and high is not None and low > high:
            raise ValueError("share_min is above share_max")
        if self.share is not None:
            if low is not None and self.share < low:
                raise ValueError("share is below share_min")
            if high is not None and self.share > high:
                raise ValueError("share is above share_max")
        return self


class ResponsibleFor(Dated):
    """A company answers for an incident, in a role (operator, data_controller, ...)."""

    type: Literal["RESPONSIBLE_FOR"] = "RESPONSIBLE_FOR"
    role: str = Field(default="operator", min_length=1)


class Perpetrated(Relation):
    """An actor carried out an incident."""

    type: Literal["PERPETRATED"] = "PERPETRATED"


class Affected(Relation):
    """An incident hit an entity."""

    type: Literal["AFFECTED"] = "AFFECTED"
    how: str | None = None


class SuppliedDataTo(Dated):
    """A company handed data to another party, optionally as part of an incident."""

    type: Literal["SUPPLIED_DATA_TO"] = "SUPPLIED_DATA_TO"
    records: int | None = Field(default=None, ge=0)
    lookups: int | None = Field(default=None, ge=0)
    revenue: Amount | None = None
    incident: EntityId | None = None
    data: list[str] = Field(default_factory=list)


class DependsOn(Dated):
    """A company relies on another for a service (payments, hosting)."""

    type: Literal["DEPENDS_ON"] = "DEPENDS_ON"
    service: str = Field(default="unspecified", min_length=1)


class Reported(Relation):
    """An organization reported on or investigated an incident."""

    type: Literal["REPORTED"] = "REPORTED"
    activity: str = Field(default="report", min_length=1)
    reported_on: IsoDate = None


def iso(value: date | None) -> str | None:
    """ISO text of a date, or None; the form dates take in both stores."""
    return value.isoformat() if value else None
