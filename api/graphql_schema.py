"""The GraphQL schema: query and mutation roots (thin resolvers over graph/) and its safety extensions."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import FieldNode, FragmentSpreadNode, GraphQLError, GraphQLObjectType
from strawberry.extensions import DisableIntrospection, MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext

from corpgraph.graph import damage
from corpgraph.graph import screening
from corpgraph.graph.analytics.results import Channel, HoldingPage
from corpgraph.loaders.validate import validate_records
from corpgraph.schema.batch import Batch
from corpgraph.schema.errors import CorpgraphError, InvalidInput, LimitExceeded, Problem, TimedOut, UnreadableRecord
from corpgraph.schema.kinds import EntityType, IncidentCategory, RelationType
from corpgraph.schema.regimes import RULED

from corpgraph.api import graphql_sanctions as gs
from corpgraph.api import graphql_types as gt
from corpgraph.api.graphql_watch import Subscription
from corpgraph.api.doc_cache import DocumentCache
from corpgraph.api.field_decorators import mutation, resolver
from corpgraph.api.document_guard import DocumentGuard
from corpgraph.api.fast_lists import FastListExecution
from corpgraph.api.settings import EXPOSURE_FIRST, ApiSettings

_log = logging.getLogger(__name__)

Ctx = gt.Ctx
# Resolvers call the CorpGraph facade directly and synchronously: the app runs each whole operation in a
# worker thread with its own event loop (api/app.py, api/lanes.py), never on the server's event loop.
# CorpGraph and both stores are safe to share between threads.
MUTATION_LABEL = "mutation"  # the `file` of problems reported for records sent through a mutation


@strawberry.enum(description="A matching decision: the same entity, or never to be merged.")
class MatchVerdict(Enum):
    SAME = "same"
    DIFFERENT = "different"


# Owners and holdings page by settings.holdings_first; the other paged fields declare their `first` on the
# resolver (page_size), and the cost check counts a paged field's selection once per item of its page.
HOLDINGS_FIELDS = ("owners", "holdings")

# Arguments shared by several fields, described once.
AsOf = Annotated[date | None, strawberry.argument(description="Date the graph is taken at (YYYY-MM-DD); default today.")]
First = Annotated[int | None, strawberry.argument(description="Page size, 1..CORPGRAPH_API_MAX_FIRST (default 20; search: 10).")]
Topics = Annotated[list[str] | None, strawberry.argument(
    description="Only entities carrying any of these topics, exactly (sanction, role.pep, crime.fraud, ...).")]
After = Annotated[str | None, strawberry.argument(description="The endCursor of the previous page.")]
HoldingsFirst = Annotated[int | None, strawberry.argument(description="Page size, 1..CORPGRAPH_API_MAX_HOLDINGS_FIRST (default 100).")]
HoldingsAfter = Annotated[str | None, strawberry.argument(description="The `cursor` of the last Holding received; the page starts after it.")]
ExposureAfter = Annotated[str | None, strawberry.argument(description="The `cursor` of the last ExposureItem received; the page starts after it.")]
MaxDepth = Annotated[int | None, strawberry.argument(description="Longest path followed, 1..CORPGRAPH_API_MAX_GRAPH_DEPTH (default the maximum).")]


def asks_bounds(info: Ctx) -> bool:
    """Whether the selection under this field asks for a bound (a field declared NEEDS_BOUNDS)."""
    return _asks(info, info.schema.needs["bounds"])  # type: ignore[attr-defined]


def asks_paths(info: Ctx) -> bool:
    """Whether the selection under this field asks for paths, the subgraph or whether paths were cut short."""
    return _asks(info, info.schema.needs["paths"])  # type: ignore[attr-defined]


# Fields under liabilityChain and exposure that resolve to entities (read for the whole answer at once when asked)
_ENTITY_FIELDS = frozenset({"entity", "incident", "via"})
_ID_FIELDS = frozenset({"id", "__typename"})


def _asks(info: Ctx, names: frozenset[str]) -> bool:
    """Whether any of these field names is selected under this field (fragments and inline fragments included).

    Walks graphql-core's nodes of the request: strawberry's `info.selected_fields` converts every one of them
    (arguments, directives) first, ~4% of an exposure request for three names looked up.
    """
    raw = info._raw_info  # strawberry keeps graphql-core's resolve info here (no public accessor of its nodes)
    stack: list[Any] = list(raw.field_nodes)
    while stack:
        node = stack.pop()
        name = getattr(node, "name", None)
        if name is not None and name.value in names:  # a field's name, or a fragment spread's
            return True
        if isinstance(node, FragmentSpreadNode):
            node = raw.fragments[node.name.value]
        stack.extend(getattr(node.selection_set, "selections", None) or [])
    return False


def _fields(info: Ctx, nodes: list[Any], descend: Callable[[FieldNode], bool]) -> Iterator[FieldNode]:
    """Every field node among these nodes and under them (fragment spreads and inline fragments followed); a
    field's own selections are walked only when descend(field)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, FragmentSpreadNode):
            node = info._raw_info.fragments[node.name.value]
        elif isinstance(node, FieldNode):
            yield node
            if not descend(node):
                continue
        stack.extend(getattr(node.selection_set, "selections", None) or [])


