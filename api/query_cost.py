"""What a GraphQL document asks for once its fragments are expanded (cost, depth, aliases), measured in linear time.

A fragment that spreads another fragment 15 times, five levels deep, expands to 15^5 = 759,375 copies of
the innermost fields although the text is a few hundred characters. Walking the expansion (as
strawberry's depth and alias limiters do) takes time in the size of the expansion; here each fragment is
measured once and its measure reused at every spread, so the check takes time in the size of the text.

- **cost**: the number of fields asked for, every fragment spread counted as often as it is spread; a
  field that takes a page size (`first`) counts its selection once per item of the page.
- **depth**: the longest chain of nested fields (root fields at 0), introspection fields not counted
  (GraphiQL's own schema query nests `ofType` deeply and is cheap).
- **aliases**: the number of aliased fields in the expansion (pages do not multiply them).

Example: `fragment F on Query { entity(id: "a") { id name } }` spread twice in `{ ...F ...F }` costs
2 x (1 + 2) = 6 (each `entity` field and its two children), has depth 1 and no aliases.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

CAP = 1 << 62  # measures saturate here: a bomb's true expansion can have thousands of digits


@dataclass(frozen=True)
class Measure:
    """Cost, depth and aliases of a selection set once expanded."""

    cost: int = 0
    depth: int = 0
    aliases: int = 0

    def plus(self, other: Measure) -> Measure:
        """Two sibling selections together: costs and aliases add up, the deeper one sets the depth."""
        return Measure(min(self.cost + other.cost, CAP), max(self.depth, other.depth),
                       min(self.aliases + other.aliases, CAP))


def measure_operations(document: DocumentNode, variables: Mapping[str, Any] | None,
                       page_sizes: Mapping[str, int]) -> dict[str, Measure]:
    """Each operation's measure, by name ('anonymous' for an unnamed one).

    `page_sizes` gives the default `first` of each field that takes one (a literal or a variable in the
    document wins). Unknown or cyclic fragment spreads count nothing: validation reports them later.
    """
    walker = _Walker(document, variables or {}, page_sizes)
    return {(op.name.value if op.name else "anonymous"): walker.selections(op.selection_set)
            for op in document.definitions if isinstance(op, OperationDefinitionNode)}


class _Walker:
    """One pass over a document; each fragment's measure is computed once and memoised."""

    def __init__(self, document: DocumentNode, variables: Mapping[str, Any], page_sizes: Mapping[str, int]) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables, self.page_sizes = variables, page_sizes
        self.memo: dict[str, Measure] = {}
        self.open: set[str] = set()  # fragments being measured: a spread of one of them is a cycle

    def selections(self, node: SelectionSetNode | None) -> Measure:
        """The measure of a selection set: its fields, inline fragments and fragment spreads together."""
        total = Measure()
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                total = total.plus(self.field(selection))
            elif isinstance(selection, InlineFragmentNode):
                total = total.plus(self.selections(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                total = total.plus(self.fragment(selection.name.value))
        return total

    def field(self, node: FieldNode) -> Measure:
        """A field: 1 plus its selection (times its page size), one level deeper than its selection."""
        inner = self.selections(node.selection_set) if node.selection_set else Measure()
        items = self._page_size(node)
        introspection = node.name.value.startswith("__")
        depth = 0 if introspection or node.selection_set is None else inner.depth + 1
        return Measure(min(1 + items * inner.cost, CAP), depth, min(inner.aliases + (1 if node.alias else 0), CAP))

    def fragment(self, name: str) -> Measure:
        """A named fragment's measure, computed on its first spread only."""
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.open:
            return Measure()
        self.open.add(name)
        self.memo[name] = found = self.selections(definition.selection_set)
        self.open.discard(name)
        return found

    def _page_size(self, node: FieldNode) -> int:
        """How many items a field's selection is asked for: its `first` argument, or the field's default."""
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return min(max(1, int(value.value)), CAP)
            if isinstance(value, VariableNode) and isinstance(self.variables.get(value.name.value), int):
                return min(max(1, int(self.variables[value.name.value])), CAP)
        return self.page_sizes.get(node.name.value, 1)
