"""GraphQL types of the sanctions answers (graph.analytics.sanctions, docs/sanctions.md), built from their results."""
from __future__ import annotations

from datetime import date

import strawberry
from pydantic import ValidationError
from strawberry.scalars import JSON

from corpgraph.graph.analytics import results as res
from corpgraph.graph.screening import Screened
from corpgraph.schema.counterparty import Counterparty
from corpgraph.schema.errors import InvalidInput, Problem
from corpgraph.schema.kinds import RelationType

from corpgraph.api.field_decorators import resolver
from corpgraph.api.graphql_types import Ctx, Entity, Path, PageInfo, Source, from_result, load_entity, sources_from

SCREEN_LABEL = "screen"  # the `file` of problems reported for counterparties sent to `screen`
SanctionsStatusEnum = strawberry.enum(res.SanctionsStatus, description="Where an entity stands under one regime's ownership-and-control rule.")


@strawberry.type(description="A designation in force: the regime, the authority and programme, from when to when, and the sources.")
class Designation:
    entity_id: strawberry.ID = strawberry.field(description="The designated entity.")
    regime: str = strawberry.field(description="Regime code (OFAC, EU, UK, UN, ...).")
    authority: str | None = strawberry.field(description="The authority that listed it, as the source names it.")
    program: str | None = strawberry.field(description="The sanctions programme.")
    valid_from: date | None = strawberry.field(description="Listed from (inclusive); null: since before any record.")
    valid_to: date | None = strawberry.field(description="Delisted on (exclusive); null: still listed.")
    relation_id: strawberry.ID = strawberry.field(description="Id of the Sanction record.")
    sources: list[Source] = strawberry.field(description="Where the designation is published.")


def designation_from(found: res.Designation) -> Designation:
    """The GraphQL object of a designation."""
    return Designation(entity_id=strawberry.ID(found.entity), regime=found.regime, authority=found.authority,
                       program=found.program, valid_from=found.valid_from, valid_to=found.valid_to,
                       relation_id=strawberry.ID(found.relation_id), sources=sources_from(found.sources))


@strawberry.type(description="A listed or blocked holder of the entity: its direct share or controlling interest, its own status, and a path from its designation.")
class SanctionsContributor:
    entity_id: strawberry.Private[str]
    status: res.SanctionsStatus = strawberry.field(description="The holder's own status under the regime.")
    via: RelationType = strawberry.field(description="OWNS (a share) or CONTROLS (an interest that controls by itself).")
    share: float | None = strawberry.field(description="Its direct share in the entity (ranges at their midpoint); null for a CONTROLS interest.")
    share_min: float | None = strawberry.field(description="The share at the minimum of its range.")
    share_max: float | None = strawberry.field(description="The share at the maximum of its range.")
    paths: list[Path] = strawberry.field(description="From a designation (the first hop, type Sanction) down through blocked holders to the entity; every hop with its sources.")

    @resolver(description="The holder.")
    async def entity(self, info: Ctx) -> Entity:
        return await load_entity(info, self.entity_id)


@strawberry.type(description="An entity's status under one regime's rule at one date, with the evidence (docs/sanctions.md).")
class SanctionsAnswer:
    entity_id: strawberry.Private[str]
    regime: str = strawberry.field(description="The regime whose rule was applied (OFAC, EU or UK).")
    as_of: date = strawberry.field(description="Date the listings and stakes were taken at.")
    status: res.SanctionsStatus = strawberry.field(description="LISTED, BLOCKED_BY_OWNERSHIP, BLOCKED_BY_CONTROL, UNDETERMINED or NOT_BLOCKED.")
    aggregate_share: float = strawberry.field(description="Direct shares held by listed and blocked holders, summed (ranges at their midpoint).")
    aggregate_share_min: float = strawberry.field(description="The aggregate with every range at its minimum (unknown shares at 0).")
    aggregate_share_max: float = strawberry.field(description="The aggregate with every range at its maximum (unknown shares at what the others leave free).")
    designations: list[Designation] = strawberry.field(description="The entity's own designations under the regime in force at asOf.")
    contributors: list[SanctionsContributor] = strawberry.field(description="Listed or blocked holders (blocked at the maximums included), with their shares and paths.")
    notes: list[str] = strawberry.field(description="What the answer rests on where the data gives bounds or the rule calls for judgement.")

    @resolver(description="The entity asked about.")
    async def entity(self, info: Ctx) -> Entity:
        return await load_entity(info, self.entity_id)


def answer_from(found: res.SanctionsAnswer) -> SanctionsAnswer:
    """The GraphQL object of a sanctions status."""
    contributors = [SanctionsContributor(entity_id=c.entity, status=c.status, via=c.via, share=c.share,
                                         share_min=c.share_min, share_max=c.share_max,
                                         paths=[from_result(p) for p in c.paths]) for c in found.contributors]
    return SanctionsAnswer(entity_id=found.entity, regime=found.regime, as_of=found.as_of, status=found.status,
                           aggregate_share=found.aggregate_share, aggregate_share_min=found.aggregate_share_min,
                           aggregate_share_max=found.aggregate_share_max,
                           designations=[designation_from(d) for d in found.designations],
                           contributors=contributors, notes=found.notes)