def _selections_under(info: Ctx, names: frozenset[str]) -> list[Any] | None:
    """The selections of every field of these names under this field (fragments followed); None when none is."""
    under: list[Any] | None = None
    for found in _fields(info, list(info._raw_info.field_nodes), lambda f: f.name.value not in names):
        if found.name.value in names:
            under = [*(under or []), *(getattr(found.selection_set, "selections", None) or [])]
    return under


def _only_ids(info: Ctx, selections: list[Any]) -> bool:
    """Whether these selections (fragments and inline fragments followed) ask for nothing but `id` and `__typename`."""
    return all(f.name.value in _ID_FIELDS for f in _fields(info, selections, lambda f: False))


def _read_answer_entities(info: Ctx, ids: list[str]) -> None:
    """Read what the answer's entity fields need, if any is selected: only the ids' types when the fields select
    nothing but `id` (a record for each exists: the projection was built from them), else the records (a missing
    or unreadable one then fails as it always did)."""
    under = _selections_under(info, _ENTITY_FIELDS)
    if under is None:
        return
    if _only_ids(info, under):
        info.context.read_entity_types(ids)
    else:
        info.context.read_entities(ids)


@strawberry.type(description="Questions about companies, owners and incidents.")
class Query:
    @resolver(description="One entity by any of its ids, or by `SCHEME:ID` for one of its identifiers (LEI:..., GB-COH:...); null when none matches.")
    async def entity(self, info: Ctx, id: strawberry.ID) -> gt.Entity | None:
        record = await info.context.entities.load(id)
        return gt.entity_from_record(record) if record else None

    @resolver(description="Entities whose name or alias contains the text, in any script; exact matches first.", heavy=True, page_size=10)
    def search(self, info: Ctx, text: str, types: list[EntityType] | None = None,
               topics: Topics = None, first: First = None) -> list[gt.Entity]:
        limit = info.context.settings.first(first, default=10)
        with damage.collecting() as left_out:  # an unreadable match is left out and reported, not fatal
            found = info.context.graph.search(text, types, limit, topics)
        info.context.add_damage(left_out)
        return [gt.entity_from_record(e) for e in found]

    @resolver(description="Who owns a company, directly and through chains, as of a date (default today); "
                                  "largest integrated share first, then id, a page at a time.", heavy=True)
    def owners(self, info: Ctx, company_id: strawberry.ID, as_of: AsOf = None, first: HoldingsFirst = None,
               after: HoldingsAfter = None) -> list[gt.Holding]:
        return _holdings(info, info.context.graph.owners_page, company_id, as_of, first, after)

    @resolver(description="What an owner (a company or a person; pass its id as companyId) holds, as of a date; "
                                  "largest integrated share first, then id, a page at a time.", heavy=True)
    def holdings(self, info: Ctx, company_id: strawberry.ID, as_of: AsOf = None, first: HoldingsFirst = None,
                 after: HoldingsAfter = None) -> list[gt.Holding]:
        return _holdings(info, info.context.graph.holdings_page, company_id, as_of, first, after)

    @resolver(description="The ultimate owners of a company as of a date: owners with integrated share >= threshold "
                          "(default 0.25) that no other such owner controls or holds entirely (docs/analytics.md).", heavy=True)
    def ultimate_owners(self, info: Ctx, company_id: strawberry.ID, as_of: AsOf = None,
                        threshold: Annotated[float | None, strawberry.argument(
                            description="Smallest integrated share of an ultimate owner, above 0 and at most 1 (default 0.25).")] = None
                        ) -> list[gt.Holding]:
        level = 0.25 if threshold is None else threshold
        if not 0.0 < level <= 1.0:
            raise LimitExceeded(f"threshold must be above 0 and at most 1, got {level}")
        found = info.context.graph.ultimate_owners(company_id, as_of, level)
        info.context.report_damage([company_id, *(h.owner for h in found)])
        return [gt.from_result(h, count=len(found), cursor=h.cursor or "") for h in found]

    @resolver(description="Companies where a declared indirect share (BODS) or ultimate parent (GLEIF) disagrees with corpgraph's own integrated share or controlling parent, by company id.", page_size=20)
    def declared_disagreements(self, info: Ctx, as_of: AsOf = None, first: First = None,
                               after: After = None) -> gt.Connection[gt.DeclaredDisagreement]:
        limit = info.context.settings.first(first, default=20)
        found, more = info.context.graph.declared_disagreements(as_of, after, limit)
        cursor = found[-1].company if found else None
        return gt.Connection(nodes=[gt.from_result(d) for d in found],
                             page_info=gt.PageInfo(end_cursor=cursor, has_next_page=more))

    @resolver(description="Everyone liable for an incident: responsible companies, their owners, data recipients, perpetrators.", heavy=True)
    def liability_chain(self, info: Ctx, incident_id: strawberry.ID, as_of: AsOf = None,
                        max_depth: MaxDepth = None, min_share: float | None = None,
                        max_owners: int | None = None,
                        min_hop_share: Annotated[float | None, strawberry.argument(
                            description="Displayed paths only: every known hop share at least this, 0..1 (default 0); "
                                        "never changes a weight.")] = None) -> gt.LiabilityChain:
        with damage.collecting() as disagreeing:  # rows that disagree with their documents, met explaining paths
            chain = info.context.graph.liability_chain(
                incident_id, as_of, bounds=asks_bounds(info), paths=asks_paths(info),
                min_hop_share=info.context.settings.share("minHopShare", min_hop_share),
                **info.context.settings.liability_args(max_depth, min_share, max_owners))
        info.context.add_damage(disagreeing)
        ids = [chain.incident, *(p.entity for p in chain.parties)]
        info.context.report_damage([*ids, *(a for p in chain.parties for a in p.attributed_to)])
        _read_answer_entities(info, ids)
        return gt.from_result(chain)  # type: ignore[no-any-return]

    @resolver(description="Incidents an entity is exposed to, through ownership, dependency or data flow; items a "
                          "page at a time, largest weight x impact first (docs/analytics.md), totals over all of them.",
              heavy=True, page_size=EXPOSURE_FIRST)
    def exposure(self, info: Ctx, entity_id: strawberry.ID, as_of: AsOf = None,
                 channels: list[Channel] | None = None, max_depth: MaxDepth = None, first: First = None,
                 after: ExposureAfter = None) -> gt.Exposure:
        with damage.collecting() as disagreeing:  # rows that disagree with their documents, met explaining paths
            answer = info.context.graph.exposure(entity_id, as_of, channels=channels, bounds=asks_bounds(info),
                                                 paths=asks_paths(info), after=after,
                                                 **info.context.settings.exposure_args(max_depth, first))
        info.context.add_damage(disagreeing)
        info.context.report_damage([answer.entity, *(i.via for i in answer.items if i.via)])
        _read_answer_entities(info, [answer.entity, *(i.incident for i in answer.items),
                                     *(i.via for i in answer.items if i.via)])
        return gt.from_result(answer)  # type: ignore[no-any-return]

    @resolver(description="An entity's status under one regime's ownership-and-control rule (OFAC 50% aggregate; EU and UK owned more than 50% or controlled; docs/sanctions.md), with its aggregate share, bounds, contributors and their paths to a designation.", heavy=True)
    def sanctions_status(self, info: Ctx, entity_id: strawberry.ID,
                         regime: Annotated[str, strawberry.argument(description="OFAC, EU or UK.")],
                         as_of: AsOf = None) -> gs.SanctionsAnswer:
        return gs.answer_from(info.context.graph.sanctions_status(entity_id, regime, as_of))

    @resolver(description="Every entity a regime's rule blocks (or may block: UNDETERMINED) without a listing of its own, with the percentages, in id order.", heavy=True, page_size=20)
    def sanctioned_by_ownership(self, info: Ctx, regime: Annotated[str, strawberry.argument(description="OFAC, EU or UK.")],
                                as_of: AsOf = None, first: First = None, after: After = None) -> gs.SanctionedPage:
        page = info.context.graph.sanctioned_by_ownership(regime, as_of, info.context.settings.first(first), after)
        return gs.page_from(page)

    @resolver(description="Screen counterparties (at most CORPGRAPH_API_MAX_FIRST): each matched to an entity by the resolver's scoring, with its listings, its status under each regime and its incident exposure.", heavy=True)
    def screen(self, info: Ctx, counterparties: list[gs.CounterpartyInput], as_of: AsOf = None,
               regimes: Annotated[list[str] | None, strawberry.argument(description="Default OFAC, EU and UK.")] = None,
               min_score: Annotated[float | None, strawberry.argument(description="Lowest match score, 0..1 (default 0.7).")] = None,
               ) -> list[gs.ScreenResult]:
        info.context.settings.first(len(counterparties), default=1)  # LimitExceeded past max_first, like a page
        found = screening.screen(info.context.graph, gs.counterparties_from(counterparties), as_of,
                                 regimes or RULED, screening.MIN_SCORE if min_score is None else min_score)
        return [gs.screened_from(s) for s in found]

    @resolver(description="Entities within `depth` relations of an entity (default 1) and the relations between them.", heavy=True)
    def neighborhood(self, info: Ctx, id: strawberry.ID, depth: int | None = None,
                     relation_types: list[RelationType] | None = None) -> gt.Graph:
        graph = info.context.graph.neighborhood(id, relation_types=relation_types,
                                                **info.context.settings.neighborhood_args(depth))
        return gt.from_result(graph)  # type: ignore[no-any-return]

    @resolver(description="Incidents ordered by id, optionally of one category and within dates (inclusive).", page_size=20)
    def incidents(self, info: Ctx, category: IncidentCategory | None = None,
                  from_: Annotated[date | None, strawberry.argument(name="from")] = None, to: date | None = None,
                  first: First = None, after: After = None) -> gt.Connection[gt.Incident]:
        page = info.context.graph.incidents(category, from_, to, info.context.settings.first(first), after)
        return gt.connection_from(page)

    @resolver(description="Open candidates for matching: entities that may be the same, highest score first.", heavy=True, page_size=20)
    def resolve_candidates(self, info: Ctx, min_score: float | None = None,
                           first: First = None) -> list[gt.MatchCandidate]:
        limit = info.context.settings.first(first)
        found = info.context.graph.candidates(min_score or 0.0)
        return [gt.candidate_from(c) for c in found.candidates[:limit]]

    @resolver(description="Links identity did not follow because a DIFFERENT decision (or a difference of type) keeps two entities apart.")
    def identity_conflicts(self, info: Ctx) -> list[gt.IdentityConflict]:
        return [gt.IdentityConflict(a=strawberry.ID(c.a), b=strawberry.ID(c.b), link=c.link, reason=c.reason)
                for c in info.context.graph.identity().conflicts]

    @resolver(description="Companies ordered by id, a page at a time.", page_size=20)
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
        graph = info.context.graph
        j = (graph.merge if verdict is MatchVerdict.SAME else graph.split)(a, b, "api")
        return gt.MatchDecision(a=strawberry.ID(j.a), b=strawberry.ID(j.b), verdict=j.verdict.value, by=j.by, at=j.at)


