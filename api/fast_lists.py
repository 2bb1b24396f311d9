"""graphql-core's execution with a shortcut for lists of plain objects: the same JSON, built without a resolve info,
a path and an awaitable check per field.

A liability chain's `parties { entity { id } role weight }` and an exposure page's `items { incident { id } channel
weight cursor }` are lists of dataclasses whose fields are plain attributes (strawberry's default resolvers) or an
entity already read for the whole answer (graphql_types.DIRECT_ENTITY_FIELDS). graphql-core completes every one of
those fields through the general machinery (profiled at 200k: a third of a liabilityChain request's server time).

Plans are kept with the parsed document (api/doc_cache.py keeps one DocumentNode per query text) and reused by every
request that executes it, for a document without directives: @skip/@include (and @defer) are the only way variables
change which fields a selection collects, so without them a plan depends on the document and the schema alone.
Making them again per request was ~5% of a small exposure request's server time (200k, `benchmarks/graphql_http.py`).

A list qualifies when every field selected on its items (after @skip/@include and fragments) is `__typename`, a leaf
(scalar or enum) read by a default resolver, or an object read by a resolver marked CONTEXT_ONLY whose own selection
qualifies in turn. Anything else a list meets (an item that is not of its type, a null where the schema says
non-null, a value its scalar refuses, an entity not read yet, an error) sends the whole list back to graphql-core,
which computes it again from the start and reports exactly what it always did: the shortcut never answers an error.
"""
from __future__ import annotations

import weakref
from math import isfinite
from collections.abc import Callable
from enum import Enum
from operator import attrgetter
from types import CoroutineType, FunctionType, GeneratorType
from typing import Any, cast

from graphql import (
    DocumentNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    Node,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)
from graphql.pyutils import Undefined
from graphql.type.scalars import serialize_boolean, serialize_float, serialize_id, serialize_string
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# Marks a graphql-core resolver that reads nothing of its `info` but `info.context`, and so may be called with the
# list's info (graphql_types.direct_resolver sets it).
CONTEXT_ONLY = "_corpgraph_context_only"
# How a plan step reads its value: the item's attribute (a default resolver), or a CONTEXT_ONLY resolver's call.
_ATTRIBUTE, _RESOLVER, _TYPENAME = "attribute", "resolver", "typename"
_PLAIN: set[type] = set()  # types is_awaitable found never awaitable, whatever the object (see _type_decides)
# Plans made for a document, by schema then by id(document): (object type, ids of the field nodes of a group) -> plan
# or None. An entry goes when its document is freed (weakref callback), so an id is never read for another document;
# the key's field nodes are the document's own, alive with it.
_SHARED: weakref.WeakKeyDictionary[GraphQLSchema, dict[int, dict[tuple[Any, ...], _Plan | None] | None]] = \
    weakref.WeakKeyDictionary()
_UNSEEN = object()  # a document shared_plans has not looked at yet
# graphql-core's coercions of the built-in scalars, and the one value type each returns unchanged (the same object: its
# first branch; serialize_float's `float(value)` of a finite float too). Any other value goes through the coercion
# itself. graphql-core's complete_leaf_value around it refuses only None and Undefined.
_UNCHANGED: dict[Any, type] = {serialize_float: float, serialize_string: str, serialize_id: str, serialize_boolean: bool}


class _Fallback(Exception):
    """This list leaves the shortcut: graphql-core completes it from the start."""


class FastListExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with complete_list_value taking the shortcut where a list qualifies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = is_awaitable  # type: ignore[assignment]  # graphql-core's check, once per type
        # (object type, id of a field group) -> its plan or None; the field group is kept alive with it, so its
        # id cannot be reused during the execution (graphql-core memoises collect_subfields the same way).
        self._plans: dict[tuple[str, int], tuple[Any, _Plan | None]] = {}
        self._shared: dict[tuple[Any, ...], _Plan | None] | None = None  # the document's plans (build sets them)

    @classmethod
    def build(cls, schema: GraphQLSchema, document: DocumentNode, *args: Any, **kwargs: Any) -> Any:
        """graphql-core's executor for one request, with the plans already made for its document (if it may share)."""
        built = super().build(schema, document, *args, **kwargs)
        if isinstance(built, FastListExecution):
            built._shared = shared_plans(schema, document)
        return built

    def complete_list_value(self, return_type: GraphQLList[GraphQLOutputType], field_details_list: Any, info: Any,
                            path: Any, result: Any, position_context: Any) -> Any:
        """The list's items completed by their plan when the list qualifies, else as graphql-core does."""
        item_type, nullable = _unwrapped(return_type.of_type)
        plan = self._plan(item_type, field_details_list) if is_object_type(item_type) else None
        if plan is not None and isinstance(result, (list, tuple)):
            try:
                return [None if item is None and nullable else plan.complete(item, info, self) for item in result]
            except Exception:  # noqa: BLE001 - not hidden: graphql-core below meets it again and reports it
                pass
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)

    def _plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        """The plan of one object type under one field group (None: it does not qualify), looked up once per
        execution: the document's own when it shares its plans, else made for this execution."""
        key = (object_type.name, id(field_details_list))
        kept = self._plans.get(key)
        if kept is None:
            kept = self._plans[key] = (field_details_list, self._document_plan(object_type, field_details_list))
        return kept[1]

    def _document_plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        """The plan kept with the document for this type and these field nodes, made (and kept) on first use."""
        shared = self._shared
        if shared is None or any(d.fragment_variable_values is not None for d in field_details_list):
            return self._make_plan(object_type, field_details_list)
        key = (object_type.name, *(id(d.node) for d in field_details_list))
        if key not in shared:
            shared[key] = self._make_plan(object_type, field_details_list)
        return shared[key]

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
        return _Plan(object_type, steps)

    def _step(self, parent: GraphQLObjectType, group: Any) -> tuple[str, Callable[..., Any] | None, Any, bool] | None:
        """(how it is read, its reader, what completes its value, nullable) of one selected field; None when it does
        not qualify."""
        node = group[0].node
        if node.name.value == "__typename":
            return _TYPENAME, None, parent.name, False
        field = parent.fields.get(node.name.value)
        if field is None or field.args or node.arguments or field.resolve is None:
            return None
        manager = self.middleware_manager
        if manager is not None and manager.get_field_resolver(field.resolve) is not field.resolve:
            return None  # an extension wraps every resolver: each field must go through it
        field_type, nullable = _unwrapped(field.type)
        if is_leaf_type(field_type) and getattr(field.resolve, "_is_default", False):
            read = _attribute_reader(field)
            return None if read is None else (_ATTRIBUTE, read, self._leaf(field_type), nullable)
        if not getattr(field.resolve, CONTEXT_ONLY, False):
            return None
        # An abstract type's plans are made for the runtime types met (_Nested; one that does not qualify sends the
        # list back): making one for each of Entity's five types per request was a fifth of a small exposure's work.
        if is_abstract_type(field_type):
            return _RESOLVER, field.resolve, _Nested(field_type, group, None), nullable
        plan = self._plan(field_type, group) if is_object_type(field_type) else None
        return None if plan is None else (_RESOLVER, field.resolve, _Nested(field_type, group, plan), nullable)

    def _leaf(self, leaf_type: Any) -> Callable[[Any], Any]:
        """How a leaf field's value is completed: graphql-core's complete_leaf_value, an enum's remembered per member
        (strawberry's enum type searches its values for each, ~1.4 us a party's role), and a built-in scalar's value
        of the one type its coercion returns as it is (a party's weight, an entity's id) taken as it is."""
        complete = self.complete_leaf_value
        if not isinstance(leaf_type, GraphQLEnumType):
            kind = _UNCHANGED.get(getattr(leaf_type, "coerce_output_value", None))
            if kind is None:
                return lambda value: complete(leaf_type, value)
            if kind is float:  # serialize_float refuses NaN and infinities: those go to graphql-core, which reports them
                return lambda value: value if type(value) is float and isfinite(value) else complete(leaf_type, value)
            return lambda value: value if type(value) is kind else complete(leaf_type, value)
        names: dict[tuple[type, Enum], Any] = {}  # by class too: members of two str enums can be equal

        def member(value: Any) -> Any:
            if not isinstance(value, Enum):
                return complete(leaf_type, value)
            key = (type(value), value)
            name = names.get(key)
            if name is None:
                name = names[key] = complete(leaf_type, value)
            return name

        return member

    def _runtime_plan(self, name: Any, field_type: GraphQLAbstractType, group: Any, info: Any, value: Any) -> _Plan:
        """The plan of the object type an abstract field's resolve_type named, checked by graphql-core (a refusal
        raises); _Fallback when the name is not one (awaitable or invalid) or that type's selection does not qualify."""
        if not isinstance(name, str):
            raise _Fallback  # graphql-core resolves and reports it
        plan = self._plan(self.ensure_valid_runtime_type(name, field_type, group, info, value), group)
        if plan is None:
            raise _Fallback
        return plan


class _Nested:
    """How an object field's value is completed: by its object type's plan, or by the plan of the runtime type an
    abstract type's resolve_type names, remembered per name (the schema alone decides graphql-core's check of it, and
    the plan is the document's), so a party's entity costs no lookup of its type's plan after the first."""

    def __init__(self, field_type: GraphQLObjectType | GraphQLAbstractType, group: Any, plan: _Plan | None) -> None:
        self.field_type, self.group, self.plan = field_type, group, plan  # plan: an object type's; None if abstract
        self.by_name: dict[str, _Plan] = {}

    def complete(self, value: Any, info: Any, execution: FastListExecution) -> dict[str, Any]:
        """The value completed by its type's plan (raises _Fallback when graphql-core must do it)."""
        plan = self.plan
        if plan is None:
            field_type = cast(GraphQLAbstractType, self.field_type)
            name = (field_type.resolve_type or execution.type_resolver)(value, info, field_type)
            plan = self.by_name.get(name)  # type: ignore[arg-type]
            if plan is None:
                plan = self.by_name[name] = execution._runtime_plan(name, field_type, self.group, info, value)  # type: ignore[index]
        return plan.complete(value, info, execution)