@strawberry.type(description="An entity a regime's rule blocks (or may block) without a listing of its own: what OpenSanctions tags sanction.control, with the percentages.")
class Sanctioned:
    entity_id: strawberry.Private[str]
    status: res.SanctionsStatus = strawberry.field(description="BLOCKED_BY_OWNERSHIP, BLOCKED_BY_CONTROL or UNDETERMINED.")
    aggregate_share: float = strawberry.field(description="Direct shares held by listed and blocked holders, summed.")
    aggregate_share_min: float = strawberry.field(description="The aggregate with every range at its minimum.")
    aggregate_share_max: float = strawberry.field(description="The aggregate with every range at its maximum.")
    cursor: str = strawberry.field(description="Pass as `after` to get the entities that follow this one.")

    @resolver(description="The entity.")
    async def entity(self, info: Ctx) -> Entity:
        return await load_entity(info, self.entity_id)


@strawberry.type(description="A page of sanctioned-by-ownership entities, in id order.")
class SanctionedPage:
    nodes: list[Sanctioned] = strawberry.field(description="The entities of this page.")
    page_info: PageInfo = strawberry.field(description="Cursor and whether more pages follow.")
    count: int = strawberry.field(description="How many entities the whole answer has, all pages together.")


def page_from(page: res.SanctionedPage) -> SanctionedPage:
    """The GraphQL page of sanctioned-by-ownership entities."""
    nodes = [Sanctioned(entity_id=s.entity, status=s.status, aggregate_share=s.aggregate_share,
                        aggregate_share_min=s.aggregate_share_min, aggregate_share_max=s.aggregate_share_max,
                        cursor=s.cursor) for s in page.items]
    end = page.items[-1].cursor if page.items else None
    return SanctionedPage(nodes=nodes, page_info=PageInfo(end_cursor=end, has_next_page=page.more),
                          count=page.count)


@strawberry.input(description="A counterparty to screen: a name, optionally a country, identifiers and a known entity id.")
class CounterpartyInput:
    name: str = strawberry.field(description="The name as the portfolio has it.")
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2 country code.")
    identifiers: list[str] | None = strawberry.field(default=None, description="SCHEME:ID texts (LEI:5493..., GB-COH:03209885).")
    id: str | None = strawberry.field(default=None, description="A corpgraph entity id or SCHEME:ID the portfolio already knows.")


@strawberry.type(description="The entity a counterparty was matched to by the resolver's scoring.")
class ScreenMatch:
    entity_id: strawberry.Private[str]
    score: float = strawberry.field(description="Match score 0..1 (shared identifier 0.9, same name 0.8, ...).")
    reasons: list[str] = strawberry.field(description="Why it matched, and any conflicts.")

    @resolver(description="The matched entity.")
    async def entity(self, info: Ctx) -> Entity:
        return await load_entity(info, self.entity_id)


@strawberry.type(description="One screened counterparty: its match (null: none), listings, statuses under each regime and incident exposure.")
class ScreenResult:
    index: int = strawberry.field(description="Position of the counterparty in the request, from 1.")
    name: str = strawberry.field(description="The counterparty's name as sent.")
    match: ScreenMatch | None = strawberry.field(description="The matched entity; null when none scored minScore or more.")
    designations: list[Designation] = strawberry.field(description="Its designations in force, under any regime.")
    statuses: list[SanctionsAnswer] = strawberry.field(description="Its status under each regime asked for.")
    incidents: int = strawberry.field(description="Incidents it is exposed to, through any channel.")
    exposure: JSON = strawberry.field(description="The weighted impact totals of those incidents.")
    hit: bool = strawberry.field(description="True when it is listed, or not NOT_BLOCKED under a regime.")


def screened_from(found: Screened) -> ScreenResult:
    """The GraphQL object of one screened counterparty."""
    match = None if found.match is None else ScreenMatch(entity_id=found.match.entity, score=found.match.score,
                                                           reasons=found.match.reasons)
    return ScreenResult(index=found.line, name=found.counterparty.name, match=match,
                        designations=[designation_from(d) for d in found.designations],
                        statuses=[answer_from(s) for s in found.statuses], incidents=found.incidents,
                        exposure=JSON(found.exposure), hit=found.hit)


def counterparties_from(given: list[CounterpartyInput]) -> list[tuple[int, Counterparty]]:
    """The counterparties of a request, validated as a portfolio file's rows; InvalidInput lists every problem."""
    rows: list[tuple[int, Counterparty]] = []
    problems: list[Problem] = []
    for index, item in enumerate(given, start=1):
        data = {k: v for k, v in vars(item).items() if v is not None}
        try:
            rows.append((index, Counterparty.model_validate(data)))
        except ValidationError as exc:
            problems.extend(Problem(SCREEN_LABEL, index, ".".join(str(p) for p in e["loc"]) or "(counterparty)",
                                    e["msg"]) for e in exc.errors())
    if problems:
        raise InvalidInput(problems)
    return rows
