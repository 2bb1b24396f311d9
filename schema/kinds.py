"""The names of entity and relation types; the only strings that become Neo4j labels and types."""
from __future__ import annotations

from enum import Enum


class EntityType(str, Enum):
    """Kinds of node in the graph."""

    COMPANY = "Company"
    PERSON = "Person"
    ORGANIZATION = "Organization"
    ACTOR = "Actor"
    INCIDENT = "Incident"


class RelationType(str, Enum):
    """Kinds of edge in the graph."""

    OWNS = "OWNS"
    RESPONSIBLE_FOR = "RESPONSIBLE_FOR"
    PERPETRATED = "PERPETRATED"
    AFFECTED = "AFFECTED"
    SUPPLIED_DATA_TO = "SUPPLIED_DATA_TO"
    DEPENDS_ON = "DEPENDS_ON"
    REPORTED = "REPORTED"
    CONTROLS = "CONTROLS"
    OFFICER_OF = "OFFICER_OF"
    FUND_LINK = "FUND_LINK"
    DECLARED_INTEREST = "DECLARED_INTEREST"
    RELATED_TO = "RELATED_TO"
    PAID = "PAID"
    SANCTION = "Sanction"  # a designation: written as the native record type `Sanction` (issue 21 pins it)
    # Last, after the types older projection snapshots already code by position (schema.declaration orders them).
    ATTRIBUTED_TO = "ATTRIBUTED_TO"


class IncidentCategory(str, Enum):
    """What kind of harm an incident is."""

    OUTAGE = "outage"
    INTRUSION = "intrusion"
    DATA_LEAK = "data_leak"
    DATA_SALE = "data_sale"
    FRAUD = "fraud"
    OTHER = "other"