class _Plan:
    """How to complete one object of a type under one selection: (response name, how it is read, its reader, what
    completes its value, nullable) a field. It holds nothing of the execution that made it (requests share it)."""

    def __init__(self, object_type: GraphQLObjectType,
                 steps: list[tuple[str, str, Callable[..., Any] | None, Any, bool]]) -> None:
        self.object_type, self.steps = object_type, tuple(steps)
        self.is_type_of = object_type.is_type_of

    def complete(self, item: Any, info: Any, execution: FastListExecution) -> dict[str, Any]:
        """The completed object (raises _Fallback, or the error met, when graphql-core must do it)."""
        is_type_of = self.is_type_of
        if item is None or (is_type_of is not None and is_type_of(item, info) is not True):
            raise _Fallback
        out: dict[str, Any] = {}
        for name, how, read, completion, nullable in self.steps:
            if how is _TYPENAME:
                out[name] = completion
                continue
            value = read(item) if how is _ATTRIBUTE else read(item, info)  # type: ignore[misc]
            if type(value) not in _PLAIN and is_awaitable(value):
                getattr(value, "close", lambda: None)()  # a coroutine never started: nothing of it ran
                raise _Fallback
            if value is None or value is Undefined:
                if not nullable:
                    raise _Fallback
                out[name] = None
            elif isinstance(value, Exception):
                raise _Fallback
            elif isinstance(completion, _Nested):
                out[name] = completion.complete(value, info, execution)
            else:
                out[name] = completion(value)
        return out


def shared_plans(schema: GraphQLSchema, document: DocumentNode) -> dict[tuple[Any, ...], _Plan | None] | None:
    """The plans every execution of this document under this schema shares (empty at first); None for a document
    with directives, whose plans may depend on its variables (that answer is kept too: one walk per document)."""
    by_document = _SHARED.get(schema)
    if by_document is None:
        by_document = _SHARED.setdefault(schema, {})
    key = id(document)
    plans = by_document.get(key, _UNSEEN)
    if plans is _UNSEEN:
        plans = by_document[key] = None if _has_directives(document) else {}
        weakref.finalize(document, by_document.pop, key, None)  # forgotten with the document, before its id is reused
    return plans  # type: ignore[return-value]


def _has_directives(document: DocumentNode) -> bool:
    """Whether any node of the document carries a directive (the walk follows every field of the nodes' classes)."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, Node):
            if getattr(node, "directives", None):
                return True
            stack.extend(getattr(node, key) for key in node.keys if key != "loc")
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return False


def is_awaitable(value: Any) -> bool:
    """graphql-core's awaitable check as strawberry passes it (optimized_is_awaitable), remembered per type where the
    type alone decides it: an answer's objects (parties, entities, enum values) are checked by the thousand."""
    kind = type(value)
    if kind in _PLAIN:
        return False
    found = optimized_is_awaitable(value)
    if not found and _type_decides(kind):
        _PLAIN.add(kind)
    return found


def _type_decides(kind: type) -> bool:
    """Whether no object of this type can be awaitable when one is not: neither a coroutine nor a generator, no
    `__await__` on the class, and no __getattr__ or Python __getattribute__ that could answer one. An `__await__`
    set on one object alone, which `await` itself ignores, is not looked for."""
    if issubclass(kind, (CoroutineType, GeneratorType)) or hasattr(kind, "__await__"):
        return False
    return not any("__getattr__" in vars(c) or isinstance(vars(c).get("__getattribute__"), FunctionType)
                   for c in kind.__mro__)


def _attribute_reader(field: Any) -> Callable[[Any], Any] | None:
    """How strawberry's basic-field resolver reads a field of an item (`field.default_resolver(item, python_name)`),
    without the two calls around it; None when the field is not such a field."""
    definition = (field.extensions or {}).get("strawberry-definition")
    if definition is None or definition.base_resolver is not None or definition.extensions:
        return None
    name, default = definition.python_name, definition.default_resolver
    if default is getattr:
        return attrgetter(name)
    return lambda item: default(item, name)


def _unwrapped(kind: Any) -> tuple[Any, bool]:
    """(the type inside a non-null wrapper, whether it was nullable)."""
    if isinstance(kind, GraphQLNonNull):
        return kind.of_type, False
    return kind, True

