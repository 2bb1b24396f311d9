"""The GraphQL schema: query and mutation roots (thin resolvers over graph/) and its safety extensions."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext

from graph.analytics.results import Channel, HoldingPage
from graph.resolve import matching
from loaders.validate import validate_records
from schema.batch import Batch
from schema.errors import CorpgraphError, InvalidInput, LimitExceeded, Problem, TimedOut
from schema.kinds import EntityType, IncidentCategory, RelationType

from api import graphql_types as gt
from api.doc_cache import DocumentCache
from api.field_decorators import mutation, resolver
from api.document_guard import DocumentGuard
from api.settings import ApiSettings

Ctx = gt.Ctx
# Resolvers call the CorpGraph facade directly and synchronously: the app runs each whole operation in a
# worker thread with its own event loop (api/app.py, api/lanes.py), never on the server's event loop.
# CorpGraph and both stores are safe to share between threads.
MUTATION_LABEL = "mutation"  # the `file` of problems reported for records sent through a mutation
# Fields that compute (analytics) or scan (search): a document asking for one runs in the heavy lane.
HEAVY_FIELDS = frozenset({"liabilityChain", "exposure", "neighborhood", "owners", "holdings", "search",
                          "resolveCandidates", "ultimateOwners"})


@strawberry.enum(description="A matching decision: the same entity, or never to be merged.")
class MatchVerdict(Enum):
    SAME = "same"
    DIFFERENT = "different"


# The default `first` of the paged fields (owners and holdings: settings.holdings_first); the cost check
# counts a paged field's selection once per item of its page.
PAGE_SIZES = {"search": 10, "companies": 20, "incidents": 20, "resolveCandidates": 20, "declaredDisagreements": 20}

# Arguments shared by several fields, described once.
AsOf = Annotated[date | None, strawberry.argument(description="Date the graph is taken at (YYYY-MM-DD); default today.")]
First = Annotated[int | None, strawberry.argument(description="Page size, 1..CORPGRAPH_API_MAX_FIRST (default 20; search: 10).")]
Topics = Annotated[list[str] | None, strawberry.argument(
    description="Only entities carrying any of these topics, exactly (sanction, role.pep, crime.fraud, ...).")]
After = Annotated[str | None, strawberry.argument(description="The endCursor of the previous page.")]
HoldingsFirst = Annotated[int | None, strawberry.argument(description="Page size, 1..CORPGRAPH_API_MAX_HOLDINGS_FIRST (default 100).")]
HoldingsAfter = Annotated[str | None, strawberry.argument(description="The `cursor` of the last Holding received; the page starts after it.")]
MaxDepth = Annotated[int | None, strawberry.argument(description="Longest path followed, 1..CORPGRAPH_API_MAX_GRAPH_DEPTH (default the maximum).")]


# Fields that need the solves at the ranges' minimums and maximums; without them those are skipped.
BOUND_FIELDS = frozenset({"integratedMin", "integratedMax", "weightMin", "weightMax", "mayControl",
                          "integratedMaxExact", "weightMaxExact"})


# Fields that need the explaining paths (and the reads behind them); without them no path is searched.
PATH_FIELDS = frozenset({"paths", "graph", "pathsCutShort"})


def asks_bounds(info: Ctx) -> bool:
    """Whether the selection under this field asks for a bound (fragments and inline fragments included)."""
    return _asks(info, BOUND_FIELDS)


def asks_paths(info: Ctx) -> bool:
    """Whether the selection under this field asks for paths, the subgraph or whether paths were cut short."""
    return _asks(info, PATH_FIELDS)


def _asks(info: Ctx, names: frozenset[str]) -> bool:
    """Whether any of these field names is selected under this field (fragments and inline fragments included)."""
    stack = list(info.selected_fields)
    while stack:
        node = stack.pop()
        if getattr(node, "name", None) in names:
            return True
        stack.extend(getattr(node, "selections", None) or [])
    return False


@strawberry.type(description="Questions about companies, owners and incidents.")
class Query:
    @resolver(description="One entity by any of its ids, or by `SCHEME:ID` for one of its identifiers (LEI:..., GB-COH:...); null when none matches.")
    async def entity(self, info: Ctx, id: strawberry.ID) -> gt.Entity | None:
        record = await info.context.entities.load(id)
        return gt.entity_from_record(record) if record else None

    @resolver(description="Entities whose name or alias contains the text, in any script; exact matches first.")
    def search(self, info: Ctx, text: str, types: list[EntityType] | None = None,
               topics: Topics = None, first: First = None) -> list[gt.Entity]:
        limit = info.context.settings.first(first, default=10)
        return [gt.entity_from_record(e) for e in info.context.graph.search(text, types, limit, topics)]

    @resolver(description="Who owns a company, directly and through chains, as of a date (default today); "
                                  "largest integrated share first, then id, a page at a time.")
    def owners(self, info: Ctx, company_id: strawberry.ID, as_of: AsOf = None, first: HoldingsFirst = None,
               after: HoldingsAfter = None) -> list[gt.Holding]:
        return _holdings(info, info.context.graph.owners_page, company_id, as_of, first, after)

    @resolver(description="What an owner (a company or a person; pass its id as companyId) holds, as of a date; "
                                  "largest integrated share first, then id, a page at a time.")
    def holdings(self, info: Ctx, company_id: strawberry.ID, as_of: AsOf = None, first: HoldingsFirst = None,
                 after: HoldingsAfter = None) -> list[gt.Holding]:
        return _holdings(info, info.context.graph.holdings_page, company_id, as_of, first, after)

    @resolver(description="The ultimate owners of a company as of a date: owners with integrated share >= threshold "
                          "(default 0.25) that no other such owner controls or holds entirely (docs/analytics.md).")
    def ultimate_owners(self, info: Ctx, company_id: strawberry.ID, as_of: AsOf = None,
                        threshold: Annotated[float | None, strawberry.argument(
                            description="Smallest integrated share of an ultimate owner, above 0 and at most 1 (default 0.25).")] = None
                        ) -> list[gt.Holding]:
        level = 0.25 if threshold is None else threshold
        if not 0.0 < level <= 1.0:
            raise LimitExceeded(f"threshold must be above 0 and at most 1, got {level}")
        found = info.context.graph.ultimate_owners(company_id, as_of, level)
        return [gt.holding_from(h, len(found)) for h in found]

    @resolver(description="Companies where a declared indirect share (BODS) or ultimate parent (GLEIF) disagrees with corpgraph's own integrated share or controlling parent, by company id.")
    def declared_disagreements(self, info: Ctx, as_of: AsOf = None, first: First = None,
                               after: After = None) -> gt.Connection[gt.DeclaredDisagreement]:
        limit = info.context.settings.first(first, default=20)
        found, more = info.context.graph.declared_disagreements(as_of, after, limit)
        cursor = found[-1].company if found else None
        return gt.Connection(nodes=[gt.disagreement_from(d) for d in found],
                             page_info=gt.PageInfo(end_cursor=cursor, has_next_page=more))

    @resolver(description="Everyone liable for an incident: responsible companies, their owners, data recipients, perpetrators.")
    def liability_chain(self, info: Ctx, incident_id: strawberry.ID, as_of: AsOf = None,
                        max_depth: MaxDepth = None, min_share: float | None = None,
                        max_owners: int | None = None,
                        min_hop_share: Annotated[float | None, strawberry.argument(
                            description="Displayed paths only: every known hop share at least this, 0..1 (default 0); "
                                        "never changes a weight.")] = None) -> gt.LiabilityChain:
        settings = info.context.settings
        chain = info.context.graph.liability_chain(
            incident_id, as_of, max_depth=settings.depth(max_depth, settings.max_graph_depth),
            min_share=settings.share("minShare", min_share), max_owners=settings.owners(max_owners),
            min_hop_share=settings.share("minHopShare", min_hop_share),
            bounds=asks_bounds(info), paths=asks_paths(info))
        return gt.chain_from(chain)

    @resolver(description="Incidents an entity is exposed to, through ownership, dependency or data flow.")
    def exposure(self, info: Ctx, entity_id: strawberry.ID, as_of: AsOf = None,
                 channels: list[Channel] | None = None, max_depth: MaxDepth = None) -> gt.Exposure:
        settings = info.context.settings
        answer = info.context.graph.exposure(entity_id, as_of, channels=channels,
                                             max_depth=settings.depth(max_depth, settings.max_graph_depth),
                                             bounds=asks_bounds(info))
        return gt.exposure_from(answer)

    @resolver(description="Entities within `depth` relations of an entity (default 1) and the relations between them.")
    def neighborhood(self, info: Ctx, id: strawberry.ID, depth: int | None = None,
                     relation_types: list[RelationType] | None = None) -> gt.Graph:
        settings = info.context.settings
        graph = info.context.graph.neighborhood(id, settings.depth(depth, 1, name="depth"), relation_types,
                                                max_nodes=settings.max_nodes)
        return gt.graph_from(graph)

    @resolver(description="Incidents ordered by id, optionally of one category and within dates (inclusive).")
    def incidents(self, info: Ctx, category: IncidentCategory | None = None,
                  from_: Annotated[date | None, strawberry.argument(name="from")] = None, to: date | None = None,
                  first: First = None, after: After = None) -> gt.Connection[gt.Incident]:
        page = info.context.graph.incidents(category, from_, to, info.context.settings.first(first), after)
        return gt.connection_from(page)

    @resolver(description="Open candidates for matching: entities that may be the same, highest score first.")
    def resolve_candidates(self, info: Ctx, min_score: float | None = None,
                           first: First = None) -> list[gt.MatchCandidate]:
        limit = info.context.settings.first(first)
        found = matching.open_candidates(info.context.graph, min_score or 0.0)
        return [gt.candidate_from(c) for c in found.candidates[:limit]]

    @resolver(description="Links identity did not follow because a DIFFERENT decision (or a difference of type) keeps two entities apart.")
    def identity_conflicts(self, info: Ctx) -> list[gt.IdentityConflict]:
        return [gt.IdentityConflict(a=strawberry.ID(c.a), b=strawberry.ID(c.b), link=c.link, reason=c.reason)
                for c in info.context.graph.identity().conflicts]

    @resolver(description="Companies ordered by id, a page at a time.")
    def companies(self, info: Ctx, first: First = None, after: After = None) -> gt.Connection[gt.Company]:
        return gt.connection_from(info.context.graph.companies(info.context.settings.first(first), after))


@strawberry.type(description="Writes; they need the header 'Authorization: Bearer <token>'.")
class Mutation:
    @mutation(description="Upsert entity and relation records (the loader's JSON format, `type` included); all or nothing.")
    def upsert_records(self, info: Ctx, records: list[JSON]) -> gt.UpsertResult:
        info.context.require_token()
        settings = info.context.settings
        if len(records) > settings.max_upsert:
            raise LimitExceeded(f"at most {settings.max_upsert} records per mutation, got {len(records)}; split them")
        summary = info.context.graph.write(_validated(records))
        return gt.UpsertResult(entities=sum(summary.entities.values()), relations=sum(summary.relations.values()))

    @mutation(description="Record a matching decision: SAME merges the two entities, DIFFERENT keeps them apart for good.")
    def resolve_decision(self, info: Ctx, a: strawberry.ID, b: strawberry.ID, verdict: MatchVerdict) -> gt.MatchDecision:
        info.context.require_token()
        decide = matching.merge if verdict is MatchVerdict.SAME else matching.split
        j = decide(info.context.graph, a, b, "api")
        return gt.MatchDecision(a=strawberry.ID(j.a), b=strawberry.ID(j.b), verdict=j.verdict.value, by=j.by, at=j.at)


def _holdings(info: Ctx, page_of: Callable[..., HoldingPage], id: str, as_of: date | None, first: int | None,
              after: str | None) -> list[gt.Holding]:
    """One page of owners or holdings as GraphQL objects, each carrying its cursor and the count of all pages."""
    page = page_of(id, as_of, info.context.settings.holdings_page(first), after, bounds=asks_bounds(info))
    return [gt.holding_from(h, page.count) for h in page.items]


class Schema(strawberry.Schema):
    """strawberry's Schema, logging only the errors it masks (a client's own mistakes are not server errors)."""

    documents: DocumentCache  # parsed documents by query text, shared by the guard and the app's lane choice
    page_sizes: dict[str, int]

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log unexpected errors with their tracebacks; skip validation errors and project errors."""
        super().process_errors([e for e in errors if should_mask_error(e)], execution_context)


