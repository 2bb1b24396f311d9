"""Answer types of the analytics: plain dataclasses the API shapes, with paths and a subgraph."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Source


class Role(str, Enum):
    """Why a party appears in a liability chain."""

    RESPONSIBLE = "RESPONSIBLE"
    OWNER = "OWNER"
    DATA_RECIPIENT = "DATA_RECIPIENT"
    PERPETRATOR = "PERPETRATOR"


class Channel(str, Enum):
    """How an entity is exposed to an incident."""

    OWNERSHIP = "OWNERSHIP"
    DEPENDENCY = "DEPENDENCY"
    DATA_FLOW = "DATA_FLOW"
    AFFECTED = "AFFECTED"


@dataclass(frozen=True)
class Hop:
    """One edge of an explaining path, with its share (None: unknown or not an ownership) and sources."""

    source: str
    target: str
    type: RelationType
    relation_id: str
    share: float | None
    sources: list[Source] = field(default_factory=list)


@dataclass(frozen=True)
class Path:
    """A walk that explains a number; weight is the product of the shares (None when one is unknown)."""

    hops: list[Hop]
    weight: float | None


@dataclass(frozen=True)
class Node:
    """A node of a graph payload (what visualisation clients draw)."""

    id: str
    type: str
    label: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    """An edge of a graph payload; id is the relation id."""

    id: str
    source: str
    target: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Subgraph:
    """Nodes and edges, the shape graph clients take."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    more_nodes: int = 0  # entities reached but left out by a size cap (a lower bound; 0: nothing was left out)


@dataclass(frozen=True)
class Declared:
    """What a source declares instead of an edge: an indirect share or an ultimate parent (DECLARED_INTEREST)."""

    kind: str  # indirect_ownership | ultimate_parent (as the importer wrote it)
    share: float | None = None
    share_min: float | None = None
    share_max: float | None = None
    relation_id: str = ""


# Not frozen: answers build them by the thousand, and a frozen dataclass's __init__ costs 2.5 times as much. Slots:
# the largest holder of a 1M world has 850k of them, made 1.6 times faster so, and a quarter smaller (176 bytes a
# row against 232).
@dataclass(slots=True)
class Holding:
    """One owner/company pair: direct and integrated share, control, and whether a share on the way is unknown.

    integrated_min / integrated_max bound `integrated` exactly (every range at its minimum, at its
    maximum); `estimate` says `integrated` counts a range's midpoint. `interests` are the owner's own
    CONTROLS interests in the company; `declared` what a source declares about the pair.
    """

    owner: str
    company: str
    direct: float | None
    integrated: float | None
    controls: bool
    unknown: bool = False
    over_allocated: bool = False  # a company on the way had owners above 100% (imported): its shares were scaled
    # Set by graph.identity.conflicts when sources disagree on the direct stake or two stakes are valid the same day:
    # the relation ids of every statement of it, the one that counts first.
    conflicting: bool = False
    statements: tuple[str, ...] = ()
    integrated_min: float | None = None
    integrated_max: float | None = None
    estimate: bool = False
    may_control: bool = False
    interests: tuple[str, ...] = ()
    declared: tuple[Declared, ...] = ()
    cursor: str | None = None
    # False when integrated_max is 1 only because the maximums close a loop with no convergent sum: a true
    # bound, not the exact maximum (docs/analytics.md, "Share ranges").
    integrated_max_exact: bool = True  # set on paged answers: pass it as `after` for the holdings that follow


@dataclass(frozen=True)
class HoldingPage:
    """A page of holdings (or owners) in rank order, and how many there are in all pages together."""

    items: list[Holding]
    count: int


# Slots and no __post_init__: a chain of 800 owners makes 800 of them per request (graph.analytics.liability makes
# the OWNER ones by map over the owners' columns); the maker fills weight_min/weight_max.
@dataclass(slots=True)
class Party:
    """A party of a liability chain with its role, weight and explaining paths.

    weight_min / weight_max bound the weight; an exact weight is its own bounds (both equal to it).
    """

    entity: str
    role: Role
    weight: float | None
    controls: bool = False
    unknown: bool = False
    detail: str | None = None
    paths: list[Path] = field(default_factory=list)
    over_allocated: bool = False  # the weight went through shares scaled to 100% (see Holding)
    paths_cut_short: bool = False  # OWNER: fewer than top_k paths within max_depth, explaining less than the weight
    weight_min: float | None = None  # exact bounds of the weight (OWNER: integrated_min / integrated_max)
    weight_max: float | None = None
    estimate: bool = False  # the weight counts a range's midpoint
    may_control: bool = False  # controls a responsible company at the maximums of the ranges
    interests: tuple[str, ...] = ()  # OWNER: its own CONTROLS interests in the responsible company
    declared: tuple[Declared, ...] = ()  # OWNER: what a source declares about it and the responsible company
    controlling_parent: str | None = None  # RESPONSIBLE: corpgraph's controlling parent, beside a declared one
    weight_max_exact: bool = True  # False: weight_max is 1 as a true bound only (see Holding.integrated_max_exact)
    # PERPETRATOR: whom the actor is attributed to (ATTRIBUTED_TO, followed through attributed actors); shown,
    # never liable: no party and no weight of the chain comes from it.
    attributed_to: tuple[str, ...] = ()


