"""The schema extension that guards every document: parse and validate through the byte-bounded cache, and refuse
documents above the cost, depth or alias limits before validation runs (validation itself can be slow on a
fragment bomb), in time linear in the document's size."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from corpgraph.schema.errors import LimitExceeded

from corpgraph.api.doc_cache import CachedDocument, DocumentCache
from corpgraph.api.lanes import Lane
from corpgraph.api.query_cost import Measure, measure_operations
from corpgraph.api.settings import ApiSettings

QUICK_COST = 500  # above this a document runs in the heavy lane even when it asks for no heavy field


class DocumentGuard(SchemaExtension):
    """Per request (made by a factory): cached parsing, the limits on the expanded document, cached validation."""

    def __init__(self, cache: DocumentCache, settings: ApiSettings, page_sizes: Mapping[str, int]) -> None:
        super().__init__()
        self.cache, self.settings, self.page_sizes = cache, settings, page_sizes
        self.entry: CachedDocument | None = None

    def on_parse(self) -> Iterator[None]:
        """Take the parsed document from the cache, or parse it (token limit applied) and cache it."""
        context = self.execution_context
        if context.graphql_document is None and context.query:
            earlier = getattr(context.context, "parsed", None)  # the app parsed it already to choose a lane
            self.entry = earlier if earlier is not None else parsed(self.cache, context.query, self.settings.max_tokens)
            context.graphql_document = self.entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        """Refuse a document over a limit without validating it; otherwise validate once per query text."""
        context = self.execution_context
        assert context.graphql_document is not None
        refused = limit_error(context.graphql_document, context.variables, self.settings, self.page_sizes, self.entry)
        if refused is not None:
            context.pre_execution_errors = [refused]
        elif self.entry is not None:
            if self.entry.errors is None:
                errors = validate_document(context.schema._schema, context.graphql_document, context.validation_rules)
                self.cache.validated(context.query or "", self.entry, errors)
            context.pre_execution_errors = list(self.entry.errors or [])
        yield


def parsed(cache: DocumentCache, query: str, max_tokens: int) -> CachedDocument:
    """The cached parse of a query text, parsing (within the token limit) and caching it on a miss."""
    return cache.get(query) or cache.put(query, parse(query, max_tokens=max_tokens))


def limit_error(document: Any, variables: Mapping[str, Any] | None, settings: ApiSettings,
                page_sizes: Mapping[str, int], entry: CachedDocument | None = None) -> GraphQLError | None:
    """The first limit the document breaks, as a GraphQL error carrying LimitExceeded; None when within them all.
    `entry`: the document's cache entry, whose measures are reused when the page sizes asked are the same."""
    try:
        measures = measured(document, variables, page_sizes, entry)
    except RecursionError:
        return _refused("the document nests fields or fragments too deeply to be measured; flatten it")
    for name, found in measures.items():
        if found.depth > settings.max_query_depth:
            return _refused(f"'{name}' exceeds maximum operation depth of {settings.max_query_depth}")
    aliases = sum(m.aliases for m in measures.values())
    if aliases > settings.max_aliases:
        return _refused(f"{aliases} aliases found. Allowed: {settings.max_aliases}")
    cost = sum(m.cost for m in measures.values())
    if cost > settings.max_cost:
        return _refused(f"the query costs {cost} (fields once fragments are expanded, a paged field's selection "
                        f"counted once per item of its page); the limit is {settings.max_cost}: ask for fewer "
                        "fields, smaller pages (`first`) or spread fragments fewer times")
    return None


def lane_of(document: DocumentNode, variables: Mapping[str, Any] | None, settings: ApiSettings,
            page_sizes: Mapping[str, int], heavy_fields: frozenset[str], entry: CachedDocument | None = None) -> Lane:
    """Where a document runs: mutations in the write lane; a document that asks for a heavy field (analytics,
    search) or costs more than QUICK_COST in the heavy lane; the rest (entities by id, browsing) in the quick lane.
    `entry`: the document's cache entry, which keeps its field names and measures for the next request."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if any(op.operation == OperationType.MUTATION for op in operations):
        return Lane.WRITE
    if entry is not None and entry.document is document:
        if entry.names is None:
            entry.names = frozenset(_names(document))
        names: frozenset[str] | set[str] = entry.names
    else:
        names = _names(document)
    if names & heavy_fields:
        return Lane.HEAVY
    try:
        cost = sum(m.cost for m in measured(document, variables, page_sizes, entry).values())
    except RecursionError:
        return Lane.HEAVY
    return Lane.HEAVY if cost > QUICK_COST else Lane.QUICK


def measured(document: DocumentNode, variables: Mapping[str, Any] | None, page_sizes: Mapping[str, int],
             entry: CachedDocument | None) -> dict[str, Measure]:
    """measure_operations of the document, or the entry's last measures when its `first` variables have the same
    values (the measure reads nothing else of the variables; page_sizes are the schema's, fixed). Raises
    RecursionError as measure_operations does, and then keeps nothing."""
    if entry is None or entry.document is not document:
        return measure_operations(document, variables, page_sizes)
    if entry.page_variables is None:
        entry.page_variables = _page_variables(document)
    given = variables or {}
    # as the walker reads them: an int counts, anything else leaves the field's default
    key = tuple(v if isinstance(v := given.get(name), int) else None for name in entry.page_variables)
    kept = entry.measured
    if kept is not None and kept[0] == key:
        return kept[1]
    found = measure_operations(document, variables, page_sizes)
    entry.measured = (key, found)
    return found


def _page_variables(document: DocumentNode) -> tuple[str, ...]:
    """Names of the variables given to `first` arguments anywhere in the document (fragments included)."""
    names: dict[str, None] = {}
    stack = [d.selection_set for d in document.definitions if isinstance(d, ExecutableDefinitionNode)]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                names.update((a.value.name.value, None) for a in selection.arguments or ()
                             if a.name.value == "first" and isinstance(a.value, VariableNode))
            if isinstance(selection, (FieldNode, InlineFragmentNode)) and selection.selection_set:
                stack.append(selection.selection_set)
    return tuple(names)


def _names(document: DocumentNode) -> set[str]:
    """Names of every field the document's text asks for (fragments included, each read once)."""
    names: set[str] = set()
    stack = [d.selection_set for d in document.definitions if isinstance(d, ExecutableDefinitionNode)]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            if isinstance(selection, (FieldNode, InlineFragmentNode)) and selection.selection_set:
                stack.append(selection.selection_set)
    return names


def _refused(message: str) -> GraphQLError:
    """A GraphQL error for a broken limit (its code, LIMIT_EXCEEDED, is added with the other project errors)."""
    return GraphQLError(message, original_error=LimitExceeded(message))