def make_schema(settings: ApiSettings) -> Schema:
    """The schema with the limits, caches, masking and switches the settings ask for."""
    config = StrawberryConfig(disable_field_suggestions=not settings.suggestions)
    documents = DocumentCache(settings.cache_bytes)  # one per schema, shared by its requests
    schema = Schema(Query, Mutation, config=config, extensions=_extensions(settings, documents),
                    types=[gt.Company, gt.Person, gt.Organization, gt.Actor, gt.Incident])
    schema.documents, schema.page_sizes = documents, page_sizes(settings)
    return schema


def page_sizes(settings: ApiSettings) -> dict[str, int]:
    """The default `first` of every paged field (what the cost check multiplies a paged selection by)."""
    return {**PAGE_SIZES, "owners": settings.holdings_first, "holdings": settings.holdings_first}


def sdl() -> str:
    """The schema's SDL, as committed to schema.graphql (regenerate: `python -m api.graphql_schema > schema.graphql`)."""
    return make_schema(ApiSettings()).as_str() + "\n"


def error_answer(error: CorpgraphError) -> tuple[int, str]:
    """HTTP status and GraphQL code of a project error: the two attributes its class carries (schema/errors.py)."""
    return error.http_status, error.code


class ErrorCodes(SchemaExtension):
    """Tag errors raised on purpose with `extensions.code` (and `problems` for bad input) for clients to branch on."""

    def on_operation(self) -> Iterator[None]:
        """After the operation: add the code of each project error."""
        yield
        for error in getattr(self.execution_context.result, "errors", None) or []:
            original = error.original_error
            if isinstance(original, CorpgraphError):
                extra: dict[str, Any] = {"code": error_answer(original)[1]}
                if isinstance(original, InvalidInput):
                    extra["problems"] = [str(p) for p in original.problems]
                error.extensions = {**(error.extensions or {}), **extra}


