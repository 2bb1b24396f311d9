"""graphql-core's execution with a shortcut for lists of plain objects: the same JSON, built without a resolve info,
a path and an awaitable check per field.

A liability chain's `parties { entity { id } role weight }` and an exposure page's `items { incident { id } channel
weight cursor }` are lists of dataclasses whose fields are plain attributes (strawberry's default resolvers) or an
entity already read for the whole answer (graphql_types.DIRECT_ENTITY_FIELDS). graphql-core completes every one of
those fields through the general machinery (profiled at 200k: a third of a liabilityChain request's server time).

A list qualifies when every field selected on its items (after @skip/@include and fragments) is `__typename`, a leaf
(scalar or enum) read by a default resolver, or an object read by a resolver marked CONTEXT_ONLY whose own selection
qualifies in turn. Anything else a list meets (an item that is not of its type, a null where the schema says
non-null, a value its scalar refuses, an entity not read yet, an error) sends the whole list back to graphql-core,
which computes it again from the start and reports exactly what it always did: the shortcut never answers an error.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# Marks a graphql-core resolver that reads nothing of its `info` but `info.context`, and so may be called with the
# list's info (graphql_types.direct_resolver sets it).
CONTEXT_ONLY = "_corpgraph_context_only"


class _Fallback(Exception):
    """This list leaves the shortcut: graphql-core completes it from the start."""


class FastListExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with complete_list_value taking the shortcut where a list qualifies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (object type, id of a field group) -> its plan or None; the field group is kept alive with it, so its
        # id cannot be reused during the execution (graphql-core memoises collect_subfields the same way).
        self._plans: dict[tuple[str, int], tuple[Any, _Plan | None]] = {}

    def complete_list_value(self, return_type: GraphQLList[GraphQLOutputType], field_details_list: Any, info: Any,
                            path: Any, result: Any, position_context: Any) -> Any:
        """The list's items completed by their plan when the list qualifies, else as graphql-core does."""
        item_type, nullable = _unwrapped(return_type.of_type)
        plan = self._plan(item_type, field_details_list) if is_object_type(item_type) else None
        if plan is not None and isinstance(result, (list, tuple)):
            try:
                return [None if item is None and nullable else plan.complete(item, info) for item in result]
            except Exception:  # noqa: BLE001 - not hidden: graphql-core below meets it again and reports it
                pass
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)

    def _plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        """The plan of one object type under one field group (None: it does not qualify), made once per execution."""
        key = (object_type.name, id(field_details_list))
        kept = self._plans.get(key)
        if kept is None:
            kept = self._plans[key] = (field_details_list, self._make_plan(object_type, field_details_list))
        return kept[1]

    def _make_plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        """Work out how each selected field of the object type is completed, or None if one cannot be."""
        grouped, deferred, _ = self.collect_subfields(object_type, field_details_list)
        if deferred:
            return None
        steps = []
        for name, group in grouped.items():
            step = self._step(object_type, group)
            if step is None:
                return None
            steps.append((name, *step))
        return _Plan(self, object_type, steps)

    def _step(self, parent: GraphQLObjectType, group: Any) -> tuple[Callable[..., Any] | None, Any, bool] | None:
        """(resolver, what completes its value, nullable) of one selected field; None when it does not qualify."""
        node = group[0].node
        if node.name.value == "__typename":
            return None, parent.name, False
        field = parent.fields.get(node.name.value)
        if field is None or field.args or node.arguments or field.resolve is None:
            return None
        manager = self.middleware_manager
        if manager is not None and manager.get_field_resolver(field.resolve) is not field.resolve:
            return None  # an extension wraps every resolver: each field must go through it
        field_type, nullable = _unwrapped(field.type)
        if is_leaf_type(field_type) and getattr(field.resolve, "_is_default", False):
            return field.resolve, field_type, nullable
        if not getattr(field.resolve, CONTEXT_ONLY, False):
            return None
        kinds = self.schema.get_possible_types(field_type) if is_abstract_type(field_type) else [field_type]
        if not all(is_object_type(k) and self._plan(k, group) is not None for k in kinds):
            return None
        return field.resolve, (field_type, group), nullable

    def _nested(self, field_type: GraphQLObjectType | GraphQLAbstractType, group: Any, value: Any,
                info: Any) -> dict[str, Any]:
        """An object field's value completed by the plan of its runtime type."""
        if isinstance(field_type, GraphQLObjectType):
            runtime = field_type
        else:
            resolve_type = field_type.resolve_type or self.type_resolver
            name = resolve_type(value, info, field_type)
            if not isinstance(name, str):
                raise _Fallback  # awaitable or invalid: graphql-core resolves and reports it
            runtime = self.ensure_valid_runtime_type(name, field_type, group, info, value)
        plan = self._plan(runtime, group)
        if plan is None:
            raise _Fallback
        return plan.complete(value, info)


class _Plan:
    """How to complete one object of a type under one selection: (response name, resolver, completion, nullable)."""

    def __init__(self, execution: FastListExecution, object_type: GraphQLObjectType,
                 steps: list[tuple[str, Callable[..., Any] | None, Any, bool]]) -> None:
        self.execution, self.object_type, self.steps = execution, object_type, steps

    def complete(self, item: Any, info: Any) -> dict[str, Any]:
        """The completed object (raises _Fallback, or the error met, when graphql-core must do it)."""
        is_type_of = self.object_type.is_type_of
        if item is None or (is_type_of is not None and is_type_of(item, info) is not True):
            raise _Fallback
        execution = self.execution
        out: dict[str, Any] = {}
        for name, resolve, completion, nullable in self.steps:
            if resolve is None:
                out[name] = completion  # __typename
                continue
            value = resolve(item, info)
            if execution.is_awaitable(value):
                getattr(value, "close", lambda: None)()  # a coroutine never started: nothing of it ran
                raise _Fallback
            if value is None or value is Undefined:
                if not nullable:
                    raise _Fallback
                out[name] = None
            elif isinstance(value, Exception):
                raise _Fallback
            elif isinstance(completion, tuple):
                out[name] = execution._nested(completion[0], completion[1], value, info)
            else:
                out[name] = execution.complete_leaf_value(completion, value)
        return out



def _unwrapped(kind: Any) -> tuple[Any, bool]:
    """(the type inside a non-null wrapper, whether it was nullable)."""
    if isinstance(kind, GraphQLNonNull):
        return kind.of_type, False
    return kind, True