@dataclass
class LiabilityChain:
    """Everyone liable for an incident as of a date, with the subgraph that explains it."""

    incident: str
    as_of: date
    parties: list[Party]
    graph: Subgraph
    owners_total: int = 0  # OWNER parties that met min_share, before max_owners kept the strongest


@dataclass
class ExposureItem:
    """One incident an entity is exposed to, through one channel, with its weight and paths."""

    incident: str
    channel: Channel
    weight: float
    via: str | None = None
    paths: list[Path] = field(default_factory=list)
    impact: dict[str, Any] = field(default_factory=dict)
    unknown: bool = False  # an unknown share lies on the way: weight is a lower bound
    over_allocated: bool = False  # the weight went through shares scaled to 100% (see Holding)
    weight_min: float | None = None  # exact bounds of the weight
    weight_max: float | None = None
    estimate: bool = False  # the weight counts a range's midpoint
    weight_max_exact: bool = True  # False: weight_max is 1 as a true bound only (see Holding.integrated_max_exact)
    cursor: str | None = None  # pass it as `after` for the items that follow (graph.analytics.exposure: rank order)

    def __post_init__(self) -> None:
        """An exact weight is its own bounds."""
        if self.weight_min is None and self.weight_max is None:
            self.weight_min = self.weight_max = self.weight


@dataclass
class Exposure:
    """Incidents an entity is exposed to (one page of them), weighted totals of their impact figures over all
    pages, how many items all pages hold, and the subgraph that explains the page."""

    entity: str
    as_of: date
    items: list[ExposureItem]
    totals: dict[str, float]
    graph: Subgraph
    count: int = 0


class SanctionsStatus(str, Enum):
    """Where an entity stands under one regime's ownership-and-control rule (docs/sanctions.md)."""

    LISTED = "LISTED"
    BLOCKED_BY_OWNERSHIP = "BLOCKED_BY_OWNERSHIP"
    BLOCKED_BY_CONTROL = "BLOCKED_BY_CONTROL"
    UNDETERMINED = "UNDETERMINED"
    NOT_BLOCKED = "NOT_BLOCKED"


@dataclass(frozen=True)
class Designation:
    """One designation in force: the regime, who listed the entity under which programme, from when, and why."""

    entity: str
    regime: str
    authority: str | None
    program: str | None
    valid_from: date | None
    valid_to: date | None
    relation_id: str
    sources: list[Source] = field(default_factory=list)


@dataclass
class Contributor:
    """A listed or blocked holder of the entity: its direct share (or controlling interest) and its own status.

    `paths` lead from the contributor's designation down to the entity: the first hop is the designation
    (type Sanction, on the listed party), then the stakes and controlling interests it passes on.
    """

    entity: str
    status: SanctionsStatus
    via: RelationType  # OWNS (a share) or CONTROLS (a controlling interest: votes, board appointment)
    share: float | None = None
    share_min: float | None = None
    share_max: float | None = None
    paths: list[Path] = field(default_factory=list)


@dataclass
class SanctionsAnswer:
    """An entity's status under one regime at one date, the aggregate share of its blocked holders, the evidence.

    aggregate_share sums the direct shares of the listed and blocked holders (ranges at their midpoints);
    aggregate_share_min / _max bound it with every range at its minimum / maximum. `notes` say what the
    answer rests on where the rule calls for judgement or the data for bounds.
    """

    entity: str
    regime: str
    as_of: date
    status: SanctionsStatus
    aggregate_share: float
    aggregate_share_min: float
    aggregate_share_max: float
    designations: list[Designation] = field(default_factory=list)
    contributors: list[Contributor] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sanctioned:
    """An entity the rule blocks (or may block) without a listing of its own, with its aggregate share."""

    entity: str
    status: SanctionsStatus
    aggregate_share: float
    aggregate_share_min: float
    aggregate_share_max: float
    cursor: str


@dataclass(frozen=True)
class SanctionedPage:
    """A page of sanctioned-by-ownership entities in id order, and how many there are in all pages."""

    items: list[Sanctioned]
    count: int
    more: bool  # another page follows this one