def should_mask_error(error: GraphQLError) -> bool:
    """Hide exceptions raised by accident inside resolvers; keep our errors and GraphQL's own messages."""
    original = error.original_error
    if original is None or error.path is None:
        # No original: a GraphQL validation/execution message. No path: input coercion before execution.
        return False
    return not isinstance(original, (CorpgraphError, GraphQLError))


def _extensions(settings: ApiSettings, documents: DocumentCache) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    """Extension factories, in order: the document guard (cache, limits), error masking, codes, introspection switch."""
    pages = page_sizes(settings)
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: DocumentGuard(documents, settings, pages),
        lambda: MaskErrors(should_mask_error=should_mask_error, error_message="Internal error; it has been logged."),
        ErrorCodes,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return extensions


def _validated(records: list[Any]) -> Batch:
    """A batch from raw records, validated exactly as the loader does; InvalidInput lists every problem."""
    problems = [Problem(MUTATION_LABEL, i, "(record)", "expected a JSON object")
                for i, raw in enumerate(records, start=1) if not isinstance(raw, dict)]
    batch, more = validate_records(MUTATION_LABEL, [(i, raw) for i, raw in enumerate(records, start=1)
                                                    if isinstance(raw, dict)])
    if problems or more:
        raise InvalidInput(sorted(problems + more, key=lambda p: p.line))
    return batch


if __name__ == "__main__":
    print(sdl(), end="")