def _holdings(info: Ctx, page_of: Callable[..., HoldingPage], id: str, as_of: date | None, first: int | None,
              after: str | None) -> list[gt.Holding]:
    """One page of owners or holdings as GraphQL objects, each carrying its cursor and the count of all pages."""
    page = page_of(id, as_of, info.context.settings.holdings_page(first), after, bounds=asks_bounds(info))
    ends = [end for h in page.items for end in (h.owner, h.company)]
    info.context.report_damage([id, *ends])
    # A holder no entity backs (a dangling relation) or one that cannot be read is left out and reported, so the
    # rest of the page is answered (its `owner`/`company` field could only fail, and take the whole list along).
    found, problems = info.context.graph.readable(ends)
    info.context.add_damage(problems)
    return [gt.from_result(h, count=page.count, cursor=h.cursor or "") for h in page.items
            if h.owner in found and h.company in found]


class Schema(strawberry.Schema):
    """strawberry's Schema, logging only the errors it masks (a client's own mistakes are not server errors)."""

    documents: DocumentCache  # parsed documents by query text, shared by the guard and the app's lane choice
    page_sizes: dict[str, int]  # the default `first` of every paged field (what the cost check multiplies by)
    heavy_fields: frozenset[str]  # fields declared heavy: a document asking for one runs in the heavy lane
    needs: dict[str, frozenset[str]]  # "bounds"/"paths": the fields whose selection asks for that work

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log unexpected errors with their tracebacks; skip validation errors and project errors."""
        super().process_errors([e for e in errors if should_mask_error(e)], execution_context)


def make_schema(settings: ApiSettings) -> Schema:
    """The schema with the limits, caches, masking and switches the settings ask for."""
    config = StrawberryConfig(disable_field_suggestions=not settings.suggestions)
    documents = DocumentCache(settings.cache_bytes)  # one per schema, shared by its requests
    pages: dict[str, int] = {}
    schema = Schema(Query, Mutation, Subscription, config=config, extensions=_extensions(settings, documents, pages),
                    types=[gt.Company, gt.Person, gt.Organization, gt.Actor, gt.Incident],
                    execution_context_class=FastListExecution)
    declared = _declared(schema)
    for (type_name, field_name), attribute in gt.DIRECT_ENTITY_FIELDS.items():
        owner = schema._schema.type_map[type_name]
        assert isinstance(owner, GraphQLObjectType)
        owner.fields[field_name].resolve = gt.direct_resolver(attribute)
    schema.documents = documents
    pages.update({name: meta["page_size"] for name, meta in declared if meta.get("page_size")})
    pages.update({name: settings.holdings_first for name in HOLDINGS_FIELDS})
    schema.page_sizes = pages
    schema.heavy_fields = frozenset(name for name, meta in declared if meta.get("heavy"))
    schema.needs = {need: frozenset(name for name, meta in declared if meta.get("needs") == need)
                    for need in ("bounds", "paths")}
    return schema


def _declared(schema: strawberry.Schema) -> list[tuple[str, dict[str, Any]]]:
    """(GraphQL name, metadata) of every field of every object type: what resolvers and fields declare."""
    out = []
    for named in schema._schema.type_map.values():
        for name, field in (getattr(named, "fields", None) or {}).items():
            definition = (field.extensions or {}).get("strawberry-definition")
            if definition is not None and getattr(definition, "metadata", None):
                out.append((name, dict(definition.metadata)))
    return out


def sdl() -> str:
    """The schema's SDL, as committed to schema.graphql (regenerate: `python -m corpgraph.api.graphql_schema > schema.graphql`)."""
    return make_schema(ApiSettings()).as_str() + "\n"


