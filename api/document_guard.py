"""The schema extension that guards every document: parse and validate through the byte-bounded cache, and refuse
documents above the cost, depth or alias limits before validation runs (validation itself can be slow on a
fragment bomb), in time linear in the document's size."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.errors import LimitExceeded

from api.doc_cache import CachedDocument, DocumentCache
from api.query_cost import measure_operations
from api.settings import ApiSettings


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
            self.entry = self.cache.get(context.query)
            if self.entry is None:
                document = parse(context.query, max_tokens=self.settings.max_tokens)
                self.entry = self.cache.put(context.query, document)
            context.graphql_document = self.entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        """Refuse a document over a limit without validating it; otherwise validate once per query text."""
        context = self.execution_context
        assert context.graphql_document is not None
        refused = limit_error(context.graphql_document, context.variables, self.settings, self.page_sizes)
        if refused is not None:
            context.pre_execution_errors = [refused]
        elif self.entry is not None:
            if self.entry.errors is None:
                errors = validate_document(context.schema._schema, context.graphql_document, context.validation_rules)
                self.cache.validated(context.query or "", self.entry, errors)
            context.pre_execution_errors = list(self.entry.errors or [])
        yield


def limit_error(document: Any, variables: Mapping[str, Any] | None, settings: ApiSettings,
                page_sizes: Mapping[str, int]) -> GraphQLError | None:
    """The first limit the document breaks, as a GraphQL error carrying LimitExceeded; None when within them all."""
    try:
        measures = measure_operations(document, variables, page_sizes)
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


def _refused(message: str) -> GraphQLError:
    """A GraphQL error for a broken limit (its code, LIMIT_EXCEEDED, is added with the other project errors)."""
    return GraphQLError(message, original_error=LimitExceeded(message))