def error_answer(error: CorpgraphError) -> tuple[int, str]:
    """HTTP status and GraphQL code of a project error: the two attributes its class carries (schema/errors.py)."""
    return error.http_status, error.code


def public_message(error: CorpgraphError) -> str:
    """A project error's message for an HTTP client; when parts are withheld (a path), the whole goes to the log."""
    if error.private:
        _log.warning("%s: %s", error.code, error)
    return error.public()


class ErrorNotes(SchemaExtension):
    """After the operation, what `errors` tells clients beyond GraphQL's own: one UNREADABLE_RECORD error per record
    the answer left out because it is damaged in the store (Context.report_damage; the data stays as answered), then
    `extensions.code` (and `problems` for bad input) on every error raised on purpose, for clients to branch on.
    One extension for both: strawberry prepares every extension's hooks anew for each request."""

    def on_operation(self) -> Iterator[None]:
        """After the operation: the damage, then the codes (the damage errors carry theirs already)."""
        yield
        result, damage = self.execution_context.result, getattr(self.execution_context.context, "damage", None)
        if result is not None and damage:
            result.errors = [*(result.errors or []), *(GraphQLError(m, extensions={"code": UnreadableRecord.code})
                                                       for m in damage)]
        for error in getattr(result, "errors", None) or []:
            original = error.original_error
            if isinstance(original, CorpgraphError):
                extra: dict[str, Any] = {"code": error_answer(original)[1]}
                if original.private:
                    error.message = public_message(original)
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


def _extensions(settings: ApiSettings, documents: DocumentCache,
                pages: dict[str, int]) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    """Extension factories, in order: the document guard (cache, limits), error masking, damage and codes, introspection
    switch.

    `pages` is filled in once the schema is built (the resolvers declare their page sizes).
    """
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: DocumentGuard(documents, settings, pages),
        lambda: MaskErrors(should_mask_error=should_mask_error, error_message="Internal error; it has been logged."),
        ErrorNotes,
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
